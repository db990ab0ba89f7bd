"""Live ingestion progress: a real Celery worker sends `job_progressed`, the portal's receiver in
that worker publishes to the uploader's group on the Redis channel layer, and the uploader's
socket (and only theirs) gets every state up to the final one, with the reason of a failure."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django_tenants.utils import schema_context

from apps.ingestion.models import IngestionJob
from apps.ingestion.services import UploadedFile, documents_upload
from config.asgi import application
from config.celery_app import app as celery_app
from tests.support.celery_worker import celery_worker

from .conftest import member_of, ws_headers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]


@pytest.fixture
def worker(site, committed_db, tmp_path):
    """A real worker, and this process publishing to its broker instead of running tasks in-process."""
    celery_app.conf.task_always_eager = False
    try:
        with celery_worker(log_path=tmp_path / "worker.log", queues="ingestion"):
            yield
    finally:
        celery_app.conf.task_always_eager = True


async def frames_until_finished(communicator: WebsocketCommunicator, expected: int, timeout: float = 90) -> list[dict]:
    """Frames until `expected` jobs have reported a final state."""
    frames: list[dict] = []
    finished: set[str] = set()
    deadline = asyncio.get_running_loop().time() + timeout
    while len(finished) < expected:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, f"jobs did not finish; frames so far: {frames}"
        frame = await communicator.receive_json_from(timeout=remaining)
        frames.append(frame)
        if frame["status"] in IngestionJob.FINISHED:
            finished.add(frame["job_id"])
    return frames


async def test_the_uploader_watches_their_jobs_finish_pushed_from_the_worker(site, worker):
    uploader, bystander = await database_sync_to_async(member_of)(site), await database_sync_to_async(member_of)(site)
    watching = WebsocketCommunicator(application, "/ws/jobs/", headers=ws_headers(site, cookie=uploader.cookie))
    other = WebsocketCommunicator(application, "/ws/jobs/", headers=ws_headers(site, cookie=bystander.cookie))
    assert (await watching.connect())[0]
    assert (await other.connect())[0]
    assert await watching.receive_nothing(timeout=0.2)  # no uploads yet: an empty snapshot

    @database_sync_to_async
    def upload() -> dict[str, str]:
        with schema_context(site.schema):
            jobs = documents_upload(
                uploads=[
                    UploadedFile(filename="travel.md", data=b"# Travel\n\nTrain tickets are refunded within 14 days."),
                    UploadedFile(filename="broken.pdf", data=b"%PDF-1.7 truncated"),
                ],
                uploaded_by=uploader.user,
            )
            return {str(job.pk): job.filename for job in jobs}

    jobs = await upload()
    frames = await frames_until_finished(watching, expected=2)

    by_job: dict[str, list[dict]] = {job_id: [] for job_id in jobs}
    for frame in frames:
        by_job[frame["job_id"]].append(frame)
    final = {jobs[job_id]: job_frames[-1] for job_id, job_frames in by_job.items()}
    assert final["travel.md"]["status"] == "succeeded"
    assert final["travel.md"]["progress"] == 1.0
    assert final["travel.md"]["document_url"].startswith("/documents/")
    assert final["broken.pdf"]["status"] == "failed"
    assert final["broken.pdf"]["error_message"]  # the reason reaches the page
    # The worker reported the job running before it finished.
    assert any(frame["status"] == "running" for frame in by_job[next(iter(jobs))])
    assert await other.receive_nothing(timeout=0.3)  # nobody else hears about these uploads

    # A page opened later gets the same final states from the snapshot.
    late = WebsocketCommunicator(application, "/ws/jobs/", headers=ws_headers(site, cookie=uploader.cookie))
    assert (await late.connect())[0]
    snapshot = [await late.receive_json_from(timeout=5) for _ in range(2)]
    assert {frame["filename"]: frame["status"] for frame in snapshot} == {
        "travel.md": "succeeded",
        "broken.pdf": "failed",
    }
    for communicator in (watching, other, late):
        await communicator.disconnect()
