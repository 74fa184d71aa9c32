"""Proximity rules: word families that must meet within a few words of each other in one sentence.

A fixed phrase catches the wording it was written for and nothing else ("ignore previous
instructions" misses "kindly set aside the guidelines you were given"). A proximity rule names
the parts of an intent instead, each a *group* of interchangeable words, and fires when one
word of every group occurs in the same sentence within ``window`` tokens (the span from the
first to the last hit, in tokens). Two examples from ``policies/default-v4.toml``:

* prompt injection ``drop_own_rules``: a verb of dropping (ignore, set aside, turn off,
  lifted, void, ...), a rule-like object (instructions, guidelines, filters, limits, safety,
  ethics, ...) and a sign that the rules are the assistant's (your, you, usual, previous,
  content, moral, ...) within 6 tokens. "Ignore the deprecation warning" or "remove the
  filter on status" lack the object or the owner and pass.
* abuse ``abuse_second_person``: a second-person word (you, your, u, ...) and a derogatory
  word within 4 tokens. Derogatory words come from a sentiment lexicon (``@negative``: every
  word of vaderSentiment's ``vader_lexicon.txt`` with mean valence at or below
  ``max_valence`` and at least ``min_chars`` letters, except the ``exclude`` list and ``-ly``
  adverbs), plus the ``extra`` words
  the lexicon lacks (slang). The lexicon is what generalises: "you are hopeless at this"
  needs no rule naming "hopeless". ``exclude`` holds the negative words that corrections and
  technical text use about things, not people: wrong, error, kill, dead, dangerous, attack,
  warning, ignore, ... ("you got the derivative wrong", "kill the process").

Sentences split at ``. ! ? ; :`` and at line breaks (a list item or a code line is a
sentence), each then normalised as the policy's text is (NFC, case-folded, spaces
collapsed); tokens are letters/digits with contractions expanded (``you're`` -> ``you are``,
``don't`` -> ``do not``). A group entry is a word, a phrase of several words (``set
aside``), a prefix (``moron*``) or ``@negative``; each group needs its own word (hits of two
groups never overlap; with ``ordered`` they come in the groups' order; ``near`` caps the
tokens between two given groups' hits, e.g. "your" right before "rules", not "your firewall
rules"), and a sentence holding a word or phrase of ``unless`` never matches.
With ``skip_rejected_sentences`` a sentence of ``chosen`` that the model's answer
(``rejected``) already holds is not checked: the user did not write it. Deterministic, no
model: the rules of ``default-v4`` add about 120 microseconds per edit (held-out set, CPU time);
``default-v5``'s extra rules leave the whole policy evaluate at about the same cost (305 -> 308
microseconds per held-out edit).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from flywheel.errors import PolicyError

NEGATIVE = "@negative"
# A run of . ! ? ; : before a space or the end, or a line break. Written to start with one
# character class (not an alternation) so that re skips to candidates in C: 4x faster than the
# same language as r"[.!?;:\n]+(?:\s+|$)|\n".
_SENTENCE_BREAK = re.compile(r"[.!?;:\n](?:[.!?;:\n]*(?:\s+|$)|(?<=\n))")
_TOKEN = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")
# Where a token can hold an apostrophe: a letter or digit before it, a letter after it.
_CONTRACTION = re.compile(r"[a-z0-9]['\u2019][a-z]")
_PLAIN_WORD = re.compile(r"[a-z0-9]+")
# Every byte but a-z and 0-9 reads as a space: split() then gives the runs _PLAIN_WORD finds.
_WORD_BYTES = bytes(byte if chr(byte) in "abcdefghijklmnopqrstuvwxyz0123456789" else 32 for byte in range(256))
_SUFFIXES = {"re": "are", "ve": "have", "ll": "will", "d": "would", "m": "am", "s": ""}
_NOT_STEMS = {"ca": "can", "wo": "will", "sha": "shall", "ai": "is"}


def tokens(sentence: str) -> list[str]:
    """The sentence's words, contractions expanded (``you're`` -> ``you are``, ``don't`` -> ``do not``)."""
    if ("'" not in sentence and "\u2019" not in sentence) or _CONTRACTION.search(sentence) is None:
        # No token holds an apostrophe (quotes around words are not contractions): all in C.
        return _plain_words(sentence)
    return expanded_words(sentence)


def expanded_words(sentence: str) -> list[str]:
    """The sentence's words, each looked at for a contraction to expand (what :func:`tokens` means)."""
    out: list[str] = []
    for word in _TOKEN.findall(sentence.replace("\u2019", "'")):
        if "'" not in word:
            out.append(word)
            continue
        base, suffix = word.split("'", 1)
        if suffix == "t" and base.endswith("n"):
            stem = base[:-1]
            out.extend((_NOT_STEMS.get(stem, stem), "not"))
            continue
        out.append(base)
        expanded = _SUFFIXES.get(suffix)
        if expanded:
            out.append(expanded)
    return out


def _plain_words(sentence: str) -> list[str]:
    """The runs of ``[a-z0-9]``: for ASCII one C-level translate and split (a fifth of the regex's time)."""
    if sentence.isascii():
        return sentence.encode("ascii").translate(_WORD_BYTES).decode("ascii").split()
    return _PLAIN_WORD.findall(sentence)


def sentences(text: str) -> list[str]:
    """The text's sentences, normalised (split at ``. ! ? ; :`` before a space and at line breaks)."""
    if not text.isascii():
        # NFC and case-folding once for the whole text, as normalize_text does (line breaks kept)
        text = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    else:
        text = text.lower()  # casefold() of ASCII is lower()
    out = []
    for part in _SENTENCE_BREAK.split(text):
        sentence = " ".join(part.split())
        if sentence:
            out.append(sentence)
    return out


def load_lexicon(package: str, resource: str, source: str) -> dict[str, float]:
    """``{word: mean valence}`` from a VADER-format lexicon (word TAB mean TAB ...) shipped in a package."""
    try:
        text = resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise PolicyError(
            f"{source}: lexicon {package}/{resource} not found; it ships in vaderSentiment==3.3.2 (pip install it)"
        ) from exc
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        try:
            lexicon[parts[0].strip()] = float(parts[1])
        except ValueError:
            continue
    if not lexicon:
        raise PolicyError(f"{source}: lexicon {package}/{resource} holds no `word<TAB>valence` line")
    return lexicon


def negative_words(
    lexicon: dict[str, float], max_valence: float, exclude: Iterable[str], min_chars: int = 1
) -> frozenset[str]:
    """Words at or below ``max_valence`` with ``min_chars`` letters or more, minus ``exclude`` and ``-ly`` adverbs."""
    excluded = set(exclude)
    return frozenset(
        word
        for word, valence in lexicon.items()
        if valence <= max_valence
        and word.isalpha()
        and len(word) >= min_chars
        and word not in excluded
        and not word.endswith("ly")
    )


class Group:
    """Interchangeable words: single words, prefixes (``moron*``) and phrases (``set aside``)."""

    def __init__(self, words: frozenset[str], prefixes: tuple[str, ...], phrases: tuple[tuple[str, ...], ...]) -> None:
        self.words = words
        self.prefixes = prefixes
        self.phrases = phrases
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in phrases:
            by_first.setdefault(phrase[0], []).append(phrase)
        self._by_first = {first: tuple(group) for first, group in by_first.items()}
        self._starts = words | frozenset(by_first)

    @property
    def starts(self) -> frozenset[str]:
        """The words a hit of this group starts with (its single words and its phrases' first words)."""
        return self._starts

    def may_occur(self, present: frozenset[str]) -> bool:
        """False when none of the group's words or phrase starts is among ``present`` (a quick test)."""
        if self.prefixes:
            return True
        return not self._starts.isdisjoint(present)

    @classmethod
    def parse(cls, entries: Sequence[str], negative: frozenset[str] | None, where: str) -> Group:
        words: set[str] = set()
        prefixes: list[str] = []
        phrases: list[tuple[str, ...]] = []
        for entry in entries:
            if entry == NEGATIVE:
                if negative is None:
                    raise PolicyError(f"{where}: `{NEGATIVE}` needs a [lexicon] section")
                words |= negative
                continue
            if entry.endswith("*") and " " not in entry:
                prefixes.append(entry[:-1].lower())
                continue
            parts = tuple(tokens(entry.lower()))
            if not parts:
                raise PolicyError(f"{where}: group entry {entry!r} holds no word")
            if len(parts) == 1:
                words.add(parts[0])
            else:
                phrases.append(parts)
        return cls(frozenset(words), tuple(prefixes), tuple(phrases))

    def spans(self, words: list[str]) -> list[tuple[int, int]]:
        """(first, last) token index of every hit in the sentence."""
        hits: list[tuple[int, int]] = []
        single, prefixes, by_first = self.words, self.prefixes, self._by_first
        for index, word in enumerate(words):
            if word in single or (prefixes and word.startswith(prefixes)):
                hits.append((index, index))
            for phrase in by_first.get(word, ()):
                end = index + len(phrase)
                if tuple(words[index:end]) == phrase:
                    hits.append((index, end - 1))
        return hits


# "not", "never", and the "n't" written without an apostrophe ("isnt"); :func:`tokens` expands
# "isn't" to "is not", and with another mark in place of the apostrophe ("isn`t") it splits "isn t".
_NEGATORS = frozenset({"not", "never", "isnt", "arent", "wasnt", "werent", "aint", "nt"})
# What may stand between a negation and the word it negates: "not an idiot", "isn't such a dumb question".
_NEGATED_FILLER = frozenset({"a", "an", "the", "so", "such", "that", "this", "very", "really", "at", "all"})


def negated(words: list[str], start: int) -> bool:
    """Whether the word at ``start`` follows a negation, with at most three filler words between.

    "you are not an idiot", "that isn't a dumb question", "you're not stupid": negated. A verb
    between keeps the insult ("don't be an idiot"), as do "not just", "not only" (no filler).
    """
    index = start - 1
    while index >= 0 and start - index <= 4:
        word = words[index]
        if word in _NEGATORS or (word == "t" and index > 0 and words[index - 1].endswith("n")):
            return True
        if word not in _NEGATED_FILLER:
            return False
        index -= 1
    return False


@dataclass(frozen=True)
class ProximityRule:
    """Fires on a sentence holding a word of every group within ``window`` tokens (first to last hit)."""

    name: str
    kind: str
    applies_to: tuple[str, ...]
    window: int
    groups: tuple[Group, ...]
    skip_rejected_sentences: bool = True
    unless: Group | None = None
    ordered: bool = False
    near: tuple[tuple[int, int, int], ...] = ()
    # The last group's hits right after a negation (:func:`negated`) are no hits.
    negatable: bool = False
    # The last group's hits right before one of these words are no hits: the word describes a
    # thing ("avoid stupid mistakes"), not the reader.
    not_before: frozenset[str] = frozenset()

    def sentence_matches(self, words: list[str], present: frozenset[str] | None = None) -> bool:
        """True when one hit of every group, no two on the same word, fits in ``window`` tokens.

        With ``ordered`` the hits must come in the groups' order; each ``(a, b, n)`` of ``near``
        allows at most ``n`` tokens between the hits of groups ``a`` and ``b``. A sentence holding a word or
        phrase of ``unless`` never matches. ``present``: the
        sentence's words as a set, when the caller has it. With ``negatable``, a hit of the last
        group right after a negation does not count; nor, with ``not_before``, one right before
        one of those words.
        """
        if present is None:
            present = frozenset(words)
        if not all(group.may_occur(present) for group in self.groups):
            return False
        if self.unless is not None and self.unless.spans(words):
            return False
        all_hits = []
        last = len(self.groups) - 1
        for index, group in enumerate(self.groups):
            hits = group.spans(words)
            if self.negatable and index == last:
                hits = [hit for hit in hits if not negated(words, hit[0])]
            if self.not_before and index == last:
                after = self.not_before
                hits = [hit for hit in hits if hit[1] + 1 >= len(words) or words[hit[1] + 1] not in after]
            if not hits:
                return False
            all_hits.append(hits)
        for choice in itertools.product(*all_hits):
            if max(end for _, end in choice) - min(start for start, _ in choice) > self.window:
                continue
            by_position = sorted(choice) if not self.ordered else list(choice)
            if not all(earlier[1] < later[0] for earlier, later in itertools.pairwise(by_position)):
                continue
            if all(_between(choice[a], choice[b]) <= most for a, b, most in self.near):
                return True
        return False

    def matches(self, text: str, known: frozenset[str] = frozenset()) -> bool:
        """True when a sentence of the raw ``text`` (not in ``known``, the model's own sentences) matches."""
        return self.matches_sentences(tokenised(text, known))

    def matches_sentences(self, sentence_words: Sequence[tuple[list[str], frozenset[str]]]) -> bool:
        """True when one of the tokenised sentences matches (see :func:`tokenised`)."""
        return any(self.sentence_matches(words, present) for words, present in sentence_words)


class RuleIndex:
    """Which proximity rules a text's words can set off, found with one dictionary look-up per word.

    A rule matches a sentence only when every group has a word (or phrase start) in it, so a rule
    is filed under the starts of its most selective group without prefixes: a text holding none
    of them cannot match it. A rule whose every group has prefixes is always a candidate. Exact:
    it skips only rules that could not match. On the benchmark's edits it cut the sentence checks
    from about 57 to 7 per edit and the whole policy check from 375 to 326 CPU microseconds.
    """

    def __init__(self, rules: Sequence[ProximityRule]) -> None:
        by_word: dict[str, list[int]] = {}
        always: set[int] = set()
        for index, rule in enumerate(rules):
            keyed = [group for group in rule.groups if not group.prefixes]
            if not keyed:
                always.add(index)
                continue
            for word in min(keyed, key=lambda group: len(group.starts)).starts:
                by_word.setdefault(word, []).append(index)
        self._by_word = {word: tuple(indices) for word, indices in by_word.items()}
        self._always = frozenset(always)

    def candidates(self, sentence_words: Sequence[tuple[list[str], frozenset[str]]]) -> frozenset[int]:
        """Indices of the rules that may match one of the tokenised sentences (see :func:`tokenised`)."""
        found = set(self._always)
        by_word = self._by_word
        for _, present in sentence_words:
            for word in present:
                hit = by_word.get(word)
                if hit is not None:
                    found.update(hit)
        return frozenset(found)


def _between(one: tuple[int, int], other: tuple[int, int]) -> int:
    """How many tokens lie between two non-overlapping hits."""
    first, second = sorted((one, other))
    return second[0] - first[1] - 1


def tokenised(text: str, known: frozenset[str] = frozenset()) -> list[tuple[list[str], frozenset[str]]]:
    """(words, set of words) of each sentence of ``text`` that is not in ``known``."""
    out = []
    for sentence in sentences(text):
        if sentence not in known:
            words = tokens(sentence)
            out.append((words, frozenset(words)))
    return out
