"""Planner: screen the question, classify it, and choose retrieval legs, k and sub-questions.

Classification is heuristic and conservative: only unmistakable greetings are chit-chat and only
plain requests for creative writing, jokes or arithmetic are out of scope; everything else is
looked up in the documents (a wrong "out of scope" would hide an answer the user is entitled to).
A question with a relative clause or a possessive chain ("the president of the association
which published X") is multi-hop: each embedded clause becomes a sub-question retrieved on its
own, so the passage about the bridge entity is found even when the whole question misses it.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings

from apps.answers.orchestrator.state import CHIT_CHAT, LOOKUP, MULTI_HOP, OUT_OF_SCOPE, AnswerState, Plan
from apps.answers.orchestrator.trace import StepRecord
from apps.answers.safety.content_filter import content_filters_run
from apps.answers.safety.injection import injection_scan
from apps.text.questions import sub_questions

logger = logging.getLogger(__name__)

_CHIT_CHAT = re.compile(
    r"^(hi|hello|hey|hiya|hallo|good (morning|afternoon|evening|day)|thanks?( a lot| you( very much| so much)?)?"
    r"|thx|cheers|bye|goodbye|see you|how are you( doing)?( today)?|who are you|what can you do"
    r"|what are you|ok(ay)?|great|cool|nice)[\s!.?,:)]*$",
    re.IGNORECASE,
)
_OUT_OF_SCOPE = re.compile(
    r"^(please |can you |could you )?(write|compose|draft|generate|make up) (me )?(a |an |some )?"
    r"(poem|song|story|essay|joke|haiku|limerick|rap|lyrics)\b"
    r"|^(please )?(tell|give) me (a )?(joke|riddle)s?\b"
    r"|^(what|how much) is -?\d+(\.\d+)?\s*[-+*/x\u00d7\u00f7^]\s*-?\d+(\.\d+)?\s*\??$"
    r"|^what('s| is) the weather\b",
    re.IGNORECASE,
)


def planner_run(state: AnswerState, record: StepRecord) -> None:
    """Sets state.plan, or state.outcome when the question is blocked or needs no retrieval."""
    if _question_blocked(state, record):
        return
    kind = _classify(state.question)
    clauses = sub_questions(state.question) if kind == LOOKUP else ()
    if clauses:
        kind = MULTI_HOP
    legs = tuple(state.legs_requested or settings.RETRIEVAL_DEFAULT_LEGS)
    k = state.k_requested or settings.ANSWER_RETRIEVAL_K
    state.plan = Plan(kind=kind, legs=legs, k=k, sub_questions=clauses)
    record.summary.update({"kind": kind, "legs": list(legs), "k": k, "sub_questions": len(clauses)})


def _question_blocked(state: AnswerState, record: StepRecord) -> bool:
    verdict = injection_scan(state.question)
    record.summary["injection_score"] = verdict.score
    if verdict.blocked:
        state.outcome, state.reason = "blocked", "prompt_injection"
        record.summary["injection_rules"] = verdict.rules
        logger.warning(
            "question blocked as prompt injection",
            extra={"tenant_schema": state.tenant_schema, "rules": verdict.rules, "score": verdict.score},
        )
        return True
    content = content_filters_run(text=state.question, stage="question")
    if not content.allowed:
        state.outcome, state.reason = "blocked", "content_filter"
        record.summary["content_filter"] = content.reason
        logger.warning(
            "question blocked by a content filter",
            extra={"tenant_schema": state.tenant_schema, "filter_reason": content.reason},
        )
        return True
    return False


def _classify(question: str) -> str:
    text = " ".join(question.split())
    if _CHIT_CHAT.match(text):
        return CHIT_CHAT
    if _OUT_OF_SCOPE.search(text):
        return OUT_OF_SCOPE
    return LOOKUP
