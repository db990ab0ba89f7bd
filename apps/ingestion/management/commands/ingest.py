"""Ingest files or folders into a tenant, without the API: `manage.py ingest --tenant demo docs/samples`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.accounts.models import User
from apps.core.errors import TenantContextRequired
from apps.documents.services import document_access_grant
from apps.ingestion.graph_sync import documents_graph_sync
from apps.ingestion.models import IngestionJob
from apps.ingestion.pipeline import TransientIngestionError, ingestion_jobs_run
from apps.ingestion.services import UploadedFile, UploadRejected, documents_upload
from apps.tenants.context import in_tenant, tenant_for_schema

BATCH = 16


def files_under(paths: list[str]) -> list[Path]:
    """Files named directly, and every non-hidden file below folders (symlinks are not followed)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(
                sorted(
                    child
                    for child in path.rglob("*")
                    if child.is_file()
                    and not child.is_symlink()
                    and not any(part.startswith(".") for part in child.relative_to(path).parts)
                )
            )
        else:
            raise CommandError(f"{raw}: no such file or folder")
    return found


class Command(BaseCommand):
    help = "Ingest files and folders (recursively) into a tenant and print a summary; exits 1 if any failed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--owner", help="username who owns the documents (default: none, admins only)")
        parser.add_argument("--visible-to-all", action="store_true", help="everyone in the tenant may view them")
        parser.add_argument("--group", action="append", default=[], help="group that may view them (repeatable)")

    def handle(self, *args, **options) -> None:
        try:
            tenant_for_schema(options["tenant"])
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        files = files_under(options["paths"])
        if not files:
            raise CommandError("no files found")
        try:
            with in_tenant(options["tenant"]):
                outcomes = self._ingest(files, options)
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        self._summarise(outcomes)
        if outcomes["failed"]:
            raise CommandError(f"{outcomes['failed']} file(s) failed")

    def _ingest(self, files: list[Path], options) -> Counter:
        owner = self._user(options["owner"])
        groups = [self._group(name) for name in options["group"]]
        outcomes: Counter = Counter()
        with tqdm(total=len(files), unit="file", disable=None) as bar:
            for start in range(0, len(files), BATCH):
                jobs = []
                for path in files[start : start + BATCH]:
                    job = self._upload(path, owner, options["visible_to_all"], outcomes)
                    if job is not None:
                        jobs.append(job)
                queued = [str(job.pk) for job in jobs if job.status == IngestionJob.Status.QUEUED]
                try:
                    if queued:
                        run = ingestion_jobs_run(job_ids=queued)
                        outcomes["graph_failed"] += len(documents_graph_sync(document_ids=run.stored_document_ids))
                except TransientIngestionError as error:
                    raise CommandError(f"a dependency failed, retry later: {error}") from error
                for job in IngestionJob.objects.filter(pk__in=[job.pk for job in jobs]).select_related("document"):
                    self._report(job, groups, outcomes)
                bar.update(len(files[start : start + BATCH]))
        return outcomes

    def _upload(self, path: Path, owner, visible_to_all: bool, outcomes: Counter) -> IngestionJob | None:
        try:
            data = path.read_bytes()
            upload = UploadedFile(filename=str(path), data=data, title=path.name)
            return documents_upload(
                uploads=[upload], uploaded_by=owner, visible_to_tenant=visible_to_all, enqueue=False
            )[0]
        except (OSError, UploadRejected) as error:
            outcomes["failed"] += 1
            tqdm.write(f"failed   {path}: {getattr(error, 'message', None) or error}")
            return None

    def _report(self, job: IngestionJob, groups: list[Group], outcomes: Counter) -> None:
        outcomes[job.status] += 1
        if job.status == IngestionJob.Status.SUCCEEDED and job.document is not None:
            for group in groups:
                document_access_grant(document=job.document, principal=group)
        if job.status != IngestionJob.Status.SUCCEEDED:
            tqdm.write(f"{job.status:8} {job.filename}: {job.error_message}")

    def _summarise(self, outcomes: Counter) -> None:
        self.stdout.write(
            f"succeeded: {outcomes['succeeded']}  skipped: {outcomes['skipped']}  failed: {outcomes['failed']}"
        )
        if outcomes["graph_failed"]:
            self.stdout.write(
                f"knowledge graph: {outcomes['graph_failed']} document(s) not synced (Neo4j unavailable?); "
                "they are searchable; run `manage.py rebuild_graph` later"
            )

    @staticmethod
    def _user(username: str | None) -> User | None:
        if not username:
            return None
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user {username!r} in this tenant") from None

    @staticmethod
    def _group(name: str) -> Group:
        try:
            return Group.objects.get(name=name)
        except Group.DoesNotExist:
            raise CommandError(f"no group {name!r} in this tenant") from None
