"""Per-language word lists of profanity, insults and slurs, read in the user's added prose (``[word_lists]``).

The rules name wordings a round of probes showed; each new author's insults carry other words,
often in another language (README, "Round 6/7/8"). A word list per language names the words
themselves. The lists come from ``glin-profanity`` (MIT, PyPI; 24 languages, derived from the
LDNOOBW lists): its ``data/dictionaries/<language>.json`` files are read as data, lazily, when a
policy naming them is loaded; none of its code runs.

What is read: the user's own words only. ``chosen`` with quoted mentions blanked (the policy's
``own_words``), its code blanked but for comments and strings of words
(:func:`~flywheel.operators.prose.prose_view`), then only the segments the model's answer
(``rejected``) does not hold (:func:`~flywheel.operators.toxicity.added_segments`); each normalised
as the rules read text (NFC, case-folded), and its folded view too (look-alikes, spaced letters).

How a word matches depends on its script, as the languages write words:

* Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari: a whole word (no letter or digit either side);
* Hangul: at a word's start (Korean particles and endings attach to the word: ``병신아``);
* Han, kana, Thai (written without spaces): anywhere.

A word of Han, kana, Thai or Hangul needs two characters, one of another script ``min_chars``.

Lists of one language hold ordinary words of another (Turkish ``got``, ``sie`` and ``eben``,
Swedish ``fan``, French ``con``, Dutch ``hoe``): a list's Latin-script words are read only in a
segment, or an edit, that ``py3langid`` identifies as the list's language. Words in any other
script are read wherever that script is (the script is the gate). Lists of romanised words
(Hindi, the Russian list's transliterations), which no identifier names, are read in any segment
when the policy lists them in ``any_language``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import ahocorasick

from flywheel.errors import PolicyError
from flywheel.operators.normalize import normalize_text
from flywheel.operators.policy_file import WordListsSpec
from flywheel.operators.prose import prose_view
from flywheel.operators.toxicity import added_segments

# The package's file stems and the ISO 639-1 code py3langid gives each language.
LANGUAGE_CODES = {
    "arabic": "ar", "chinese": "zh", "czech": "cs", "danish": "da", "dutch": "nl", "english": "en",
    "esperanto": "eo", "finnish": "fi", "french": "fr", "german": "de", "hindi": "hi", "hungarian": "hu",
    "italian": "it", "japanese": "ja", "korean": "ko", "norwegian": "no", "persian": "fa", "polish": "pl",
    "portuguese": "pt", "russian": "ru", "spanish": "es", "swedish": "sv", "thai": "th", "turkish": "tr",
}  # fmt: skip
# Scripts written without spaces between words: Han, hiragana, katakana, Thai.
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
_HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")
# A word's edge: no letter, digit or combining mark next to it (Thai and Devanagari vowel signs are marks).
_WORD_CHAR = re.compile(r"[\w\u0300-\u036f\u0900-\u097f\u0e31-\u0e4e]")


@dataclass(frozen=True)
class ListHit:
    """A word of a list found in the user's added prose."""

    language: str
    word: str


def _is_latin(term: str) -> bool:
    return all(not ch.isalpha() or "LATIN" in unicodedata.name(ch, "") for ch in term)


class WordLists:
    """The compiled ``[word_lists]`` section: one automaton per gate (a language, or a script)."""

    def __init__(self, spec: WordListsSpec, source: str) -> None:
        self.name = spec.name
        unknown = sorted(set(spec.languages) - set(LANGUAGE_CODES))
        if unknown:
            raise PolicyError(f"{source}: word_lists: unknown language(s) {unknown}; known: {sorted(LANGUAGE_CODES)}")
        excluded = {normalize_text(word) for word in spec.exclude}
        # gate -> {term: language}; gate "" is read in every segment (script-gated and any_language terms).
        by_gate: dict[str, dict[str, str]] = {}
        for language in spec.languages:
            for raw in _read_list(spec.package, spec.directory, language, source):
                term = normalize_text(raw)
                if term in excluded or not _LETTER.search(term):
                    continue
                syllabic = _UNSPACED.search(term) is not None or _HANGUL.search(term) is not None
                if len(term) < (2 if syllabic else spec.min_chars):
                    continue
                latin = _is_latin(term)
                gate = LANGUAGE_CODES[language] if latin and language not in spec.any_language else ""
                by_gate.setdefault(gate, {}).setdefault(term, language)
        self._automata: dict[str, Any] = {}
        for gate, terms in by_gate.items():
            automaton = ahocorasick.Automaton()
            for term, language in terms.items():
                automaton.add_word(term, (term, language))
            automaton.make_automaton()
            self._automata[gate] = automaton
        self.languages = frozenset(LANGUAGE_CODES[language] for language in spec.languages)
        self.size = sum(len(terms) for terms in by_gate.values())

    def find(
        self,
        chosen: str,
        rejected: str,
        own_words: Callable[[str], str] = lambda text: text,
        folded: Callable[[str], str] = lambda text: text,
    ) -> ListHit | None:
        """The first list word in the prose ``chosen`` adds to ``rejected``, or None."""
        prose = own_words(prose_view(chosen))
        added = added_segments(prose, own_words(prose_view(rejected)))
        if not added:
            return None
        whole = _language(prose)
        for segment in added:
            gates = {"", whole, _language(segment)}
            for text in _readings(segment, folded):
                for gate in gates:
                    automaton = self._automata.get(gate)
                    if automaton is not None and (hit := _first_hit(automaton, text)) is not None:
                        return hit
        return None


def _readings(segment: str, folded: Callable[[str], str]) -> Iterable[str]:
    text = normalize_text(segment)
    yield text
    view = normalize_text(folded(segment))
    if view != text:
        yield view


def _first_hit(automaton: Any, text: str) -> ListHit | None:
    for end, (term, language) in automaton.iter(text):
        start = end - len(term) + 1
        if _UNSPACED.search(term) is None:
            before = text[start - 1] if start > 0 else " "
            after = text[end + 1] if end + 1 < len(text) else " "
            if _WORD_CHAR.match(before):
                continue
            if _WORD_CHAR.match(after) and not _HANGUL.match(term):
                continue
        return ListHit(language, term)
    return None


def _read_list(package: str, directory: str, language: str, source: str) -> list[str]:
    try:
        text = resources.files(package).joinpath(directory, f"{language}.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise PolicyError(
            f"{source}: word list {package}/{directory}/{language}.json not found; "
            "it ships in glin-profanity==4.1.0 (pip install it)"
        ) from exc
    words = json.loads(text).get("words")
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
        raise PolicyError(f"{source}: {package}/{directory}/{language}.json holds no list of words")
    return words


def _language(text: str) -> str:
    """py3langid's ISO 639-1 code for ``text`` (its model loads on the first call, not at import)."""
    import py3langid  # here, not at import: the model is read on first use only

    code, _score = py3langid.classify(text)
    return str(code)
