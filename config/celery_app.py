"""The Celery application. Workers: `celery -A config.celery_app worker -Q ingestion|graph|default`.

Shutdown (roadmap 9.2): SIGTERM is a warm shutdown: the worker takes no new task and finishes the
one it runs. Tasks are acknowledged only after they ran (acks_late), so a worker killed before
that (SIGKILL, OOM, lost node) leaves its task to the broker, which hands it to another worker
after the visibility timeout; a lost pool process requeues at once (reject_on_worker_lost).
"""

import os

from celery import Celery
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_prerun,
    worker_init,
    worker_process_shutdown,
    worker_ready,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_to_start_without_critical_dependencies(**_kwargs) -> None:
    from apps.health.startup import verify_critical_dependencies_if_configured

    verify_critical_dependencies_if_configured()


@setup_logging.connect
def keep_portal_logging(**kwargs) -> None:
    """Connected at all, this stops Celery replacing our handlers (JSON, redaction) with its own."""
    from apps.core.observability.worker import worker_logging_configure

    worker_logging_configure(**kwargs)


@before_task_publish.connect
def carry_request_id(**kwargs) -> None:
    from apps.core.observability.worker import request_id_into_headers

    request_id_into_headers(**kwargs)


@task_prerun.connect
def restore_request_id(**kwargs) -> None:
    from apps.core.observability.worker import request_id_from_headers

    request_id_from_headers(**kwargs)


@worker_ready.connect
def serve_worker_metrics(**kwargs) -> None:
    from apps.core.observability.worker import metrics_server_start

    metrics_server_start(**kwargs)


@worker_process_shutdown.connect
def forget_dead_pool_process(**kwargs) -> None:
    from apps.core.observability.worker import metrics_process_dead

    metrics_process_dead(**kwargs)
