from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Signal receivers (sign-in/out, admin actions), the django-auditlog registrations, and
        # the Compliance group's permissions after each tenant migration.
        from . import receivers, registry
        from .compliance import compliance_group_on_migrate

        registry.auditlog_models_register()
        receivers.connect()
        post_migrate.connect(compliance_group_on_migrate, sender=self, dispatch_uid="audit.compliance_group")
