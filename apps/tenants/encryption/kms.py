"""AWS KMS as the key-encryption key: data keys are wrapped and unwrapped by the KMS's Encrypt and
Decrypt calls, so the KEK itself never leaves the KMS (boto3, which django-storages' S3 backend
already brings).

Every call binds an encryption context naming its purpose: a ciphertext of another application
under the same KMS key does not unwrap here, nor ours there. CloudTrail then records every unwrap,
which is each process's first use of a tenant's key. A KMS that refuses a ciphertext (another key,
altered bytes) raises `KeyEncryptionKeyMismatch`; a KMS that cannot be reached raises its own
error, and the readiness check reports it.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .kek import KeyEncryptionKeyMismatch

ENCRYPTION_CONTEXT = {"purpose": "portal tenant data key"}
# What KMS answers for a ciphertext that is not this key's or was altered.
# (A KMS key the caller may not use for this ciphertext answers AccessDenied: it does not open it either.)
_NOT_OURS = {"InvalidCiphertextException", "IncorrectKeyException", "NotFoundException", "AccessDeniedException"}


class AwsKmsKeyEncryptionKey:
    def __init__(self, kms_key_id: str, client: Any) -> None:
        self._kms_key_id = kms_key_id
        self._client = client
        self.key_id = f"aws-kms:{kms_key_id}"

    @classmethod
    def from_settings(cls, *, previous: bool = False) -> AwsKmsKeyEncryptionKey:
        name = "TENANT_KMS_PREVIOUS_KEY_ID" if previous else "TENANT_KMS_KEY_ID"
        kms_key_id = getattr(settings, name)
        if not kms_key_id:
            raise ImproperlyConfigured(f"{name} must name the KMS key (id, ARN or alias) that wraps tenant keys")
        client = boto3.client(
            "kms",
            region_name=settings.TENANT_KMS_REGION or None,
            endpoint_url=settings.TENANT_KMS_ENDPOINT_URL or None,
        )
        return cls(kms_key_id, client)

    def wrap(self, data_key: bytes) -> bytes:
        reply = self._client.encrypt(KeyId=self._kms_key_id, Plaintext=data_key, EncryptionContext=ENCRYPTION_CONTEXT)
        return bytes(reply["CiphertextBlob"])

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            reply = self._client.decrypt(
                CiphertextBlob=wrapped, KeyId=self._kms_key_id, EncryptionContext=ENCRYPTION_CONTEXT
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in _NOT_OURS:
                raise KeyEncryptionKeyMismatch(
                    f"the key-encryption key {self.key_id} does not open this data key ({code})"
                ) from None
            raise
        return bytes(reply["Plaintext"])
