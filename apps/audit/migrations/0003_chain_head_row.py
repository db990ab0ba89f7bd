"""The chain head row every audit writer locks (a schema's chain starts at the genesis hash)."""

from django.db import migrations

GENESIS_HASH = "0" * 64


def create_head(apps, schema_editor):
    apps.get_model("audit", "AuditChainHead").objects.get_or_create(pk=1, defaults={"hash": GENESIS_HASH})


def remove_head(apps, schema_editor):
    apps.get_model("audit", "AuditChainHead").objects.filter(pk=1, sequence=0).delete()


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [migrations.RunPython(create_head, remove_head)]
