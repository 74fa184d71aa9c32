"""Tell a trivial edit (typos, whitespace, punctuation, case) from a substantive one.

Texts are split into word and punctuation tokens and aligned token by token. An edit is
trivial only when every difference is one of:

* whitespace, or prose punctuation (``. , ; : ! ? ' " ( ) -`` and typographic quotes/dashes);
* the case of a prose word;
* a typo fix: one prose word for another, same first letter (or its first two letters
  swapped), within one or two character edits (Damerau: a swap counts once); words of three
  letters or fewer only when the letters are the same (``teh`` -> ``the``), one letter is
  added at the end (``th`` -> ``the``) or, for three letters, inside after the first
  (``wth`` -> ``with``), never a replaced letter (``add`` -> ``and``) or a unit (``ms`` -> ``s``);
* words split or joined (``a lot`` / ``alot``), a repeated word removed, an article added;
* diacritics added or removed on the same letters (``la`` -> ``lá``, ``sie`` -> ``się``, ``cafe`` ->
  ``café``): a spelling fix at any length (probe round 5 accepted Portuguese and Polish ones); so
  is a ligature for its letters (``oeufs`` -> ``œufs``, ``ae`` / ``æ``, ``ss`` / ``ß``, ``fi`` /
  ``ﬁ``; probe round 6 accepted the first) and a stroke letter for its plain one (``ł``, ``ø``).

Anything else is substantive however few characters it touches: a code-like token
(digits, ``_``, camelCase starting lower-case, attached to ``(``, ``.``, ``-``, ``=`` ...:
identifiers, API names, numbers with units, flags), any number, a short negation turned into
another word (``no`` -> ``on``), a short word (``ms`` -> ``s``), a code operator (``==`` ->
``!=``), a word inserted or deleted, or, inside a fenced code block, a line's indentation or case,
or a word inserted or deleted there even where prose would call it an article (``&'a str``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from rapidfuzz.distance import OSA, Levenshtein

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PROSE_PUNCT = frozenset(
    ".,;:!?'\"()-\u2018\u2019\u201c\u201d\u2013\u2014\u2026"
    # Spanish and French marks, and CJK and full-width prose punctuation (U+3002 -> U+FF0E, U+3001 -> U+FF0C):
    # one for another is as trivial as "." for "!".
    "\u00a1\u00bf\u00ab\u00bb\u3001\u3002\u300c\u300d\u300e\u300f\u30fb"
    "\uff01\uff08\uff09\uff0c\uff0e\uff1a\uff1b\uff1f"
)
_ARTICLES = frozenset({"a", "an", "the"})
_UNITS = frozenset(
    [
        "ns",
        "us",
        "ms",
        "s",
        "sec",
        "secs",
        "min",
        "mins",
        "h",
        "hr",
        "hrs",
        "d",
        "b",
        "kb",
        "mb",
        "gb",
        "tb",
        "pb",
        "kib",
        "mib",
        "gib",
        "bit",
        "bits",
        "k",
        "m",
        "g",
        "kg",
        "mg",
        "km",
        "cm",
        "mm",
        "l",
        "ml",
        "px",
        "em",
        "rem",
        "pt",
        "hz",
        "khz",
        "mhz",
        "ghz",
    ]
)
_NEGATIONS = frozenset({"not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "cannot", "without", "t"})
# A word touching one of these is code (``-r``, ``$HOME``, ``.venv``, ``print(``, ``x=``).
_CODE_BEFORE = frozenset(".-$/@:\\`_~")
_CODE_AFTER = frozenset("([=`_")
_CASE_BEFORE = frozenset(".$\\`_~@")
_CODE_AFTER_IF_WORD = frozenset("./:-")


class _Token(NamedTuple):  # a tuple: built twice per word of every edit, cheaper than a dataclass
    text: str
    folded: str
    word: bool
    code: bool  # identifier-like: compared exactly, never a typo
    attached: bool  # digits, ``_``, a flag, an attribute, a call: even its case matters


class _Tokens:
    """A text's tokens, their texts and case-folded forms; a token's code flags are worked out
    only when asked for (only tokens of a differing block, or differing in case, ever are: that
    work cost ~90 of the ~120 microseconds per edit when done for every token)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.texts: list[str] = _TOKEN.findall(text)
        self.folded = [value.casefold() for value in self.texts]
        self._spans: list[tuple[int, int]] | None = None

    def __getitem__(self, index: int) -> _Token:
        if self._spans is None:
            self._spans = [match.span() for match in _TOKEN.finditer(self.text)]
        start, end = self._spans[index]
        return _token_at(self.text, start, end)

    def between(self, start: int, end: int) -> list[_Token]:
        """The tokens ``start`` to ``end`` (exclusive)."""
        return [self[index] for index in range(start, end)]


def _token_at(text: str, start: int, end: int) -> _Token:
    value = text[start:end]
    word = value[0].isalnum() or value[0] == "_"
    code = attached = False
    if word:
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        after2 = text[end + 1] if end + 1 < len(text) else ""
        before2 = text[start - 2] if start >= 2 else ""
        # An all-letter word holds no digit and no "_" (most words: one C-level test, no loop).
        digits = not value.isalpha() and any(c.isdigit() or c == "_" for c in value)
        # Case matters where code does: a flag (-r, not the "bound" of CPU-bound), an
        # attribute or variable (.info, $HOME), a call or assignment (Print(, X=).
        flag = before == "-" and not before2.isalnum()
        attached = digits or flag or (before in _CASE_BEFORE) or after in _CODE_AFTER
        touching = before in _CODE_BEFORE or (after in _CODE_AFTER_IF_WORD and (after2.isalnum() or after2 == "_"))
        # camelCase starting lower-case is an identifier (getUser); starting upper-case it is
        # usually a name in prose (PostgreSQL, JavaScript) unless code punctuation touches it.
        code = attached or touching or (value[0].islower() and _has_upper(value[1:]))
    return _Token(value, value.casefold(), word, code, attached)


def _has_upper(text: str) -> bool:
    """True when a character of ``text`` is upper-case (ASCII: lower-casing changes it, tested in C)."""
    if text.isascii():
        return text != text.lower()
    return any(c.isupper() for c in text)


def _tokens(text: str) -> list[_Token]:
    """Every token of ``text`` with its flags (the reference :class:`_Tokens` is tested against)."""
    return [_token_at(text, *match.span()) for match in _TOKEN.finditer(text)]


# Letters Unicode neither decomposes nor case-folds into plain ones: ligatures, spelt out (oe for
# œ), and letters whose mark is a stroke (ł, ø), spelt without it. The other ligatures decompose
# (NFKD: ﬁ -> fi, ĳ -> ij, ǆ -> dž) and ß case-folds to ss.
_SPELT_OUT = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t"})


def _without_marks(word: str) -> str:
    """The word's plain letters: case-folded, accents and ogoneks dropped, ligatures spelt out (NFKD)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_SPELT_OUT)


def _is_typo(a: _Token, b: _Token) -> bool:
    x, y = a.folded, b.folded
    if a.code or b.code or not x.isalpha() or not y.isalpha():
        return False
    if not (x.isascii() and y.isascii()) and _without_marks(x) == _without_marks(y):
        return True  # only diacritics or ligatures differ: "la" -> "lá", "sie" -> "się", "oeufs" -> "œufs"
    if (x in _NEGATIONS) != (y in _NEGATIONS) and min(len(x), len(y)) <= 4:
        return False  # one letter turns "no" into "on", "not" into "now"
    if min(len(x), len(y)) <= 3:
        # Short words: letters swapped (teh), one letter dropped at the end (th -> the), or a
        # three-letter word missing one letter of a four-letter one after its first (wth -> with,
        # sop -> stop); never a letter replaced (add -> and, max -> min) and never a unit (ms -> s,
        # mb -> gb), where one letter is the whole meaning.
        if x in _UNITS or y in _UNITS:
            return False
        shorter, longer = sorted((x, y), key=len)
        if sorted(x) == sorted(y):
            return True
        if len(longer) != len(shorter) + 1 or len(longer) < 3:
            return False
        return longer.startswith(shorter) or (
            len(shorter) >= 3 and longer[0] == shorter[0] and Levenshtein.distance(shorter, longer) == 1
        )
    if x[0] != y[0] and x[:2] != y[1::-1]:
        return False
    return OSA.distance(x, y) <= (2 if min(len(x), len(y)) >= 8 else 1)


def _block_is_trivial(old: list[_Token], new: list[_Token]) -> str | None:
    """None when a differing block of tokens is a trivial change, else why it is substantive."""
    for token in old + new:
        if not token.word and token.text not in _PROSE_PUNCT:
            return f"operator {token.text!r} changed"
    old_words = [t for t in old if t.word]
    new_words = [t for t in new if t.word]
    if "".join(t.folded for t in old_words) == "".join(t.folded for t in new_words):
        return None  # only punctuation, spacing or case
    if len(old_words) == len(new_words):
        for a, b in zip(old_words, new_words, strict=True):
            if a.folded != b.folded and not _is_typo(a, b):
                return f"{a.text!r} -> {b.text!r}"
        return None
    longer, shorter = (old_words, new_words) if len(old_words) > len(new_words) else (new_words, old_words)
    extra = [t.folded for t in longer]
    for token in shorter:
        if token.folded in extra:
            extra.remove(token.folded)
        else:
            return f"{' '.join(t.text for t in old_words)!r} -> {' '.join(t.text for t in new_words)!r}"
    if all(word in _ARTICLES for word in extra):
        return None
    return f"word(s) {extra} inserted or deleted"


def substantive_change(rejected: str, chosen: str) -> str | None:
    """The first substantive difference between two texts, or None when the edit is trivial."""
    old, new = _Tokens(rejected), _Tokens(chosen)
    blocks: list[tuple[str, int, int, int, int]] = []
    for opcode in Levenshtein.opcodes(old.folded, new.folded):
        block = (opcode.tag, opcode.src_start, opcode.src_end, opcode.dest_start, opcode.dest_end)
        if blocks and block[0] != "equal" and blocks[-1][0] != "equal":
            # Adjacent changes are one change: "alot" -> "a lot" is a replace next to an insert.
            _, i1, _, j1, _ = blocks.pop()
            block = ("replace", i1, block[2], j1, block[4])
        blocks.append(block)
    for tag, i1, i2, j1, j2 in blocks:
        if tag == "equal":
            if old.texts[i1:i2] == new.texts[j1:j2]:
                continue  # the same words in the same case: one C-level comparison, no loop
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                if old.texts[i] != new.texts[j] and (old[i].attached or new[j].attached):
                    return f"case of {old.texts[i]!r} -> {new.texts[j]!r}"
            continue
        if tag == "delete" and _repeats(old, i1, i2):
            continue
        reason = _block_is_trivial(old.between(i1, i2), new.between(j1, j2))
        if reason is not None:
            return reason
    return _code_layout_change(rejected, chosen)


_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def _fenced_lines(text: str) -> list[str]:
    """The non-blank lines inside fenced code blocks, in order (an unclosed block runs to the end)."""
    lines, inside = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            inside = not inside
        elif inside and line.strip():
            lines.append(line.rstrip())
    return lines


def _code_layout_change(rejected: str, chosen: str) -> str | None:
    """A line of a fenced code block re-indented, re-cased or with a word more or less: substantive, unlike in prose.

    Indentation is Python's block structure, YAML's nesting and a Makefile's tab, and case is
    significant in code (``true`` -> ``True``): moving a ``return`` out of a loop changes only
    whitespace, and is a fix.
    """
    if "```" not in rejected and "~~~" not in rejected:
        return None
    for old, new in zip(_fenced_lines(rejected), _fenced_lines(chosen), strict=False):
        if old == new:
            continue
        old_words, new_words = old.split(), new.split()
        if old_words == new_words and old[: len(old) - len(old.lstrip())] != new[: len(new) - len(new.lstrip())]:
            return f"indentation of code line {old.strip()!r}"
        if old_words != new_words and [w.casefold() for w in old_words] == [w.casefold() for w in new_words]:
            return f"case in code line {old.strip()!r} -> {new.strip()!r}"
        # A word inserted or deleted in code is never an article or a split word: ``&str`` ->
        # ``&'a str`` adds a lifetime (probe round 7 read it as an article added).
        old_tokens, new_tokens = _CODE_WORD.findall(old), _CODE_WORD.findall(new)
        if len(old_tokens) != len(new_tokens):
            return f"word inserted or deleted in code line {old.strip()!r} -> {new.strip()!r}"
    return None


_CODE_WORD = re.compile(r"\w+")


def _repeats(tokens: _Tokens, start: int, end: int) -> bool:
    """True when the deleted words tokens[start:end] repeat the words just before them."""
    span = end - start
    return start >= span and all(
        tokens[start + k].word and tokens.folded[start + k] == tokens.folded[start - span + k] for k in range(span)
    )
