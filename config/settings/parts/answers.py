"""Answer providers (LLM) and the answer pipeline (docs/answers.md)."""

from __future__ import annotations

from ..environment import env, secret

# --- LLM ----------------------------------------------------------------------------------------
ANTHROPIC_API_KEY = secret("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="")  # tests point this at a local fake server
ANTHROPIC_MODEL = env.str("ANTHROPIC_MODEL", default="claude-sonnet-4-6")
ANTHROPIC_TIMEOUT = env.float("ANTHROPIC_TIMEOUT", default=30.0)
# Answer providers by name; the model router (apps/answers/router/) tries them in the tenant's order.
# MAX_CONCURRENCY: calls in flight per process; TIMEOUT caps the request's own timeout (seconds);
# METERED: counts against the tenant's daily token budget (the offline extractive provider costs nothing).
# SPECULATIVE: the request is sent while the evidence is still being judged, which hides that check
# behind the model's time to first token; a question then refused still costs its prompt's input tokens.
# JUDGES_EVIDENCE: evidence in the borderline band (apps/answers/evidence/model.json) goes to this model,
# which answers from it or says the passages do not answer (recorded as a refusal, reason model_refused).
LLM_PROVIDERS = {
    "anthropic": {
        "BACKEND": "apps.integrations.llm.anthropic_provider.AnthropicProvider",
        "MODEL": ANTHROPIC_MODEL,
        "MAX_CONCURRENCY": env.int("ANTHROPIC_MAX_CONCURRENCY", default=8),
        "TIMEOUT": ANTHROPIC_TIMEOUT,
        "METERED": True,
        "SPECULATIVE": env.bool("ANTHROPIC_SPECULATIVE", default=True),
        "JUDGES_EVIDENCE": env.bool("ANTHROPIC_JUDGES_EVIDENCE", default=True),
    },
    "extractive": {
        "BACKEND": "apps.answers.providers.extractive.ExtractiveProvider",
        "MODEL": "extractive",
        "MAX_CONCURRENCY": env.int("EXTRACTIVE_MAX_CONCURRENCY", default=32),
        "TIMEOUT": 30.0,
        "METERED": False,
    },
}
LLM_DEFAULT_ORDER = env.list(
    "LLM_DEFAULT_ORDER", default=["anthropic", "extractive"] if ANTHROPIC_API_KEY else ["extractive"]
)
# How long a call waits for a free provider slot before falling back to the next provider.
LLM_CONCURRENCY_WAIT_SECONDS = env.float("LLM_CONCURRENCY_WAIT_SECONDS", default=0.25)
ANSWER_MAX_TOKENS = env.int("ANSWER_MAX_TOKENS", default=1024)
# Dotted paths of content filter hooks, called as hook(text=..., stage=...) -> FilterVerdict | None
# (apps/answers/safety/content_filter.py); stages "question", "passage", "answer".
ANSWER_CONTENT_FILTERS: list[str] = []
# Terms the built-in BlockedTermsFilter refuses (add "apps.answers.safety.content_filter.BlockedTermsFilter" above).
ANSWER_BLOCKED_TERMS: list[str] = env.list("ANSWER_BLOCKED_TERMS", default=[])
# Regions whose local phone formats (no +country code) the PII redactor recognises.
PII_PHONE_REGIONS = env.list("PII_PHONE_REGIONS", default=["US", "GB", "DE"])

# --- Answers (docs/answers.md) ------------------------------------------------------------------
# The whole question, and each step, is bounded; past either the answer stops with QueryTimeoutError.
ANSWER_TIMEOUT_SECONDS = env.float("ANSWER_TIMEOUT_SECONDS", default=30.0)
ANSWER_STEP_BUDGETS_SECONDS = {
    "contextualizer": 1.0,
    "speller": 1.0,
    "planner": 1.0,
    "retriever": 8.0,
    "synthesizer": 25.0,  # includes the provider's stream
    "verifier": 3.0,
    "critic": 1.0,
    "citation": 1.0,
    "formatter": 1.0,
}
# Typos corrected to the words of the documents the asker may view (apps/text/spelling.py).
ANSWER_SPELLING_CORRECTION = env.bool("ANSWER_SPELLING_CORRECTION", default=True)
ANSWER_MAX_QUESTION_CHARS = env.int("ANSWER_MAX_QUESTION_CHARS", default=2000)
ANSWER_RETRIEVAL_K = env.int("ANSWER_RETRIEVAL_K", default=8)  # chunks retrieved per question
ANSWER_MAX_K = 50
ANSWER_MAX_PASSAGES = env.int("ANSWER_MAX_PASSAGES", default=6)  # passages the answer may cite
# Evidence sufficiency (apps/answers/evidence/sufficiency.py): below this confidence the answer is a
# refusal. Unset: the threshold fitted with the model (apps/answers/evidence/model.json).
ANSWER_EVIDENCE_MIN_CONFIDENCE: float | None = env.float("ANSWER_EVIDENCE_MIN_CONFIDENCE", default=None)
# Verifier: a cited passage supports a sentence holding this share of its terms, or (paraphrase) one of
# its sentences this close in embedding space.
ANSWER_SUPPORT_MIN_TERM_OVERLAP = 0.6
ANSWER_SUPPORT_MIN_SIMILARITY = 0.65
# Critic: below this share of the question's terms covered, the answer gets a "may not cover" note.
ANSWER_MIN_COVERAGE = 0.34
