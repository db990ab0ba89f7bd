"""AWS KMS as the key-encryption key, and rotating the key-encryption key itself (local -> KMS), with
boto3 talking to a real local KMS server (moto): data keys are wrapped by the KMS, another KMS key
or altered bytes never unwrap, and `rewrap_tenant_keys` moves every data key to the new KEK while
every sealed value keeps opening."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import boto3
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from django_tenants.utils import schema_context
from moto.server import ThreadedMotoServer

from apps.documents.models import Chunk
from apps.health.checks import run_checks
from apps.tenants.encryption.kek import KeyEncryptionKeyMismatch, keks_forget
from apps.tenants.encryption.keys import data_keys_forget, sealing_key
from apps.tenants.encryption.kms import AwsKmsKeyEncryptionKey
from apps.tenants.models import TenantDataKey
from tests.documents.factories import indexed_document
from tests.support.embedded import devservices

pytestmark = pytest.mark.integration

REGION = "eu-central-1"
KMS_BACKEND = "apps.tenants.encryption.kms.AwsKmsKeyEncryptionKey"
LOCAL_BACKEND = "apps.tenants.encryption.kek.LocalKeyEncryptionKey"
SECRET_TEXT = "The Heron acquisition closes on 14 March for 38 million euros."


@pytest.fixture(scope="module")
def kms() -> Iterator[tuple[str, str, str]]:
    """A local KMS server and two symmetric keys on it: (endpoint, first key id, second key id)."""
    port = devservices.free_loopback_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "portal")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "portal-local-secret")
        client = boto3.client("kms", endpoint_url=endpoint, region_name=REGION)
        first, second = (client.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
        try:
            yield endpoint, first, second
        finally:
            server.stop()


def kms_kek(endpoint: str, key_id: str) -> AwsKmsKeyEncryptionKey:
    return AwsKmsKeyEncryptionKey(key_id, boto3.client("kms", endpoint_url=endpoint, region_name=REGION))


@pytest.fixture
def fresh_keys() -> Iterator[None]:
    """Each configuration below is read afresh, and the session's is back afterwards."""
    keks_forget()
    data_keys_forget()
    try:
        yield
    finally:
        keks_forget()
        data_keys_forget()


def test_a_data_key_wrapped_by_kms_opens_only_with_that_kms_key_and_unaltered(kms):
    endpoint, first, second = kms
    data_key = bytes(range(32))

    wrapped = kms_kek(endpoint, first).wrap(data_key)

    assert data_key not in wrapped
    assert kms_kek(endpoint, first).unwrap(wrapped) == data_key
    with pytest.raises(KeyEncryptionKeyMismatch):
        kms_kek(endpoint, second).unwrap(wrapped)
    with pytest.raises(KeyEncryptionKeyMismatch):
        kms_kek(endpoint, first).unwrap(wrapped[:-1] + bytes([wrapped[-1] ^ 1]))


def test_the_kms_adapter_needs_its_key_named():
    with override_settings(TENANT_KMS_KEY_ID=""), pytest.raises(ImproperlyConfigured, match="TENANT_KMS_KEY_ID"):
        AwsKmsKeyEncryptionKey.from_settings()


def kms_settings(endpoint: str, key_id: str, **more) -> override_settings:
    return override_settings(
        TENANT_KEK_BACKEND=KMS_BACKEND,
        TENANT_KMS_KEY_ID=key_id,
        TENANT_KMS_ENDPOINT_URL=endpoint,
        TENANT_KMS_REGION=REGION,
        **more,
    )


def test_the_kek_moves_from_a_local_key_to_kms_and_every_value_still_opens(tenant_alpha, kms, fresh_keys):
    endpoint, first, _ = kms
    with schema_context("alpha"):
        document = indexed_document(owner=None, title="Heron", texts=[SECRET_TEXT])
    local_secret = settings.TENANT_KEK

    with kms_settings(endpoint, first, TENANT_KEK_PREVIOUS_BACKEND=LOCAL_BACKEND, TENANT_KEK_PREVIOUS=local_secret):
        keks_forget()
        [during] = run_checks(["tenant_keys"]).values()
        out = StringIO()
        call_command("rewrap_tenant_keys", stdout=out, stderr=StringIO())
        again = StringIO()
        call_command("rewrap_tenant_keys", stdout=again, stderr=StringIO())

    assert during.ok, during.detail
    assert "still under the previous one" in during.detail
    assert "re-wrapped" in out.getvalue()
    assert "re-wrapped 0 data keys" in again.getvalue()  # a second run finds nothing left
    assert set(TenantDataKey.objects.values_list("kek_id", flat=True)) == {f"aws-kms:{first}"}
    with kms_settings(endpoint, first):  # the local key is gone from the configuration
        keks_forget()
        data_keys_forget()
        [after] = run_checks(["tenant_keys"]).values()
        with schema_context("alpha"):
            assert Chunk.objects.get(document=document).text == SECRET_TEXT
    assert after.ok, after.detail


def test_without_the_previous_kek_keys_it_wrapped_fail_closed(tenant_alpha, kms, fresh_keys):
    endpoint, first, _ = kms
    with schema_context("alpha"):
        sealing_key("alpha")  # the tenant has a key, wrapped by the session's local KEK

    with kms_settings(endpoint, first):
        keks_forget()
        data_keys_forget()
        with pytest.raises(KeyEncryptionKeyMismatch, match="neither the configured one nor the previous one"):
            sealing_key("alpha")
        [result] = run_checks(["tenant_keys"]).values()

    assert not result.ok
    assert "another key-encryption key" in result.detail
