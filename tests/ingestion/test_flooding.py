"""One document cannot flood a tenant's index (issue 26, case 6).

A text file of one 10 MB line became 15,535 chunks of two distinct vectors; from then on the HNSW
index returned only those chunks, and every question in the tenant was refused. Workers peaked at
2-2.5 GB chunking it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from apps.documents.acl import principals_for_user
from apps.documents.models import Chunk
from apps.ingestion.models import IngestionJob
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.preparation import chunk_drafts, parsed_upload
from apps.ingestion.services import UploadedFile, documents_upload
from apps.integrations.embeddings.factory import embedder
from apps.retrieval.legs.base import LegQuery
from apps.retrieval.legs.dense import PgvectorDenseLeg
from config.settings.environment import BASE_DIR
from tests.documents.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FLOOD_LINE = b"The quick brown fox jumps over the lazy dog. " * 45_000  # 2 MB, one line
HANDBOOK = (
    b"Travel expenses\n\nHotels are reimbursed up to EUR 180 per night in major cities and EUR 120 "
    b"elsewhere. Keep every receipt."
)


@pytest.fixture
def owner(in_alpha):
    return UserFactory()


def upload_and_run(owner, *files: tuple[str, bytes]) -> list[IngestionJob]:
    jobs = documents_upload(uploads=[UploadedFile(filename=name, data=data) for name, data in files], uploaded_by=owner)
    ingestion_jobs_run(job_ids=[str(job.pk) for job in jobs])
    return [IngestionJob.objects.get(pk=job.pk) for job in jobs]


def test_a_flooding_line_becomes_a_few_distinct_passages():
    parsed = parsed_upload(data=FLOOD_LINE, filename="flood.txt")

    drafts = chunk_drafts(parsed)

    assert len(drafts) < 10
    assert parsed.metadata["repeated_passages"] > 100
    assert [draft.ordinal for draft in drafts] == list(range(len(drafts)))


def test_a_run_without_spaces_is_cut_into_chunks_of_bounded_length(settings):
    parsed = parsed_upload(data=b"x" * 300_000 + b" and then the end.", filename="run.txt")

    drafts = chunk_drafts(parsed)

    # BERT's tokenizer counts the whole run as one [UNK] token; it was kept as one 300 kB chunk.
    assert max(len(draft.text) for draft in drafts) <= settings.CHUNK_MAX_TOKENS * 16
    assert drafts[-1].body.endswith("and then the end.")


CHUNK_IN_A_FRESH_PROCESS = """
import resource, django
django.setup()
from apps.ingestion.preparation import chunk_drafts, parsed_upload
line = b"The quick brown fox jumps over the lazy dog. " * 225_000
chunk_drafts(parsed_upload(data=line, filename="flood.txt"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def test_chunking_a_10_mb_line_stays_under_1_gb():
    """In a process of its own, as a worker would: its peak is the whole story (was about 1.8 GB)."""
    done = subprocess.run(
        [sys.executable, "-c", CHUNK_IN_A_FRESH_PROCESS],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )

    assert int(done.stdout.split()[-1]) < 1024**3


def test_a_flooding_document_leaves_the_others_answerable(owner):
    flood, handbook = upload_and_run(owner, ("flood.txt", FLOOD_LINE), ("travel.txt", HANDBOOK))

    assert flood.status == handbook.status == IngestionJob.Status.SUCCEEDED
    assert Chunk.objects.filter(document_id=flood.document_id).count() < 10
    question = "What is the hotel budget per night in a big city?"
    found = PgvectorDenseLeg().search(
        LegQuery(
            tenant="alpha",
            principals=tuple(principals_for_user(owner)),
            text=question,
            k=3,
            embedding=embedder().embed_query(question),
        )
    )
    assert Chunk.objects.get(pk=found[0].chunk_id).document_id == handbook.document_id


def test_passages_over_the_cap_are_left_out_with_a_warning(owner, settings):
    settings.INGESTION_MAX_CHUNKS_PER_DOCUMENT = 5
    paragraphs = b"\n\n".join(b"Section %d: rule number %d applies to team %d." % (n, n * 7, n * 3) for n in range(400))

    (job,) = upload_and_run(owner, ("rules.txt", paragraphs))

    assert job.status == IngestionJob.Status.SUCCEEDED
    assert Chunk.objects.filter(document_id=job.document_id).count() == 5
    assert job.error_code == "truncated"
    assert "only the first 5 passages of" in job.error_message


def test_text_past_the_character_limit_is_left_out_with_a_warning(owner, settings):
    settings.INGESTION_MAX_TEXT_CHARS = 2_000
    paragraphs = b"\n\n".join(b"Paragraph %d: the rule for team %d is rule %d." % (n, n * 3, n * 7) for n in range(400))

    (job,) = upload_and_run(owner, ("long.txt", paragraphs))

    assert job.status == IngestionJob.Status.SUCCEEDED
    assert job.error_code == "truncated"
    assert "characters of" in job.error_message
    kept = Chunk.objects.filter(document_id=job.document_id)
    assert max(kept.values_list("char_end", flat=True)) <= 2_000
    assert any("Paragraph 0:" in text for text in kept.values_list("text", flat=True))
