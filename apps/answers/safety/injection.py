"""Prompt-injection detection for questions and for retrieved text (indirect injection).

A rule set, not a model: each rule is a pattern with a weight; the score is the sum of the weights
of the rules that match (capped at 1), and text is blocked at INJECTION_BLOCK_SCORE. Patterns run
on normalised text (apps/answers/safety/normalise.py), on a leetspeak-decoded copy, on a
letters-only copy for the strongest phrases, and on base64 / hex payloads decoded from the text,
so zero-width characters, look-alike letters, spacing and encoding do not hide a phrase.

Rules need an instruction-like object ("ignore all previous instructions", "reveal your system
prompt"), so everyday questions that share a verb ("How do I ignore spam emails?") pass.
English and German phrasings are covered.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from .normalise import deleet, normalised, squeezed, was_obfuscated

INJECTION_BLOCK_SCORE = 0.75


@dataclass(frozen=True)
class InjectionVerdict:
    blocked: bool
    score: float
    rules: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    weight: float


def _rule(name: str, weight: float, *patterns: str) -> Rule:
    return Rule(name=name, pattern=re.compile("|".join(f"(?:{p})" for p in patterns)), weight=weight)


_W = r"(?:\s+\S+){0,3}?"  # up to three filler words ("all of the", "of your")
_VERBS = r"(?:ignore|disregard|forget|bypass)"
_EARLIER = r"(?:previous|prior|above|earlier|preceding|foregoing|initial|original|all|any)"
_ORDERS = r"(?:instructions?|prompts?|directives?|programming|guardrails)"
_YOUR = r"(?:your|the system'?s?|the developer'?s?|system|developer)"
_YOUR_ORDERS = (
    r"(?:instructions?|prompts?|rules|guidelines|directives?|programming|guardrails|constraints|restrictions)"
)
_DE_VERBS = r"(?:ignorier\w*|vergiss|vergessen sie|missacht\w*|übergeh\w*|verwirf|verwerfen sie)"
_DE_EARLIER = (
    r"(?:vorherigen?|vorigen?|bisherigen?|obigen?|früheren?|ursprünglichen?|alle[nms]?|deine[nmrs]?|ihre[nmrs]?)"
)
_DE_ORDERS = r"(?:anweisungen|anweisung|instruktionen|regeln|befehle|vorgaben|richtlinien|systemprompt|prompts?)"
_PROMPT_LEAK = (
    r"(?:system ?prompt|system instructions|(?:hidden|secret|developer|initial|original) (?:prompt|instructions)"
    r"|your (?:\w+ )?(?:prompt|instructions))"
)
_DE_PROMPT_LEAK = (
    r"(?:system ?prompt|systemanweisung\w*|(?:ursprünglichen|geheimen|versteckten|deine[nmr]?) anweisungen)"
)

RULES: tuple[Rule, ...] = (
    _rule(
        "instruction_override",
        1.0,
        rf"\b{_VERBS}{_W}\s+{_EARLIER}{_W}\s+{_ORDERS}\b",
        rf"\b(?:{_VERBS}|override){_W}\s+{_YOUR}{_W}\s+{_YOUR_ORDERS}\b",
        rf"\b{_VERBS}{_W}\s+{_ORDERS} (?:above|so far|you (?:were|have been) given)\b",
        rf"\b(?:do not|don't|never|stop) (?:follow|obey|apply)(?:ing)?{_W}\s+(?:{_EARLIER}|{_YOUR}){_W}\s+{_ORDERS}\b",
        r"\bnew (?:instructions|rules|system prompt)\s*:",
        # German: "Ignoriere alle vorherigen Anweisungen", "Vergiss deine Regeln", "Missachte die obigen Befehle"
        rf"\b{_DE_VERBS}{_W}\s+{_DE_EARLIER}{_W}\s+{_DE_ORDERS}\b",
        r"\bneue (?:anweisungen|regeln)\s*:",
    ),
    _rule(
        "system_prompt_exfiltration",
        0.9,
        r"\b(?:reveal|show|print|repeat|output|display|leak|dump|disclose|tell me|give me|what (?:is|are|were))"
        rf"{_W}\s+{_PROMPT_LEAK}\b",
        r"\b(?:repeat|print|output|show)\s+(?:\S+\s+){0,3}(?:text|words|everything|instructions)"
        r"\s+(?:above|before this)\b",
        r"\bwhat (?:were|are) you (?:told|instructed|programmed)\b",
        rf"\b(?:zeig\w*|verrat\w*|gib|nenn\w*|wiederhol\w*)(?:\s+\S+){{0,3}}?\s+{_DE_PROMPT_LEAK}",
    ),
    _rule(
        "roleplay_jailbreak",
        0.9,
        r"\bdo anything now\b",
        r"\b(?:dan|jailbreak|god|evil|unrestricted) mode\b",
        r"\byou(?: are|'re) (?:now )?in (?:developer|dan|god) mode\b",
        r"\byou are (?:now )?(?:no longer|not) (?:bound|restricted|limited|an ai|an assistant)\b",
        r"\b(?:pretend|act|behave|roleplay|role-play)(?: as| to be| like| that you are| you are)?(?:\s+\S+){0,4}?\s+"
        r"(?:without|with no|free of|no) (?:restrictions|filters|rules|limits|guidelines|censorship)\b",
        r"\b(?:act|pose) as (?:an? )?(?:unrestricted|unfiltered|uncensored|evil|rogue)\b",
        r"\btu so,? als (?:ob|wärst) du(?:\s+\S+){0,4}?\s+(?:ohne|keine) (?:regeln|einschränkungen|filter)\b",
        r"\bdu bist (?:jetzt|nun|ab sofort) (?:ein|eine)? ?(?:uneingeschränkt|ungefiltert|böse)\w*\b",
    ),
    _rule(
        "delimiter_smuggling",
        0.8,
        # Our prompt's own delimiters and chat-format control tokens have no business in a question or a document.
        r"</?\s*(?:system|assistant|user|human|instructions?|documents?|passages?|evidence|chunk|context|question"
        r"|untrusted[_-]?\w*)\b[^<>]{0,80}>",
        r"<\|\s*(?:im_start|im_end|system|endoftext|start_header_id|eot_id)\s*\|>",
        r"\[/?(?:inst|sys)\]|<</?sys>>",
        r"#{2,}\s*(?:system|instruction|new instructions)\b",
        r"\b(?:begin|end) (?:of )?(?:system prompt|system message)\b",
    ),
    # Alone too common in transcripts, staff lists and HR mail ("from now on, you will receive...")
    # to block; they add to other evidence.
    _rule("chat_turn_marker", 0.4, r"(?:^|\n)\s*(?:human|assistant)\s*:\s"),
    _rule(
        "role_reassignment",
        0.5,
        r"\b(?:from now on|henceforth),? you (?:will|must|are|shall)\b",
        r"\bab (?:jetzt|sofort) (?:bist du|wirst du|musst du|sollst du)\b",
    ),
)

# The strongest phrases, matched on letters only ("i-g-n-o-r-e a l l p r e v i o u s ...").
SQUEEZED_RULES: tuple[Rule, ...] = (
    _rule(
        "instruction_override",
        1.0,
        r"(?:ignore|disregard|forget)(?:all|any)?(?:of)?(?:the|your)?(?:previous|prior|above|earlier)(?:instructions|prompts)",
        r"(?:ignoriere|vergiss)(?:alle)?(?:vorherigen|bisherigen|obigen|deine)(?:anweisungen|instruktionen)",
    ),
    _rule("system_prompt_exfiltration", 0.9, r"(?:reveal|show|print|repeat)(?:me)?(?:your|the)systemprompt"),
    _rule("roleplay_jailbreak", 0.9, r"doanythingnow"),
)

_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_TOKEN = re.compile(r"\b(?:0x)?((?:[0-9a-fA-F]{2}){8,})\b")
MAX_DECODE_ATTEMPTS = 50  # bounds the work on a long document


def _matching_rules(text: str) -> set[str]:
    plain = normalised(text)
    forms = {plain, deleet(plain), normalised(text, keep_umlauts=False)}
    names = {rule.name for rule in RULES for form in forms if rule.pattern.search(form)}
    letters = squeezed(plain)
    names |= {rule.name for rule in SQUEEZED_RULES if rule.pattern.search(letters)}
    return names


def _encoded_tokens(text: str) -> Iterator[bytes]:
    for match in _HEX_TOKEN.finditer(text):
        yield binascii.unhexlify(match.group(1))
    for match in _BASE64_TOKEN.finditer(text):
        token = match.group(0)
        if token.isalpha() and (token.islower() or token.isupper()):
            continue  # a long word, not an encoding
        padded = token + "=" * (-len(token) % 4)
        try:
            yield base64.b64decode(padded, altchars=b"-_" if "-" in token or "_" in token else None)
        except (binascii.Error, ValueError):
            continue


def _decoded_payloads(text: str) -> list[str]:
    """Printable text hidden in base64 or hex tokens (a bounded number per text)."""
    decoded = (_printable(raw) for raw in islice(_encoded_tokens(text), MAX_DECODE_ATTEMPTS))
    return [payload for payload in decoded if payload]


def _printable(raw: bytes) -> str:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    letters = sum(char.isalpha() or char.isspace() for char in decoded)
    return decoded if decoded and letters / len(decoded) > 0.7 else ""


def injection_scan(text: str) -> InjectionVerdict:
    """Score `text` (a question or a retrieved passage) against the injection rules."""
    names = _matching_rules(text)
    for payload in _decoded_payloads(text):
        if _matching_rules(payload):
            names.add("encoded_payload")
    weights = {rule.name: rule.weight for rule in RULES}
    weights["encoded_payload"] = 1.0
    score = sum(weights[name] for name in names)
    if names and was_obfuscated(text):
        names.add("obfuscation")  # hiding a matched phrase is itself evidence of intent
        score += 0.3
    score = round(min(score, 1.0), 3)
    return InjectionVerdict(blocked=score >= INJECTION_BLOCK_SCORE, score=score, rules=sorted(names))
