from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Signal receivers (sign-in/out, admin actions) and the django-auditlog registrations.
        from . import receivers, registry

        registry.auditlog_models_register()
        receivers.connect()
