from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "apps.portal"
    label = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        # Connects the job-progress receiver in every process, the Celery worker included (it sends the signal).
        from .realtime import job_progress  # noqa: F401
