"""pgvector in the public schema: every tenant schema reaches it through its search_path."""

from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.RunSQL(
            sql="CREATE EXTENSION IF NOT EXISTS vector SCHEMA public",
            # Dropping the extension would destroy every tenant's embeddings: reversing is a no-op.
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
