"""Run every question of a BEIR-layout dataset through `answer_question` and score the answers.

- `answer_accuracy`: share of answerable questions with accepted answers whose answer contains one
  of them after SQuAD-style normalisation (lower case, no punctuation or articles);
- `answer_token_recall`: mean share of the best accepted answer's tokens found in the answer (more
  telling than containment for long free-text answers such as ClapNQ's);
- `refusal_rate_unanswerable` / `refusal_rate_answerable`: refused share of the questions marked
  `"answerable": false` / of the others;
- `citation_precision`: cited chunks whose document the qrels call relevant, over all chunks cited
  in answers to questions that have qrels;
- latency and time-to-first-token percentiles over all questions.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from apps.accounts.models import User
from apps.answers.errors import QueryTimeoutError
from apps.answers.events import AnswerResult
from apps.answers.services import answer_question
from apps.bench.retrieval.beir import BeirDataset, BeirQuery
from apps.bench.retrieval.metrics import percentile
from apps.bench.retrieval.runner import external_ids_by_chunk

EVALUATION_USERNAME = "rag-answer-eval"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def evaluation_user() -> User:
    """A superuser of the current tenant who may view every document and never signs in."""
    user, created = User.objects.get_or_create(
        username=EVALUATION_USERNAME, defaults={"is_superuser": True, "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def normalised(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", text.casefold().translate(_PUNCTUATION)).split())


def answer_contains(answer: str, accepted: tuple[str, ...]) -> bool:
    text = normalised(answer)
    return any(normalised(option) and normalised(option) in text for option in accepted)


def token_recall(answer: str, accepted: tuple[str, ...]) -> float:
    found = set(normalised(answer).split())
    recalls = [
        sum(token in found for token in tokens) / len(tokens)
        for tokens in (normalised(a).split() for a in accepted)
        if tokens
    ]
    return max(recalls, default=0.0)


@dataclass
class _Scored:
    query: BeirQuery
    result: AnswerResult | None  # None: timed out

    @property
    def outcome(self) -> str:
        return self.result.outcome if self.result else "timed_out"

    @property
    def answer(self) -> str:
        """The answer text when it was answered; a refusal or error counts as no answer."""
        return self.result.answer if self.result and self.outcome == "answered" else ""

    @property
    def citations(self) -> list[dict]:
        return self.result.citations if self.result and self.outcome == "answered" else []


def answers_evaluate(*, dataset: BeirDataset, user: User, on_query: Callable[[], None] | None = None) -> dict:
    scored: list[_Scored] = []
    for query in dataset.queries:
        result: AnswerResult | None
        try:
            result = answer_question(user=user, question=query.text, channel="eval", use_cache=False)
        except QueryTimeoutError:
            result = None
        scored.append(_Scored(query=query, result=result))
        if on_query:
            on_query()
    return _report(scored, dataset=dataset)


def _report(scored: list[_Scored], *, dataset: BeirDataset) -> dict:
    answerable = [item for item in scored if item.query.answerable]
    unanswerable = [item for item in scored if not item.query.answerable]
    with_answers = [item for item in answerable if item.query.answers]
    results = [item.result for item in scored if item.result is not None]
    latencies = [result.latency_ms for result in results]
    ttfts = [result.ttft_ms for result in results if result.ttft_ms is not None]
    return {
        "questions": len(scored),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "outcomes": dict(Counter(item.outcome for item in scored)),
        "answer_accuracy": _mean(answer_contains(item.answer, item.query.answers) for item in with_answers),
        "answer_token_recall": _mean(token_recall(item.answer, item.query.answers) for item in with_answers),
        "refusal_rate_unanswerable": _mean(item.outcome == "refused" for item in unanswerable)
        if unanswerable
        else None,
        "refusal_rate_answerable": _mean(item.outcome == "refused" for item in answerable) if answerable else None,
        "citation_precision": _citation_precision(scored, dataset=dataset),
        "latency_p50_ms": round(percentile(latencies, 0.5), 1),
        "latency_p95_ms": round(percentile(latencies, 0.95), 1),
        "ttft_p50_ms": round(percentile(ttfts, 0.5), 1),
        "ttft_p95_ms": round(percentile(ttfts, 0.95), 1),
    }


def _mean(values: Iterable[float | bool]) -> float:
    numbers = [float(value) for value in values]
    return round(sum(numbers) / len(numbers), 4) if numbers else 0.0


def _citation_precision(scored: list[_Scored], *, dataset: BeirDataset) -> float | None:
    document_of = external_ids_by_chunk()
    judged = [
        dataset.qrels[item.query.id].get(document_of.get(citation["chunk_id"], ""), 0) > 0
        for item in scored
        if dataset.qrels.get(item.query.id)
        for citation in item.citations
    ]
    return _mean(judged) if judged else None
