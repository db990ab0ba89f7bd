"""A task that fails with secrets in its message and arguments (loaded into test workers only)."""

from __future__ import annotations

import logging

from celery import shared_task

from .secrets import SECRETS_TEXT

logger = logging.getLogger(__name__)


@shared_task(name="tests.ops.tasks.fail_with_secrets")
def fail_with_secrets(**_credentials: str) -> None:
    logger.warning("about to fail, credentials %s", _credentials)
    raise RuntimeError(f"upstream refused the call: {SECRETS_TEXT}")
