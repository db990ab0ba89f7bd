"""Questions of several hops: the embedded clauses a question builds on, as questions of their own.

"Who was in charge of the country where the composer of Aschenbrodel was a citizen?" needs "the
composer of Aschenbrodel" first; a passage about the bridge entity is found when that clause is
looked up on its own. The answers' planner retrieves each clause as a sub-question, and retrieval
takes a second round through the first round's best passage for such a question (its bridge hop).
Heuristic and conservative: a relative clause, a possessive chain or "the <role> of <Name>".
"""

from __future__ import annotations

import re

_RELATIVE = re.compile(r"\b(which|that|who|whom|whose|where)\b", re.IGNORECASE)
_DETERMINER = {"the", "a", "an", "this", "its", "his", "her", "their"}
_POSSESSIVE = re.compile(r"\b((?:[A-Z][\w.-]*\s+){0,4}[A-Z][\w.-]*)'s\s+([a-z][\w-]*)")
# "the composer of Aschenbrodel": a role of a named thing, usually the first hop.
_ROLE_OF_NAME = re.compile(r"\bthe ([a-z][\w-]*) of ((?:the )?[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,5})")
_GENERIC_ROLES = {"name", "kind", "type", "number", "part", "rest", "end", "start", "beginning", "use", "size"}
_CLAUSE_END = re.compile(r"[,;?]|\s(?:which|that|who|whom|whose|where|and|but)\s", re.IGNORECASE)
MAX_SUB_QUESTIONS = 2
MAX_NOUN_PHRASE_WORDS = 6
# A sentence ends at . ! or ? before a space (people type "... in the UK. can i ..." too); unless the
# word before the stop is an initial ("Harris W. Fawell"), dotted ("the U.S. Army") or a title or
# abbreviation that takes a stop ("Mr. Smith").
_SENTENCE_END = re.compile(r"[.!?]\s+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt ft jr sr no nos vs etc co inc ltd corp gen col capt lt sgt rev hon dept approx".split()  # noqa: SIM905
)


def question_sentences(question: str) -> list[str]:
    """The sentences of a question ("I rent a flat in England. Can my landlord ...?" has two)."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(question):
        before = question[start : match.start()].split()
        word = before[-1].rstrip(".").lower() if before else ""
        initial = len(word) == 1 and word.isalpha()  # a digit before a stop ends a sentence ("aged 3.")
        numbered = not any(character.isalpha() for character in "".join(before))  # "1. what are ..."
        if not word or initial or numbered or "." in word or word in _ABBREVIATIONS:
            continue
        sentences.append(question[start : match.start() + 1].strip())
        start = match.end()
    sentences.append(question[start:].strip())
    return [sentence for sentence in sentences if sentence]


def asked_sentence(question: str) -> str:
    """The sentence that asks: the last one. What comes before it tells the asker's situation
    (conditions to meet), not a chain of hops to follow."""
    sentences = question_sentences(question)
    return sentences[-1] if sentences else question


def sub_questions(question: str) -> tuple[str, ...]:
    """Embedded clauses as stand-alone queries: "the association which published X" -> "association which
    published X"; "Hello Love's performer" -> "performer of Hello Love"."""
    found: list[str] = [
        f"{match.group(1)} of {match.group(2)}"
        for match in _ROLE_OF_NAME.finditer(question)
        if match.group(1) not in _GENERIC_ROLES
    ]
    found += [f"{match.group(2)} of {match.group(1)}" for match in _POSSESSIVE.finditer(question)]
    for match in _RELATIVE.finditer(question):
        if match.start() == 0:
            continue  # "Who ...": the question word, not a relative pronoun
        head = _noun_phrase_before(question[: match.start()])
        if not head:
            continue
        rest = question[match.end() :]
        end = _CLAUSE_END.search(rest)
        clause = rest[: end.start()] if end else rest
        if len(clause.split()) >= 2:
            found.append(f"{head} {match.group(1).lower()} {clause.strip()}")
    unique = [text for text in dict.fromkeys(found) if text.casefold() != question.casefold().rstrip("?")]
    return tuple(unique[:MAX_SUB_QUESTIONS])


def _noun_phrase_before(text: str) -> str:
    """The words between the nearest determiner and the relative pronoun ("the first association" -> those)."""
    words = text.split()
    for back in range(1, min(len(words), MAX_NOUN_PHRASE_WORDS + 1) + 1):
        if words[-back].endswith((".", "!", "?", ",", ";")):
            return ""  # the phrase would reach across a clause or into the previous sentence
        if words[-back].lower() in _DETERMINER:
            phrase = words[len(words) - back + 1 :]
            return " ".join(phrase) if phrase else ""
    return ""


# "How many vacation days do I get and can I carry them over?": a second ask joined by "and" (or
# "also") and opening with a question word, an auxiliary or a request ("explain ...").
_SECOND_ASK = re.compile(
    r"\s*,?\s*\b(?:and(?:\s+also)?|also)\s+(?=(?:how|what|when|where|who|whom|which|why|can|could|do|does|did"
    r"|is|are|was|were|should|will|would|may|must|explain|tell|please)\b)",
    re.IGNORECASE,
)
MIN_PART_WORDS = 2


def asked_parts(sentence: str) -> tuple[str, ...]:
    """The asks of one sentence that asks two or more things, each as it stands ("How many vacation
    days do I get", "can I carry them over?"); the sentence alone when it asks one thing."""
    parts = [part.strip() for part in _SECOND_ASK.split(sentence)]
    if len(parts) < 2 or any(len(part.split()) < MIN_PART_WORDS for part in parts):
        return (sentence,)
    return tuple(parts)
