"""A socket question's answer events, preceded by its admission, all on the answer's own thread.

Before a question is answered the socket's session and user are read again (apps/portal/realtime/
identity.py) and the user's question budget is charged (apps/portal/question_limits.py). Doing
that on the thread and database connection the answer then uses, rather than on a thread of its
own, saves a connection checkout and a thread hop per question: under fifty concurrent streams
that was a fifth of the web process's CPU per answer (py-spy, docs/portal.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from apps.answers.events import AnswerEvent
from apps.answers.services import answer_question
from apps.tenants.context import tenant_for_schema

from ..question_limits import question_wait_seconds
from .identity import session_user

ADMITTED = "admitted"  # data: {"user": today's user row}; the answer's own events follow
SIGNED_OUT = "signed_out"  # the socket must not act for anyone any more


def admitted_answer_events(
    *, schema_name: str, session_key: str | None, user_id: int, question: str, conversation_id: int | None
) -> Iterator[AnswerEvent]:
    """Runs inside the tenant's schema. A refused question yields one event (SIGNED_OUT, or an
    `error` with code `rate_limited`) and nothing else."""
    user = session_user(session_key=session_key, user_id=user_id)
    if user is None:
        yield AnswerEvent(type=SIGNED_OUT, data={})
        return
    if tenant_for_schema(schema_name).writes_frozen_at is not None:
        # Being moved to another shard: a question writes the query log, so it waits (apps/tenants/freeze.py).
        yield AnswerEvent(type="error", data={"code": "tenant_moving"})
        return
    if wait := question_wait_seconds(schema_name=schema_name, user=user):
        yield AnswerEvent(type="error", data={"code": "rate_limited", "seconds": wait})
        return
    yield AnswerEvent(type=ADMITTED, data={"user": user})
    yield from answer_question(
        user=user, question=question, stream=True, channel="portal", conversation_id=conversation_id
    )
