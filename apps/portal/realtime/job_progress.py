"""Live ingestion progress: the worker's `job_progressed` signal -> channel layer -> the uploader's page.

The signal is sent inside the Celery worker (apps/ingestion/pipeline.py); the receiver below runs
there, finds who uploaded the job, and publishes to that user's group after the surrounding
transaction commits (a rolled-back state is never announced). `/ws/jobs/` joins the group of the
signed-in user of the host's tenant and first sends a snapshot, so nothing is missed between the
page render and the socket opening; the session and the user are read again before every frame.
"""

from __future__ import annotations

import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse
from django_tenants.utils import schema_context
from redis.exceptions import RedisError

from apps.accounts.directory import user_socket_group
from apps.ingestion.models import IngestionJob
from apps.ingestion.signals import job_progressed
from apps.tenants.context import in_schema

from ..selectors import jobs_recent_for_user
from .identity import session_user_current

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "job.progress"  # handled by JobProgressConsumer.job_progress


def user_jobs_group(*, schema_name: str, user_id: int) -> str:
    return f"portal.jobs.{schema_name}.{user_id}"


def job_frame(job: IngestionJob) -> dict:
    return {
        "type": "job",
        "job_id": str(job.pk),
        "filename": job.filename,
        "status": job.status,
        "stage": job.stage,
        "progress": round(job.progress, 3),
        "error_message": job.error_message,
        "document_url": reverse("portal:document_detail", args=[job.document_id]) if job.document_id else "",
    }


@receiver(job_progressed, dispatch_uid="portal.job_progress_publish")
def job_progress_publish(*, schema_name: str, job_id: str, created_by_id: int | None, **_kwargs) -> None:
    """Runs in the worker, inside the job's tenant; publishes the job's committed state."""
    if created_by_id is None:
        return  # command-line and bulk ingests have nobody watching: no read, no message
    transaction.on_commit(partial(_publish, schema_name=schema_name, job_id=job_id))


def _publish(*, schema_name: str, job_id: str) -> None:
    with in_schema(schema_name):
        job = IngestionJob.objects.filter(pk=job_id).first()
        if job is None or job.created_by_id is None:
            return  # command-line ingests have nobody watching
        frame = job_frame(job)
    group = user_jobs_group(schema_name=schema_name, user_id=job.created_by_id)
    layer = get_channel_layer()
    try:
        async_to_sync(layer.group_send)(group, {"type": MESSAGE_TYPE, "frame": frame})
    except (RedisError, OSError):
        # Progress is a courtesy; the job itself must not fail because Redis hiccuped.
        logger.warning("could not publish job progress", exc_info=True)


@database_sync_to_async
def _snapshot(*, schema_name: str, user) -> list[dict]:
    with schema_context(schema_name):
        return [job_frame(job) for job in jobs_recent_for_user(user=user)]


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    identity_group: str | None = None

    async def connect(self) -> None:
        user, tenant = self.scope.get("user"), self.scope.get("tenant")
        if tenant is None or user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = user_jobs_group(schema_name=tenant.schema_name, user_id=user.pk)
        self.identity_group = user_socket_group(schema_name=tenant.schema_name, user_id=user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.identity_group, self.channel_name)
        await self.accept()
        for frame in await _snapshot(schema_name=tenant.schema_name, user=user):
            await self.send_json(frame)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.identity_group is not None:
            await self.channel_layer.group_discard(self.identity_group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        return  # the page only listens (pongs and stray frames are ignored)

    async def job_progress(self, message: dict) -> None:
        # Who is listening is read again before each frame: a socket left open after a sign-out, a
        # password change or a deactivation must not go on hearing of the user's uploads.
        if await self._still_signed_in():
            await self.send_json(message["frame"])

    async def identity_changed(self, message: dict) -> None:
        """The user was deprovisioned (apps.accounts.directory): close now, not at the next frame."""
        await self._still_signed_in()

    async def _still_signed_in(self) -> bool:
        tenant, user = self.scope["tenant"], self.scope["user"]
        current = await _current_user(schema_name=tenant.schema_name, session_key=self._session_key, user_id=user.pk)
        if current is None:
            await self.send_json({"type": "error", "code": "unauthenticated"})
            await self.close(code=4401)
            return False
        return True

    @property
    def _session_key(self) -> str | None:
        return getattr(self.scope.get("session"), "session_key", None)


_current_user = database_sync_to_async(session_user_current)
