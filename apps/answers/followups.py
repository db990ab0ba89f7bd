"""Follow-ups: turn a follow-up ("and for part-timers?") into a question that stands alone.

Retrieval, the evidence check and the answerer see one question; a follow-up only makes sense with
the thread, so it is rewritten first from the *questions* asked earlier in the same conversation
(never their answers or passages: every turn is answered only from what the user may open now).

The rewrite is deterministic and runs offline, for every provider: it adds no model call and no
latency, and the same follow-up is always understood the same way. Three kinds of follow-up:

- **ellipsis**, a fragment that leans on the last question: "And for part-timers?", "What about
  Lisbon?", "What if I'm sick?", or a bare "Part-timers?" -> the last full question with the
  fragment attached: "How many vacation days do I get per year, for part-timers?";
- **reference**, a pronoun with nothing in its own question to point to: "Can I carry them over?"
  -> "Can I carry the vacation days over?" (the topic is the longest run of content words of the
  last full question);
- **too short to stand alone**, a question word and at most one content word: "Who do I tell?"
  -> "Who do I tell about the laptop?".

Anything else is a new question in the same thread and is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

ELLIPSIS = "ellipsis"
REFERENCE = "reference"
TOO_SHORT = "too_short"

# Openers of a fragment, and the word that joins the fragment to the question it continues.
_OPENERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"^(?:{pattern})\b[\s,]*", re.IGNORECASE), joiner)
    for pattern, joiner in (
        (r"(?:and |but |so )?(?:what|how) about", "for"),
        (r"(?:and |but )?(?:the )?same (?:for|with)", "for"),
        (r"(?:and |but |so )?what if", "if"),
        (r"and if|but if|even if", "if"),
        (r"and|but|also|or|plus", "for"),
    )
)
_QUESTION_WORDS = {
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "can", "could", "may", "might",
    "must", "shall", "should", "will", "would", "do", "does", "did", "is", "are", "was", "were", "am",
    "have", "has", "had", "whats", "what's", "who's", "where's", "how's",
}  # fmt: skip
_PREPOSITIONS = {
    "for", "in", "at", "on", "with", "without", "during", "after", "before", "from", "to", "by", "under",
    "over", "about", "of", "outside", "inside", "within", "via", "if", "when", "while", "as",
}  # fmt: skip
_DETERMINERS = {"the", "a", "an", "my", "your", "our", "his", "her", "their", "its", "this", "that", "these", "those"}
# Pronouns that point back: replaced by the topic ("the vacation days") or its possessive.
_OBJECT_PRONOUNS = {"it", "them", "they", "this", "that", "these", "those"}
_POSSESSIVE_PRONOUNS = {"its", "their"}
# Words that are never the topic of a question: question words, pronouns, auxiliaries, light verbs.
_NOT_CONTENT = (
    _QUESTION_WORDS
    | _PREPOSITIONS
    | _DETERMINERS
    | _OBJECT_PRONOUNS
    | {
        "i", "me", "you", "we", "us", "he", "him", "she", "one", "ones", "there", "here", "i'm", "i've",
        "i'd", "i'll", "get", "gets", "got", "getting", "do", "done", "doing", "make", "makes", "made", "need",
        "needs", "want", "wants", "have", "having", "be", "been", "being", "go", "going", "take", "takes",
        "much", "many", "long", "often", "per", "any", "some", "every", "each", "all", "not", "no", "yes",
        "then", "than", "also", "just", "only", "still", "really", "please", "and", "or", "but", "so", "up",
        "out", "off", "down", "back", "again", "own", "other", "else", "more", "most", "less", "ok", "okay",
        "tell", "know", "say", "mean", "happen", "happens", "allowed", "supposed", "able",
    }
)  # fmt: skip
_WORD = re.compile(r"[\w][\w'\u2019-]*")
_TRAILING = re.compile(r"[\s?.!,;:]+$")
MAX_CONTENT_WORDS_OF_A_FRAGMENT = 3


@dataclass(frozen=True)
class Turn:
    """An earlier question of the thread: as asked, and as answered when it was rewritten."""

    asked: str
    standalone: str = ""

    @property
    def understood(self) -> str:
        return self.standalone or self.asked


@dataclass(frozen=True)
class Rewrite:
    question: str  # what is answered: the standalone question
    rule: str = ""  # ellipsis | reference | too_short, or "" when the question stands alone
    # What a fragment adds to the question it leans on ("part-timers"): the answer must be about
    # it, not merely about the earlier question (apps.answers.evidence.sentences.follow_up_rank).
    focus: str = ""


def standalone_question(question: str, earlier: Sequence[Turn]) -> Rewrite:
    """The question to answer, given the earlier turns of its thread (oldest first)."""
    base = _last_full_question(earlier)
    if base is None:
        return Rewrite(question)
    fragment, joiner = _fragment_after_opener(question)
    if fragment is not None and not _is_a_question_of_its_own(fragment):
        return Rewrite(_attached(base, fragment, joiner), ELLIPSIS, focus=fragment)
    own = _as_question(fragment) if fragment is not None else question
    topic = _topic_of(base)
    if _is_a_bare_fragment(own):
        return Rewrite(_attached(base, own, "for"), ELLIPSIS, focus=_TRAILING.sub("", own))
    if _refers_to_an_action(own):
        # "How fast do I have to do that?": "that" is what the last question asked about doing, not
        # its topic ("do the laptop"); the question keeps its words and the last one comes along.
        return Rewrite(f"{_TRAILING.sub('', own)} ({_TRAILING.sub('', base)})?", REFERENCE)
    if topic and (resolved := _references_resolved(own, topic)) is not None:
        return Rewrite(resolved, REFERENCE)
    if topic and _too_short_to_stand_alone(own):
        return Rewrite(f"{_TRAILING.sub('', own)} about the {topic}?", TOO_SHORT)
    return Rewrite(own)  # a new question; "and how do I reset my password?" loses its "and"


def is_elliptical(question: str) -> bool:
    """Whether the question is a fragment that leans on an earlier one (its base is then further back)."""
    fragment, _joiner = _fragment_after_opener(question)
    if fragment is not None:
        return not _is_a_question_of_its_own(fragment)
    return _is_a_bare_fragment(question)


def _last_full_question(earlier: Sequence[Turn]) -> str | None:
    """The latest earlier question that is not itself a fragment (a chain of "and for X?" all lean
    on the question that started it)."""
    for turn in reversed(earlier):
        if not is_elliptical(turn.asked):
            return turn.understood
    return earlier[0].understood if earlier else None


def _words(text: str) -> list[str]:
    return _WORD.findall(text) or [""]


def _content_words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text) if word.lower() not in _NOT_CONTENT and not word.isdigit()]


def _fragment_after_opener(question: str) -> tuple[str | None, str]:
    text = question.strip()
    for opener, joiner in _OPENERS:
        match = opener.match(text)
        if match and match.end() < len(text):
            return _TRAILING.sub("", text[match.end() :]), joiner
    return None, ""


def _too_short_to_stand_alone(question: str) -> bool:
    """ "Who do I need to tell?": a question word, at least three words, at most one content word."""
    words = _words(question)
    return words[0].lower() in _QUESTION_WORDS and len(words) > 2 and len(_content_words(question)) <= 1


def _as_question(fragment: str) -> str:
    return f"{fragment[:1].upper()}{fragment[1:]}?"


def _is_a_question_of_its_own(fragment: str) -> bool:
    """ "and how do I request it?" continues the thread with a question of its own."""
    return _words(fragment)[0].lower() in _QUESTION_WORDS


def _is_a_bare_fragment(question: str) -> bool:
    """ "Part-timers?", "In Lisbon?": no question word, no verb-like start, a few content words."""
    words = _words(question)
    if words[0].lower() in _QUESTION_WORDS or words[0].lower() in {"i", "we", "please", "tell", "show", "list"}:
        return False
    return len(words) <= MAX_CONTENT_WORDS_OF_A_FRAGMENT + 1 and len(_content_words(question)) >= 1


def _attached(base: str, fragment: str, joiner: str) -> str:
    fragment = _TRAILING.sub("", fragment)
    first = _words(fragment)[0].lower()
    if joiner and first != joiner and not (joiner == "for" and first in _PREPOSITIONS):
        fragment = f"{joiner} {fragment}"
    return f"{_TRAILING.sub('', base)}, {fragment}?"


def _topic_of(question: str) -> str:
    """The run of consecutive content words a pronoun most likely stands for: one that follows a
    determiner ("my password" in "How do I reset my password?", "the laptop"), else the longest
    ("vacation days" in "How many vacation days do I get per year?"); the first when they tie."""
    runs: list[tuple[bool, list[str]]] = []
    run: list[str] = []
    after_determiner = previous_was_determiner = False
    for word in [*_WORD.findall(question), ""]:
        if word and word.lower() not in _NOT_CONTENT and not word.isdigit():
            if not run:
                after_determiner = previous_was_determiner
            run.append(word)
        elif run:
            runs.append((after_determiner, run))
            run = []
        previous_was_determiner = word.lower() in _DETERMINERS
    if not runs:
        return ""
    return " ".join(max(runs, key=lambda item: (item[0], len(item[1])))[1])


def _references_resolved(question: str, topic: str) -> str | None:
    """The question with its first pointing pronoun replaced by the topic, or None when it has none
    or the pronoun can point into its own question ("my password ... if I forgot it")."""
    tokens = re.split(r"(\W+)", question)
    seen_determiner = False
    for index, token in enumerate(tokens):
        lowered = token.lower()
        if lowered in _POSSESSIVE_PRONOUNS or (lowered in _OBJECT_PRONOUNS and _points_back(tokens, index)):
            if seen_determiner:
                return None
            replacement = f"the {topic}'s" if lowered in _POSSESSIVE_PRONOUNS else f"the {topic}"
            return "".join([*tokens[:index], replacement, *tokens[index + 1 :]])
        if lowered in _DETERMINERS - _OBJECT_PRONOUNS - _POSSESSIVE_PRONOUNS:
            seen_determiner = True
    return None


_DO = {"do", "does", "did", "doing", "done"}
_ACTION_PRONOUNS = {"it", "this", "that"}
_DOERS = {
    "i", "you", "we", "they", "to", "can", "could", "should", "must", "will", "would", "may", "might",
    "shall", "please", "i'll", "we'll", "you'll",
}  # fmt: skip
_AFTER_AN_ACTION = {"now", "again", "first", "already", "myself", "yourself", "later", "today", "online", "too"}


def _refers_to_an_action(question: str) -> bool:
    """ "have to do that?", "can I do it now": the pronoun after "do" as a main verb (after a subject,
    a modal or "to") stands for an action of the thread, not a thing. Not an auxiliary's subject
    ("how long does it take"), not a determiner ("do that course")."""
    words = [word.lower() for word in _WORD.findall(question)]
    for index in range(2, len(words)):
        if words[index] in _ACTION_PRONOUNS and words[index - 1] in _DO and words[index - 2] in _DOERS:
            following = words[index + 1] if index + 1 < len(words) else ""
            if not following or following in _PREPOSITIONS or following in _AFTER_AN_ACTION:
                return True
    return False


# "it" as a placeholder subject points nowhere: "is it possible to ...", "how long does it take to ...".
_PLACEHOLDER_IT_BEFORE = {
    "possible", "true", "ok", "okay", "allowed", "necessary", "required", "mandatory", "worth", "fine",
    "legal", "normal", "common", "better", "best", "enough", "too", "take", "takes", "rain", "raining",
}  # fmt: skip


def _points_back(tokens: list[str], index: int) -> bool:
    """ "this"/"that" point back when they stand alone ("Who approves that?"), not before a noun
    ("that form") or as a conjunction ("is it true that ..."); "it" unless it is a placeholder."""
    word = tokens[index].lower()
    following = "".join(tokens[index + 1 :]).strip()
    next_word = following.split()[0].lower().strip("?.!,") if following.split() else ""
    if word == "it":
        return next_word not in _PLACEHOLDER_IT_BEFORE
    if word not in {"this", "that", "these", "those"}:
        return True
    return not following or following[0] in "?.!," or next_word in {"is", "was", "one", "mean"}
