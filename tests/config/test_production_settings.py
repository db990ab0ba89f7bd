"""Production refuses to start with unsafe settings or without its database (roadmap 1.3, 1.4)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest
from django.conf import settings

from config.settings.environment import BASE_DIR

STRONG_KEY = "k" * 20 + "0123456789abcdefghijklmnop"
# Importing the ASGI module is what daphne does when a web process starts.
START_WEB_PROCESS = "import config.asgi"


def start_production(**overrides: str | None) -> subprocess.CompletedProcess:
    env: dict[str, str | None] = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "PORTAL_ENV_FILE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=settings.DATABASE_URL,
        REDIS_URL=settings.REDIS_URL,
        NEO4J_URI=settings.NEO4J_URI,
        SECRET_KEY=STRONG_KEY,
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", START_WEB_PROCESS],
        cwd=BASE_DIR,
        env={key: value for key, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db
def test_starts_with_safe_settings_and_a_reachable_migrated_database(provisioned_tenants):
    from django.db import connection

    # The production process checks migrations against the database it is given: the test database.
    url = settings.DATABASE_URL.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    result = start_production(DATABASE_URL=url)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("key", ["", "insecure-development-key-change-me", "too-short"])
def test_refuses_a_default_empty_or_weak_secret_key(key):
    result = start_production(SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(("kek", "message"), [("", "No key-encryption key"), ("c2hvcnQ=", "must be 32 bytes")])
def test_refuses_a_missing_or_malformed_key_encryption_key(kek, message):
    result = start_production(TENANT_KEK_FILE=None, TENANT_KEK=kek)
    assert result.returncode != 0
    assert message in result.stderr


def test_refuses_the_kms_adapter_without_its_key():
    result = start_production(
        TENANT_KEK_BACKEND="apps.tenants.encryption.kms.AwsKmsKeyEncryptionKey", TENANT_KMS_KEY_ID=""
    )

    assert result.returncode != 0
    assert "TENANT_KMS_KEY_ID must name the KMS key" in result.stderr


@pytest.mark.django_db
def test_refuses_a_key_encryption_key_that_does_not_open_the_tenant_keys(provisioned_tenants):
    from django.db import connection

    url = settings.DATABASE_URL.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    other = base64.b64encode(os.urandom(32)).decode()
    result = start_production(DATABASE_URL=url, TENANT_KEK_FILE=None, TENANT_KEK=other)
    assert result.returncode != 0
    assert "critical dependencies unavailable" in result.stderr
    assert "tenant_keys" in result.stderr
    assert other not in result.stderr


def test_refuses_debug():
    result = start_production(DEBUG="True")
    assert result.returncode != 0
    assert "DEBUG must be off in production" in result.stderr


def test_refuses_an_unreachable_database():
    result = start_production(DATABASE_URL="postgres://portal:secret-pw@127.0.0.1:9/portal")
    assert result.returncode != 0
    assert "critical dependencies unavailable" in result.stderr
    assert "postgres" in result.stderr
    assert "secret-pw" not in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(STRONG_KEY + "\n")
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(len(settings.SECRET_KEY))"],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "",
            "SECRET_KEY_FILE": str(key_file),
            "DATABASE_URL": "postgres://u:p@127.0.0.1:9/x",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(STRONG_KEY))


def test_an_unreadable_secret_file_is_a_clear_error(tmp_path):
    result = start_production(SECRET_KEY="", SECRET_KEY_FILE=str(tmp_path / "missing"))
    assert result.returncode != 0
    assert "SECRET_KEY_FILE points at" in result.stderr
