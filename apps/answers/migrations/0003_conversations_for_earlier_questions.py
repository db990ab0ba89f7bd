"""Questions asked before conversations existed each become a conversation of their own, so History
(which lists conversations) still shows them."""

from django.db import migrations
from django.db.models import OuterRef, Subquery

BATCH = 1000
TITLE_CHARS = 200


def _title(question: str) -> str:
    return question if len(question) <= TITLE_CHARS else question[: TITLE_CHARS - 1] + "…"


def one_conversation_per_earlier_question(apps, schema_editor):
    QueryLog = apps.get_model("answers", "QueryLog")
    Conversation = apps.get_model("answers", "Conversation")
    while True:
        rows = list(QueryLog.objects.filter(conversation__isnull=True).order_by("pk")[:BATCH])
        if not rows:
            return
        conversations = Conversation.objects.bulk_create(
            [Conversation(user_id=row.user_id, title=_title(row.query)) for row in rows]
        )
        for row, conversation in zip(rows, conversations, strict=True):
            row.conversation_id = conversation.pk
        QueryLog.objects.bulk_update(rows, ["conversation"])
        # Dated like their question (auto_now set them to now).
        asked_at = Subquery(QueryLog.objects.filter(conversation_id=OuterRef("pk")).values("created_at")[:1])
        Conversation.objects.filter(pk__in=[c.pk for c in conversations]).update(
            created_at=asked_at, updated_at=asked_at
        )


class Migration(migrations.Migration):
    dependencies = [("answers", "0002_conversations")]

    operations = [migrations.RunPython(one_conversation_per_earlier_question, migrations.RunPython.noop)]
