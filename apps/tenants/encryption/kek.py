"""The key-encryption key (KEK): wraps and unwraps tenants' data keys, and nothing else.

`settings.TENANT_KEK_BACKEND` names the adapter. `LocalKeyEncryptionKey` holds a 256-bit secret
from `TENANT_KEK` / `TENANT_KEK_FILE` (`make services` writes one per profile under var/; in
production it comes from the secret store). `AwsKmsKeyEncryptionKey` (kms.py) implements the same
three members (`key_id`, `wrap`, `unwrap`) with the KMS's encrypt and decrypt calls, so the KEK
never leaves it. A missing or malformed KEK is a configuration error the process stops on; a KEK
that cannot unwrap a stored key raises `KeyEncryptionKeyMismatch`, never returns garbage.

Rotating the KEK itself: configure the new one as the KEK and the old one as the previous KEK
(`TENANT_KEK_PREVIOUS_BACKEND`, `TENANT_KEK_PREVIOUS` or `TENANT_KMS_PREVIOUS_KEY_ID`); every data
key names the KEK that wrapped it (`kek_id`), so both open meanwhile, and `rewrap_tenant_keys`
re-wraps the data keys under the new one. The data keys, and so every sealed value and backup,
stay as they are.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

_WRAP_CONTEXT = b"portal tenant data key"
_NONCE_BYTES = 12


class KeyEncryptionKeyMismatch(Exception):
    """A wrapped data key does not open with this KEK (another KEK wrapped it, or it was altered)."""


class KeyEncryptionKey(Protocol):
    key_id: str

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


def kek_secret_parse(text: str) -> bytes:
    """32 bytes from their base64 form (standard or URL-safe), or ImproperlyConfigured saying why."""
    if not text:
        raise ImproperlyConfigured(
            "No key-encryption key: set TENANT_KEK or TENANT_KEK_FILE to 32 random bytes in base64 "
            "(e.g. `openssl rand -base64 32`); `make services` writes one for development."
        )
    try:
        secret = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImproperlyConfigured("TENANT_KEK is not base64 (32 random bytes, base64-encoded)") from error
    if len(secret) != 32:
        raise ImproperlyConfigured(f"TENANT_KEK must be 32 bytes (256 bits) once decoded, not {len(secret)}")
    return secret


class LocalKeyEncryptionKey:
    """AES-256-GCM with a secret from the settings; `key_id` is a fingerprint, never the secret."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(secret)
        self.key_id = "local:" + hashlib.sha256(b"kek id:" + secret).hexdigest()[:16]

    @classmethod
    def from_settings(cls, *, previous: bool = False) -> LocalKeyEncryptionKey:
        return cls(kek_secret_parse(settings.TENANT_KEK_PREVIOUS if previous else settings.TENANT_KEK))

    def wrap(self, data_key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, _WRAP_CONTEXT)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _WRAP_CONTEXT)
        except InvalidTag as error:
            raise KeyEncryptionKeyMismatch(
                f"the key-encryption key {self.key_id} does not open this data key"
            ) from error


@functools.cache
def key_encryption_key() -> KeyEncryptionKey:
    """The configured KEK, built once per process (tests that swap it call `keks_forget`)."""
    return import_string(settings.TENANT_KEK_BACKEND).from_settings()


@functools.cache
def previous_key_encryption_key() -> KeyEncryptionKey | None:
    """The KEK a rotation of the KEK moves away from, if one is configured (it only unwraps)."""
    if not settings.TENANT_KEK_PREVIOUS_BACKEND:
        return None
    return import_string(settings.TENANT_KEK_PREVIOUS_BACKEND).from_settings(previous=True)


def kek_for(kek_id: str) -> KeyEncryptionKey:
    """The configured KEK that wrapped a data key (it names it), or KeyEncryptionKeyMismatch."""
    for kek in (key_encryption_key(), previous_key_encryption_key()):
        if kek is not None and kek.key_id == kek_id:
            return kek
    raise KeyEncryptionKeyMismatch(
        f"the data key was wrapped by the key-encryption key {kek_id}, which is neither the configured "
        "one nor the previous one (TENANT_KEK_PREVIOUS_BACKEND)"
    )


def keks_forget() -> None:
    key_encryption_key.cache_clear()
    previous_key_encryption_key.cache_clear()
