"""The Celery application. Workers: `celery -A config.celery_app worker -Q ingestion|default`."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_to_start_without_critical_dependencies(**_kwargs) -> None:
    from apps.health.startup import verify_critical_dependencies_if_configured

    verify_critical_dependencies_if_configured()
