"""Encryption at rest (apps/tenants/encryption, docs/compliance.md "Encryption at rest"): document
bytes and chunk text are ciphertext in PostgreSQL under the tenant's own data key, wrapped by the
key-encryption key; a wrong KEK fails closed; rotation re-seals everything and resumes when cut off."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_context

from apps.documents.models import Chunk, Document, DocumentVersion
from apps.health.checks import run_checks
from apps.tenants.encryption import rotation
from apps.tenants.encryption.cipher import TEXT_MARK, SealedValueCorrupt, sealing_key_id
from apps.tenants.encryption.kek import KeyEncryptionKeyMismatch, kek_secret_parse, keks_forget
from apps.tenants.encryption.keys import DataKeyUnavailable, data_keys_forget, sealing_key
from apps.tenants.models import TenantDataKey
from tests.documents.factories import indexed_document

pytestmark = pytest.mark.integration

SECRET_TEXT = "Employees on the Zephyr project get a 4,250 EUR relocation bonus."


def raw(sql: str, params: tuple = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.fixture
def in_alpha(tenant_alpha) -> Iterator[str]:
    with schema_context("alpha"):
        yield "alpha"


@pytest.fixture
def no_waiting(monkeypatch) -> None:
    """Rotation waits out other processes' sealing keys; no other process seals in these tests."""
    monkeypatch.setattr(rotation, "SEALING_KEY_SECONDS", -1)


@pytest.fixture
def another_kek() -> Iterator[None]:
    other = base64.b64encode(os.urandom(32)).decode()
    keks_forget()
    data_keys_forget()
    try:
        with override_settings(TENANT_KEK=other):
            yield
    finally:
        keks_forget()
        data_keys_forget()


def test_chunk_text_and_document_bytes_are_ciphertext_in_postgresql(in_alpha):
    document = indexed_document(owner=None, title="Relocation", texts=[SECRET_TEXT])

    [(stored_text,)] = raw("SELECT text FROM documents_chunk WHERE document_id = %s", (document.pk,))
    [(stored_bytes,)] = raw("SELECT content FROM documents_documentversion WHERE document_id = %s", (document.pk,))
    assert stored_text.startswith(TEXT_MARK)
    assert "Zephyr" not in stored_text
    assert "4,250" not in stored_text
    assert b"Zephyr" not in bytes(stored_bytes)
    # Sealed under alpha's active key, and read back in the clear through the models.
    assert sealing_key_id(stored_text) == TenantDataKey.objects.get(tenant__schema_name="alpha", retired_at=None).key_id
    assert Chunk.objects.get(document=document).text == SECRET_TEXT
    assert DocumentVersion.objects.get(document=document).content == SECRET_TEXT.encode()
    assert list(Chunk.objects.filter(document=document).values_list("text", flat=True)) == [SECRET_TEXT]


def test_each_tenant_has_its_own_key_and_a_value_moved_to_another_tenant_does_not_open(in_alpha, tenant_beta):
    document = indexed_document(owner=None, title="Relocation", texts=[SECRET_TEXT])
    [(stored,)] = raw("SELECT text FROM documents_chunk WHERE document_id = %s", (document.pk,))
    with schema_context("beta"):
        beta_document = indexed_document(owner=None, title="Beta note", texts=["Beta's own text."])
        assert sealing_key("beta").key_id != sealing_key("alpha").key_id
        raw("UPDATE documents_chunk SET text = %s WHERE document_id = %s RETURNING id", (stored, beta_document.pk))
        with pytest.raises(DataKeyUnavailable, match="another tenant"):
            Chunk.objects.get(document=beta_document).text  # noqa: B018


def test_a_tampered_value_fails_loudly_instead_of_reading_garbage(in_alpha):
    document = indexed_document(owner=None, title="Relocation", texts=[SECRET_TEXT])
    [(stored,)] = raw("SELECT text FROM documents_chunk WHERE document_id = %s", (document.pk,))
    body = bytearray(base64.b64decode(stored[len(TEXT_MARK) :]))
    body[-1] ^= 1
    tampered = TEXT_MARK + base64.b64encode(bytes(body)).decode()
    raw("UPDATE documents_chunk SET text = %s WHERE document_id = %s RETURNING id", (tampered, document.pk))
    with pytest.raises(SealedValueCorrupt, match="does not open"):
        Chunk.objects.get(document=document).text  # noqa: B018


def test_sealed_columns_cannot_be_searched_in_sql_by_mistake(in_alpha):
    with pytest.raises(FieldError):
        list(Chunk.objects.filter(text="anything"))
    with pytest.raises(FieldError):
        list(Chunk.objects.filter(text__contains="anything"))
    assert not Chunk.objects.filter(text__isnull=True).exists()


def test_a_wrong_key_encryption_key_never_serves_plaintext_or_garbage(in_alpha, another_kek):
    # Made under the session's KEK before this test swapped it.
    assert TenantDataKey.objects.filter(tenant__schema_name="alpha").exists()
    with pytest.raises(KeyEncryptionKeyMismatch):
        sealing_key("alpha")
    [result] = run_checks(["tenant_keys"]).values()
    assert not result.ok
    assert "another key-encryption key" in result.detail


def test_a_missing_or_malformed_key_encryption_key_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="No key-encryption key"):
        kek_secret_parse("")
    with pytest.raises(ImproperlyConfigured, match="not base64"):
        kek_secret_parse("not base64 at all!")
    with pytest.raises(ImproperlyConfigured, match="32 bytes"):
        kek_secret_parse(base64.b64encode(b"short").decode())
    assert len(kek_secret_parse(base64.b64encode(os.urandom(32)).decode())) == 32


def test_the_readiness_check_passes_with_the_right_key(in_alpha):
    sealing_key("alpha")
    [result] = run_checks(["tenant_keys"]).values()
    assert result.ok, result.detail


def chunk_keys(document: Document) -> set:
    rows = raw("SELECT text FROM documents_chunk WHERE document_id = %s", (document.pk,))
    return {sealing_key_id(text) for (text,) in rows}


def test_rotation_reseals_everything_and_destroys_the_old_key(in_alpha, no_waiting):
    document = indexed_document(owner=None, title="Relocation", texts=[SECRET_TEXT, "Second passage.", "Third."])
    old = sealing_key("alpha").key_id

    report = rotation.tenant_key_rotate(schema_name="alpha", batch_size=2)

    new = sealing_key("alpha").key_id
    assert new != old
    assert chunk_keys(document) == {new}
    assert report.resealed["documents.chunk.text"] >= 3
    assert report.keys_destroyed == 1
    assert not TenantDataKey.objects.filter(key_id=old).exists()
    assert [chunk.text for chunk in Chunk.objects.filter(document=document)] == [
        SECRET_TEXT,
        "Second passage.",
        "Third.",
    ]


def test_an_interrupted_rotation_resumes_and_loses_nothing(in_alpha, no_waiting):
    document = indexed_document(owner=None, title="Relocation", texts=[f"Passage {n}." for n in range(7)])
    old = sealing_key("alpha").key_id

    def killed(label: str, _rows: int) -> None:
        if label == "documents.chunk.text":
            raise KeyboardInterrupt  # the operator's Ctrl-C after the first batch of chunks

    with pytest.raises(KeyboardInterrupt):
        rotation.tenant_key_rotate(schema_name="alpha", batch_size=3, progress=killed)
    new = sealing_key("alpha").key_id
    assert chunk_keys(document) == {old, new}  # half way: both keys needed, both still there
    assert TenantDataKey.objects.filter(key_id=old).exists()
    assert [chunk.text for chunk in Chunk.objects.filter(document=document)] == [f"Passage {n}." for n in range(7)]

    report = rotation.tenant_key_rotate(schema_name="alpha", batch_size=3)

    assert report.resumed
    assert sealing_key("alpha").key_id == new  # resumed under the same new key, no third one
    assert chunk_keys(document) == {new}
    assert not TenantDataKey.objects.filter(key_id=old).exists()
    assert [chunk.text for chunk in Chunk.objects.filter(document=document)] == [f"Passage {n}." for n in range(7)]


def test_values_stored_before_encryption_are_read_and_sealed_by_seal_only(in_alpha, no_waiting):
    document = indexed_document(owner=None, title="Legacy", texts=["Stored before encryption existed."])
    raw(
        "UPDATE documents_chunk SET text = %s WHERE document_id = %s RETURNING id",
        ("Stored before encryption existed.", document.pk),
    )
    assert Chunk.objects.get(document=document).text == "Stored before encryption existed."
    key = sealing_key("alpha").key_id

    call_command("rotate_tenant_key", "alpha", "--seal-only", "--batch-size", "2")

    assert chunk_keys(document) == {key}  # sealed under the same, still active key
    assert Chunk.objects.get(document=document).text == "Stored before encryption existed."
