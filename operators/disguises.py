"""Disguises the policy's folded view undoes from default-v11 on, each named in the rules file's ``folds``.

:func:`flywheel.operators.normalize.folded_view` (every version) undoes compatibility forms,
invisible characters, Cyrillic and Greek look-alikes read as Latin, and spaced-out letters. A
rules file can ask for more (``folds = [...]``), so that older versions replay as they were:

* ``cyrillic_words``: a Cyrillic word with Latin look-alikes in it (the Russian for "stupid" or
  "idiot" spelt with a Latin o) reads as Cyrillic. The whole-text fold reads such a word as a mix
  of scripts that no rule names, so a Russian insult with one Latin letter passed every rule;
* ``digits_as_letters``: digits standing for letters inside words ("1gn0r3 4ll pr3v10u5
  1n5truc710n5") read as the letters, wherever a word spells one with a digit between letters.

Identifiers in snake case ("you_idiot", "stupid_bot") need no fold: the rules read underscores as
word breaks. Camel case ("YouAreUseless") would need one, but splitting it changed the view of
most edits that carry code, every rule read them twice, and the policy stage cost about 12% more
per edit (default-v11 measured with and without it), so there is none.

Like the folded view, the result is read besides the text, never instead: a rule matches when
either matches, so a fold can only add findings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

from flywheel.operators.normalize import LOOK_ALIKES, folded_view

Fold = Literal["cyrillic_words", "digits_as_letters"]
# In the order they apply: digits first, so that a word spelt with digits is a word of letters.
FOLDS: tuple[Fold, ...] = ("digits_as_letters", "cyrillic_words")

# Latin letters drawn like a Cyrillic one (UTS #39 confusables, the Russian and Ukrainian alphabet):
# the letters a Russian word can be spelt with in disguise. Lower case: a c e o p x y and i (the
# Ukrainian i); upper case adds B H K M T.
_LATIN_TO_CYRILLIC = str.maketrans(
    dict(
        zip(
            "acoepxyiACEOPXYIBHKMT",
            "\u0430\u0441\u043e\u0435\u0440\u0445\u0443\u0456\u0410\u0421\u0415\u041e\u0420\u0425\u0423\u0406"
            "\u0412\u041d\u041a\u041c\u0422",
            strict=True,
        )
    )
)
_CYRILLIC_LOOK_ALIKES = frozenset("acoepxyiACEOPXYIBHKMT")
_WORD = re.compile(r"[^\W\d_]+")
_CYRILLIC = re.compile("[\u0400-\u052f]")
_GREEK_OR_CYRILLIC = re.compile("[\u0370-\u052f]")
_ASCII_LETTER = re.compile("[A-Za-z]")

# A digit that stands for a letter between two letters, in a word with a letter beyond "f": the
# mark of a word spelt in digits ("pr3v10us"). "mp3", "20mg", "ipv4", "3rd" and "h264" have no digit
# inside; hexadecimal ids ("3fa9c0e1") have no letter beyond "f". Then every word of letters and
# digits folds, "4ll" as well.
# Searched only where such digits stand between letters, found in the text's shape (ASCII letters
# "a", the digits 0 1 3 4 5 7 "1", all else " ") from each "1": a one-byte search is memchr's,
# and a text holds about one such digit (a search for "a1" skips badly: "a" is everywhere).
_LEET_SHAPE = bytes(
    ord("a") if chr(byte).isalpha() and byte < 128 else ord("1") if chr(byte) in "013457" else ord(" ")
    for byte in range(256)
)
_LETTER = ord("a")
_DIGIT_SPELT_WORD = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[g-zG-Z])[A-Za-z0-9]*[A-Za-z][013457]+[A-Za-z][A-Za-z0-9]*(?![A-Za-z0-9])"
)
_LETTERS_AND_DIGITS = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]+")
# The digits that stand for letters: 0 o, 1 i, 3 e, 4 a, 5 s, 7 t, 8 b, 9 g (2 and 6 stand for none).
_DIGITS_TO_LETTERS = str.maketrans("01345789", "oieastbg")


def cyrillic_words(text: str) -> str:
    """``text`` with the script of each Cyrillic or Greek word decided word by word, before the rules read it.

    The whole-text fold (:func:`folded_view`) reads every Cyrillic look-alike as Latin, which
    undoes English spelt in Cyrillic and spoils Russian. Here, by word:

    * a word whose Cyrillic or Greek letters all imitate Latin ones reads as Latin when it holds
      Latin letters too, or stands between words that are not Russian ("ignore" spelt with a
      Cyrillic o; "ass" spelt all in Cyrillic), and as written next to a Russian word (the
      Russian "not" is two look-alikes: read as Latin, "do not forget" lost its "not");
    * a word with a letter that imitates none (pe, short i, de) is Russian or Ukrainian: its Latin
      letters, when each has a Cyrillic twin, read as Cyrillic (the Russian "stupid" with a Latin
      o), and it reads as written otherwise.

    Returns ``text`` itself when it holds no Cyrillic or Greek letter.
    """
    if text.isascii() or _GREEK_OR_CYRILLIC.search(text) is None:
        return text
    words = list(_WORD.finditer(text))
    kinds = [_script_kind(match.group()) for match in words]
    parts: list[str] = []
    last = 0
    for index, match in enumerate(words):
        word, kind = match.group(), kinds[index]
        if kind == _LOOK_ALIKE:
            beside = kinds[max(index - 1, 0) : index + 2]
            if _ASCII_LETTER.search(word) is not None or _RUSSIAN not in beside:
                word = word.translate(LOOK_ALIKES)
        elif kind == _RUSSIAN and _CYRILLIC.search(word) is not None:
            latins = {char for char in word if char.isascii()}
            if latins and latins <= _CYRILLIC_LOOK_ALIKES:
                word = word.translate(_LATIN_TO_CYRILLIC)
        parts += (text[last : match.start()], word)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


_LATIN, _LOOK_ALIKE, _RUSSIAN = "latin", "look_alike", "russian"


def _script_kind(word: str) -> str:
    """``latin`` (no Cyrillic or Greek letter), ``look_alike`` (each imitates a Latin one) or ``russian``."""
    if _GREEK_OR_CYRILLIC.search(word) is None:
        return _LATIN
    return _LOOK_ALIKE if _GREEK_OR_CYRILLIC.search(word.translate(LOOK_ALIKES)) is None else _RUSSIAN


def _digits_between_letters(text: str) -> bool:
    """True when ``text`` has ASCII letters on both sides of a run of the digits 0 1 3 4 5 7."""
    shape = text.encode("utf-8", "replace").translate(_LEET_SHAPE)
    start = shape.find(b"1")
    while start >= 0:
        if start and shape[start - 1] == _LETTER:
            end = start + 1
            while shape[end : end + 1] == b"1":
                end += 1
            if shape[end : end + 1] == b"a":
                return True
            start = end
        start = shape.find(b"1", start + 1)
    return False


def digits_as_letters(text: str) -> str:
    """``text`` with the digits of its letter-and-digit words read as letters, when a word is spelt with digits.

    "1gn0r3 4ll pr3v10u5 1n5truc710n5" -> "ignore all previous instructions"; a text whose words
    only end or start with digits ("mp3", "20mg", "ipv4"), or hold hexadecimal ids, is returned as it is.
    """
    if not _digits_between_letters(text) or _DIGIT_SPELT_WORD.search(text) is None:
        return text
    return _LETTERS_AND_DIGITS.sub(lambda match: match.group().translate(_DIGITS_TO_LETTERS), text)


_FOLD_FUNCTIONS: dict[Fold, Callable[[str], str]] = {
    "cyrillic_words": cyrillic_words,
    "digits_as_letters": digits_as_letters,
}


def view_with_folds(folds: Sequence[Fold]) -> Callable[[str], str]:
    """The function that makes a text's folded view: :func:`folded_view` with ``folds`` added.

    The folds read the text before :func:`folded_view` (whose spaced letters may join what they
    fold); with ``cyrillic_words``, which decides each word's script, ``folded_view`` leaves
    look-alikes as they are. Returns ``text`` itself when nothing changes, as ``folded_view``
    does: the policy reads a view only where it differs.
    """
    steps = tuple(_FOLD_FUNCTIONS[fold] for fold in FOLDS if fold in folds)
    if not steps:
        return folded_view
    look_alikes = "cyrillic_words" not in folds

    def view(text: str) -> str:
        folded = text
        for step in steps:
            folded = step(folded)
        folded = folded_view(folded, look_alikes)
        return text if folded == text else folded

    return view
