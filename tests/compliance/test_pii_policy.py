"""The tenant's PII policy at every stage: ingestion (keep, mask, drop), prompts to an outside model
(send, mask with the values put back), answers shown (show, mask), and the backfill that indexes a
tenant's documents again after the ingestion choice changed. Claude is a real local HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client

from apps.accounts.models import User
from apps.answers.services import answer_question
from apps.documents.models import Chunk, Document, KeywordPosting
from apps.ingestion.graph_sync import documents_graph_sync
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, document_upload
from apps.integrations.graph.factory import graph_store
from apps.tenants.context import in_tenant
from apps.tenants.services import tenant_settings_update
from tests.support.committed import committed_tenant
from tests.support.fake_anthropic import FakeAnthropicServer, claude_answers

pytestmark = pytest.mark.integration

PHONE = "+1 415 555 0132"
PHONE_DIGITS = ("415", "555", "0132")
HELPDESK = (
    "# Lost or stolen laptops\n\n"
    f"If your laptop is lost or stolen, call the IT security hotline at {PHONE} at once.\n\n"
    "IT then locks the laptop remotely and revokes its certificates within one hour."
)
QUESTION = "Who do I call when my laptop is stolen?"


@pytest.fixture
def tenant(committed_db) -> Iterator[str]:
    with committed_tenant("pii") as created, in_tenant(created.schema_name):
        User.objects.create_user(username="dana", password="x" * 16)
        yield created.schema_name


def policy(schema: str, **choices: str) -> None:
    tenant_settings_update(schema_name=schema, actor=None, **choices)


def ingest(schema: str, text: str = HELPDESK) -> Document:
    job = document_upload(
        upload=UploadedFile(filename="laptops.md", data=text.encode()), uploaded_by=None, visible_to_tenant=True
    )
    run = ingestion_jobs_run(job_ids=[str(job.pk)])
    assert documents_graph_sync(document_ids=run.stored_document_ids) == []
    return Document.objects.get(pk=job.document_id)


def chunk_texts(document: Document) -> str:
    return "\n".join(chunk.text for chunk in Chunk.objects.filter(document=document))


def posting_terms(document: Document) -> set[str]:
    return set(KeywordPosting.objects.filter(chunk__document=document).values_list("term", flat=True))


def graph_text(schema: str) -> str:
    rows = graph_store().run_read("MATCH (n {tenant: $tenant}) RETURN properties(n) AS properties", tenant=schema)
    return repr([row["properties"] for row in rows])


def ask(schema: str, fake: FakeAnthropicServer, reply: str):
    fake.reply_stream(reply)
    return answer_question(user=User.objects.get(username="dana"), question=QUESTION, use_cache=False)


def test_indexed_as_is_the_number_is_everywhere(tenant):
    """The control for the tests below: what they look for is there when nothing masks it."""
    document = ingest(tenant)

    assert PHONE in chunk_texts(document)
    assert {"0132"} <= posting_terms(document)


def test_masked_at_ingestion_a_phone_number_is_in_no_chunk_posting_graph_prompt_or_answer(tenant):
    policy(tenant, pii_at_ingestion="mask", pii_in_prompts="send")
    document = ingest(tenant)

    assert PHONE not in chunk_texts(document)
    assert "[PHONE]" in chunk_texts(document)
    assert not set(PHONE_DIGITS) & posting_terms(document)
    assert "0132" not in graph_text(tenant)
    assert document.metadata["parse"]["pii"] == {"policy": "mask", "found": {"phone": 1}}
    with FakeAnthropicServer() as fake, claude_answers(fake):
        result = ask(tenant, fake, "Call the IT security hotline at [PHONE] at once [1].")
    assert "0132" not in str(fake.requests[-1].body)
    assert result.outcome == "answered"
    assert "0132" not in result.answer
    # The original file is kept, sealed, so that another policy can index it again.
    assert PHONE.encode() in bytes(document.current_version.content)


def test_dropped_at_ingestion_the_paragraph_holding_it_is_left_out(tenant):
    policy(tenant, pii_at_ingestion="drop")
    document = ingest(tenant)

    texts = chunk_texts(document)
    assert "0132" not in texts
    assert "hotline" not in texts
    assert "revokes its certificates within one hour" in texts
    assert document.metadata["parse"]["pii"]["blocks_left_out"] == 1


def test_masked_in_prompts_the_model_sees_placeholders_and_the_asker_the_number(tenant):
    policy(tenant, pii_in_prompts="mask")
    ingest(tenant)

    with FakeAnthropicServer() as fake, claude_answers(fake):
        result = ask(tenant, fake, "Call the IT security hotline at [PHONE_1] at once [1].")

    sent = str(fake.requests[-1].body)
    assert "0132" not in sent
    assert "[PHONE_1]" in sent
    assert "Placeholders such as [PHONE_1]" in str(fake.requests[-1].body["system"])
    assert result.outcome == "answered"
    assert f"Call the IT security hotline at {PHONE} at once" in result.answer


def test_sent_as_is_the_prompt_holds_the_number(tenant):
    policy(tenant, pii_in_prompts="send")
    ingest(tenant)

    with FakeAnthropicServer() as fake, claude_answers(fake):
        ask(tenant, fake, f"Call the IT security hotline at {PHONE} at once [1].")

    assert PHONE in str(fake.requests[-1].body)


def test_masked_in_answers_the_asker_sees_a_placeholder_and_the_log_keeps_none(tenant):
    policy(tenant, pii_in_prompts="send", pii_in_answers="mask")
    ingest(tenant)

    with FakeAnthropicServer() as fake, claude_answers(fake):
        result = ask(tenant, fake, f"Call the IT security hotline at {PHONE} at once [1].")

    assert result.outcome == "answered"
    assert "0132" not in result.answer
    assert "[PHONE]" in result.answer


def test_after_the_ingestion_choice_changes_the_backfill_indexes_every_document_again(tenant):
    first, second = ingest(tenant), ingest(tenant, HELPDESK.replace("laptop", "phone"))
    assert PHONE in chunk_texts(first)
    policy(tenant, pii_at_ingestion="mask")

    out = StringIO()
    call_command("reprocess_documents", tenant=tenant, stdout=out, stderr=StringIO())

    assert "indexed 2 of 2 documents again; 0 failed" in out.getvalue()
    for document in (first, second):
        assert PHONE not in chunk_texts(document)
        assert "[PHONE]" in chunk_texts(document)
        assert not set(PHONE_DIGITS) & posting_terms(document)
    assert "0132" not in graph_text(tenant)


def test_an_unknown_choice_is_refused_with_the_choices(tenant):
    with pytest.raises(ValidationError) as refused:
        policy(tenant, pii_at_ingestion="shred")

    assert "keep" in str(refused.value.message_dict["pii_at_ingestion"])
    assert connection.schema_name == tenant


def test_masked_at_ingestion_the_file_name_shows_no_number_either(tenant):
    """Re-test: a file named after a phone number showed it as the document's source in lists,
    citations and search, while its text was masked."""
    policy(tenant, pii_at_ingestion="mask")
    job = document_upload(
        upload=UploadedFile(filename=f"hotline {PHONE}.md", data=HELPDESK.encode()),
        uploaded_by=None,
        visible_to_tenant=True,
    )

    document = Document.objects.get(pk=job.document_id)
    assert "0132" not in document.source + document.title
    assert "[PHONE]" in document.source
    # Nor the job the uploader follows, nor the version the change log records.
    assert "0132" not in job.filename + document.versions.get().filename


def test_masked_in_answers_the_citations_excerpts_are_masked_too(tenant):
    policy(tenant, pii_in_prompts="send", pii_in_answers="mask")
    ingest(tenant)

    with FakeAnthropicServer() as fake, claude_answers(fake):
        result = ask(tenant, fake, f"Call the IT security hotline at {PHONE} at once [1].")

    assert result.citations
    # Section labels are cut from the masked passage: a label cut first kept "+1 415 555".
    assert "555" not in repr(result.citations) + repr(result.sources)
    query_id = result.query_id
    history = Client().get(f"/history/{query_id}/", HTTP_HOST=f"{tenant.replace('_', '-')}.localhost")
    assert history.status_code == 302  # signed out: the page is behind sign-in
    signed_in = Client()
    signed_in.force_login(User.objects.get(username="dana"))
    page = signed_in.get(f"/history/{query_id}/", HTTP_HOST=f"{tenant.replace('_', '-')}.localhost")
    assert page.status_code == 200
    assert "0132" not in page.content.decode()
