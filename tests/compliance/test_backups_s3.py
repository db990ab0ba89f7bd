"""Tenant backups in S3 through django-storages (docs/operations.md, "Backups"): the same sealed
archives, listed, pruned and restored from a bucket. The S3 API is served by a real local HTTP
server (moto's), so boto3 and django-storages run unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from django.db import connection
from django.test import override_settings
from moto.server import ThreadedMotoServer

from apps.compliance.sealed_archives import MAGIC
from apps.compliance.tenant_backups import (
    tenant_backup_create,
    tenant_backup_restore,
    tenant_backups_list,
    tenant_backups_prune,
)
from apps.tenants.context import in_tenant
from config.settings.environment import BASE_DIR
from tests.documents.factories import indexed_document
from tests.support.committed import committed_tenant
from tests.support.embedded import devservices

pytestmark = pytest.mark.integration

BUCKET, REGION = "portal-backups", "eu-central-1"
PRINT_BACKUP_STORAGE = "import json; from django.conf import settings; print(json.dumps(settings.BACKUP_STORAGE))"
CREDENTIALS = {"aws_access_key_id": "portal", "aws_secret_access_key": "portal-local-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = devservices.free_loopback_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    try:
        yield endpoint
    finally:
        server.stop()


def storage_from_environment(**variables: str) -> dict:
    """BACKUP_STORAGE as the settings build it from these variables (a fresh process)."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from django.conf import settings; print(json.dumps(settings.BACKUP_STORAGE))",
        ],
        cwd=BASE_DIR,
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture
def s3_storage(s3_endpoint) -> Iterator[None]:
    config = storage_from_environment(
        BACKUP_S3_BUCKET=BUCKET, BACKUP_S3_REGION=REGION, BACKUP_S3_ENDPOINT_URL=s3_endpoint, BACKUP_S3_PREFIX="portal"
    )
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    # Credentials are boto3's own business (instance role, AWS_* variables); here, the test server's.
    config["OPTIONS"].update(
        access_key=CREDENTIALS["aws_access_key_id"], secret_key=CREDENTIALS["aws_secret_access_key"]
    )
    with override_settings(BACKUP_STORAGE=config):
        yield


def bucket_object(endpoint: str, name: str) -> bytes:
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
    return client.get_object(Bucket=BUCKET, Key=f"portal/{name}")["Body"].read()


def test_backups_go_to_s3_sealed_and_come_back(s3_endpoint, s3_storage, committed_db):
    now = datetime.now(UTC)
    with committed_tenant("s3bak") as tenant, in_tenant(tenant.schema_name):
        schema = tenant.schema_name
        indexed_document(owner=None, title="Refund policy", texts=["Refunds within 30 days."])
        assert tenant_backups_list(schema_name=schema) == []  # an empty bucket lists nothing

        old = tenant_backup_create(schema_name=schema, now=now - timedelta(days=40))
        new = tenant_backup_create(schema_name=schema, now=now)

        assert [backup.name for backup in tenant_backups_list(schema_name=schema)] == [old.name, new.name]
        stored = bucket_object(s3_endpoint, new.name)
        assert stored.startswith(MAGIC)
        assert b"Refunds" not in stored
        assert tenant_backups_prune(schema_name=schema, keep_days=30, now=now) == [old.name]
        assert [backup.name for backup in tenant_backups_list(schema_name=schema)] == [new.name]

        restored = f"{schema}_r"
        try:
            manifest = tenant_backup_restore(name=new.name, schema_name=restored)
            assert manifest["schema"] == schema
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT count(*) FROM "{restored}".documents_chunk')  # noqa: S608
                assert cursor.fetchone()[0] == 1
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{restored}" CASCADE')
