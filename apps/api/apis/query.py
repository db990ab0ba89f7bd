"""The data plane: ask (JSON, Server-Sent Events, or with the full agent trace), history, feedback."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import StreamingHttpResponse
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.answers.conversations import conversation_remove
from apps.answers.models import Conversation, QueryLog
from apps.answers.selectors import (
    conversation_get_for_user,
    conversation_turns,
    conversations_for_user,
    query_history_for_user,
    query_logs_withheld,
)
from apps.retrieval.search import ALL_LEGS

from ..dependencies import answer_service, feedback_service
from ..sse import StreamLease, sse_async, sse_sync
from .base import ApiListView, ApiView, validated
from .schema import errors


class QueryInput(serializers.Serializer):
    question = serializers.CharField(max_length=settings.ANSWER_MAX_QUESTION_CHARS)
    legs = serializers.ListField(
        child=serializers.ChoiceField(choices=ALL_LEGS),
        required=False,
        allow_empty=False,
        max_length=len(ALL_LEGS),
        help_text="retrieval legs to run (default: all)",
    )
    k = serializers.IntegerField(
        required=False, min_value=1, max_value=settings.ANSWER_MAX_K, help_text="passages to retrieve"
    )
    conversation_id = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="continue this conversation (a follow-up is read against its earlier questions); "
        "without it the question starts a new one",
    )


class CitationOutput(serializers.Serializer):
    number = serializers.IntegerField()
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    section = serializers.CharField(
        allow_blank=True, default="", help_text="the cited passage's section heading, or its first words"
    )
    excerpt = serializers.CharField(allow_blank=True, default="", help_text="the cited passage's text (shortened)")
    source = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # a field, not Field.source


class SourceOutput(serializers.Serializer):
    document_id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    source = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # a field, not Field.source
    chunk_ids = serializers.ListField(child=serializers.IntegerField())
    numbers = serializers.ListField(child=serializers.IntegerField(), help_text="citation numbers in the answer")


class RelatedOutput(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    section = serializers.CharField(allow_blank=True, help_text="the passage's section heading, or its first words")


class FallbackOutput(serializers.Serializer):
    provider = serializers.CharField()
    reason = serializers.CharField()


class AnswerOutput(serializers.Serializer):
    query_id = serializers.IntegerField(allow_null=True)
    conversation_id = serializers.IntegerField(allow_null=True, help_text="pass it with the next question to follow up")
    standalone_question = serializers.CharField(
        allow_blank=True,
        help_text=(
            "the question as answered when it differs from the one asked: a follow-up rewritten from its "
            "conversation, typos corrected; empty otherwise"
        ),
    )
    answer = serializers.CharField(allow_blank=True)
    outcome = serializers.ChoiceField(choices=QueryLog.Outcome.choices)
    reason = serializers.CharField(allow_blank=True, help_text="why it was refused, blocked or failed")
    citations = CitationOutput(many=True)
    sources = SourceOutput(many=True, help_text="the cited documents, each once")
    related = RelatedOutput(
        many=True,
        help_text="refused, but the evidence came close: the documents (and sections) to look in; not an answer",
    )
    legs = serializers.DictField(child=serializers.CharField(), help_text="retrieval leg -> ok|timeout|error|skipped")
    model = serializers.CharField(allow_blank=True)
    provider = serializers.CharField(allow_blank=True)
    fallbacks = FallbackOutput(many=True)
    latency_ms = serializers.FloatField()
    ttft_ms = serializers.FloatField(allow_null=True)
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    trace_id = serializers.CharField(allow_blank=True)
    cached = serializers.BooleanField()


class AgentAnswerOutput(AnswerOutput):
    trace = serializers.DictField(help_text="the orchestrator's ExecutionTrace: every step, its timing and output")


def _answer(request, *, stream: bool):
    data = validated(QueryInput, request.data)
    return answer_service()(
        user=request.user,
        question=data["question"],
        stream=stream,
        legs=data.get("legs"),
        k=data.get("k"),
        channel="api",
        conversation_id=data.get("conversation_id"),
    )


# The documented top-level keys. The service's values already have the documented types and nested
# shapes, so the body is projected onto these keys instead of passed through the serializers, whose
# per-request field copies were a twentieth of the API's CPU time per question.
ANSWER_KEYS = tuple(AnswerOutput._declared_fields)
AGENT_ANSWER_KEYS = tuple(AgentAnswerOutput._declared_fields)


class QueryApi(ApiView):
    @extend_schema(operation_id="query", request=QueryInput, responses={200: AnswerOutput, **errors(400, 404, 504)})
    def post(self, request):
        return Response(_answer(request, stream=False).as_dict(ANSWER_KEYS))


class QueryAgentApi(ApiView):
    @extend_schema(
        operation_id="query_agent", request=QueryInput, responses={200: AgentAnswerOutput, **errors(400, 404, 504)}
    )
    def post(self, request):
        return Response(_answer(request, stream=False).as_dict(AGENT_ANSWER_KEYS))


class StreamEventOutput(serializers.Serializer):
    """One Server-Sent Event, as a client's EventSource parses it."""

    event = serializers.ChoiceField(choices=["citation", "token", "error", "trace", "done"])
    data = serializers.CharField(  # type: ignore[assignment]  # a field, not Serializer.data
        help_text="a JSON document, shaped by the event type (see docs/api.md)"
    )


SSE_DESCRIPTION = (
    "Server-Sent Events: `citation` and `token` events as the answer is written, then `error` if it "
    "failed, then one `trace` and one `done` (the full answer, as POST /query returns it). "
    "Closing the connection cancels generation."
)


class QueryStreamApi(ApiView):
    @extend_schema(
        operation_id="query_stream",
        request=QueryInput,
        responses={
            (200, "text/event-stream"): OpenApiResponse(StreamEventOutput, description=SSE_DESCRIPTION),
            **errors(400, 404, 503),
        },
    )
    def post(self, request):
        tenant = connection.tenant  # type: ignore[attr-defined]
        # Counted with the user's portal streams: PORTAL_STREAMS_PER_USER / _PER_TENANT apply to both.
        lease = StreamLease.acquire(tenant=tenant.schema_name, user_id=request.user.pk)
        try:
            events = _answer(request, stream=True)
        except BaseException:
            lease.release()
            raise
        body = (
            sse_async(events, tenant=tenant, language=translation.get_language(), lease=lease)
            if isinstance(request._request, ASGIRequest)
            else sse_sync(events, tenant=tenant, lease=lease)
        )
        response = StreamingHttpResponse(body, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
        return response


class HistoryItemOutput(serializers.ModelSerializer):
    query_id = serializers.IntegerField(source="pk")
    answer = serializers.SerializerMethodField(help_text="empty when answer_withheld")
    answer_withheld = serializers.SerializerMethodField(
        help_text="the answer cited a passage you can no longer open, so its text is withheld"
    )

    def get_answer(self, entry: QueryLog) -> str:
        return "" if self.get_answer_withheld(entry) else entry.answer

    def get_answer_withheld(self, entry: QueryLog) -> bool:
        return entry.pk in self.context.get("withheld", ())

    class Meta:
        model = QueryLog
        fields = [
            "query_id",
            "conversation_id",
            "query",
            "standalone_query",
            "answer",
            "answer_withheld",
            "outcome",
            "reason",
            "document_ids",
            "model",
            "provider",
            "latency_ms",
            "trace_id",
            "channel",
            "created_at",
        ]


class HistoryApi(ApiListView):
    @extend_schema(
        operation_id="history_list",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: HistoryItemOutput(many=True), **errors(404)},
    )
    def get(self, request):
        page = self.paginate_queryset(query_history_for_user(user=request.user))
        withheld = query_logs_withheld(user=request.user, entries=page or [])
        return self.get_paginated_response(HistoryItemOutput(page, many=True, context={"withheld": withheld}).data)


class ConversationOutput(serializers.ModelSerializer):
    conversation_id = serializers.IntegerField(source="pk")
    turns = serializers.IntegerField(source="turn_count", help_text="questions asked in it")

    class Meta:
        model = Conversation
        fields = ["conversation_id", "title", "turns", "created_at", "updated_at"]


class ConversationListApi(ApiListView):
    @extend_schema(
        operation_id="conversation_list",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: ConversationOutput(many=True), **errors(404)},
    )
    def get(self, request):
        page = self.paginate_queryset(conversations_for_user(user=request.user))
        return self.get_paginated_response(ConversationOutput(page, many=True).data)


class ConversationDetailOutput(ConversationOutput):
    turn_list = serializers.SerializerMethodField(help_text="its questions, oldest first")

    def get_turn_list(self, conversation: Conversation) -> Any:
        turns = list(conversation_turns(conversation=conversation))
        withheld = query_logs_withheld(user=self.context["user"], entries=turns)
        return HistoryItemOutput(turns, many=True, context={"withheld": withheld}).data

    class Meta(ConversationOutput.Meta):
        fields = [*ConversationOutput.Meta.fields, "turn_list"]


class ConversationApi(ApiView):
    @extend_schema(operation_id="conversation_get", responses={200: ConversationDetailOutput, **errors(404)})
    def get(self, request, conversation_id: int):
        conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
        return Response(ConversationDetailOutput(conversation, context={"user": request.user}).data)

    @extend_schema(operation_id="conversation_remove", responses={204: None, **errors(404)})
    def delete(self, request, conversation_id: int):
        conversation_remove(user=request.user, conversation_id=conversation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FeedbackApi(ApiView):
    class FeedbackInput(serializers.Serializer):
        query_id = serializers.IntegerField(min_value=1)
        rating = serializers.ChoiceField(choices=[(1, "helpful"), (-1, "not helpful")])
        comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
        corrected_answer = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="")
        flagged_chunk_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1), required=False, max_length=100, default=list
        )

    class FeedbackOutput(serializers.Serializer):
        feedback_id = serializers.IntegerField(source="pk")
        query_id = serializers.IntegerField()
        rating = serializers.IntegerField()

    @extend_schema(
        operation_id="feedback_create", request=FeedbackInput, responses={201: FeedbackOutput, **errors(400, 404)}
    )
    def post(self, request):
        data = validated(self.FeedbackInput, request.data)
        feedback = feedback_service()(user=request.user, **data)
        return Response(self.FeedbackOutput(feedback).data, status=status.HTTP_201_CREATED)
