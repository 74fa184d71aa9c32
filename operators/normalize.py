"""Text normalisation and content keys used by deduplication, text hygiene, and the rules' folded view.

Two texts that differ only by whitespace, case or Unicode composition normalise to the
same string, and so give the same content key. :func:`clean_text` removes what nobody sees
(controls, bidi controls, invisible characters) from every stored text; :func:`folded_view`
is what the policy's rules read besides the text: the text as a reader sees it, disguises undone.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata


def normalize_text(text: str) -> str:
    """Unicode NFC, case-folded, runs of whitespace collapsed to one space, stripped.

    Idempotent: ``normalize_text(normalize_text(s)) == normalize_text(s)``.
    """
    if text.isascii():
        # ASCII is already NFC, and its casefold() is lower(): the same result, several times faster.
        lowered = text.lower()
        # Most texts are spaced already: a few C-level looks instead of a split into words and a join
        # (3 against 14 microseconds for 1 KB).
        return lowered if _single_spaced(lowered) else " ".join(lowered.split())
    # casefold() can produce decomposed sequences, so compose again after it.
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return " ".join(folded.split())


# What str.split() splits ASCII text at, besides the space.
_ASCII_BREAKS = ("\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def _single_spaced(text: str) -> bool:
    """True when ASCII ``text`` is its words joined by single spaces (``" ".join(text.split())`` is itself)."""
    if not text or text[0] == " " or text[-1] == " " or "  " in text:
        return not text
    for brk in _ASCII_BREAKS:  # noqa: SIM110 - any() would build a generator per text
        if brk in text:
            return False
    return True


def content_key(prompt: str, chosen: str, rejected: str) -> str:
    """A stable hex key (blake2b-128) of the normalised (prompt, chosen, rejected) triple.

    Each part is length-prefixed so that moving text between fields changes the key.
    """
    digest = hashlib.blake2b(digest_size=16, person=b"flywheel-dedup")
    for part in (prompt, chosen, rejected):
        encoded = normalize_text(part).encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they make
# stored text display in an order other than the one it is read in ("Trojan Source").
# The implicit marks (LRM, RLM, ALM) are bidi controls too.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Zero-width space, word joiner, a stray byte-order mark, the soft hyphen, the invisible maths
# operators (function application, invisible times, separator and plus) and the Mongolian vowel
# separator: invisible, and they split words so that PII detectors, rules and dedup see
# "pass<ZWSP>word" or "ig<SHY>nore" apart from "password" or "ignore". The zero-width
# (non-)joiners U+200C/U+200D stay: emoji sequences and several scripts need them.
_INVISIBLE = frozenset("\u200b\u2060\ufeff\u00ad\u2061\u2062\u2063\u2064\u180e")
# Tag characters U+E0000-U+E007F are invisible copies of ASCII: text spelt in them ("ASCII
# smuggling") is read by a model and seen by nobody. Their one visible use is an emoji tag
# sequence, a black flag U+1F3F4, tags, then the cancel tag U+E007F (the flags of England,
# Scotland and Wales), which is kept whole.
_TAGS = range(0xE0000, 0xE0080)
_EMOJI_TAG_SEQUENCE = "\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"
# Line structure is content; every other C0/C1 control (NUL included) is not.
_KEPT_CONTROLS = frozenset("\t\n\r")


def _unwanted(char: str) -> str | None:
    """``"bidi"``, ``"invisible"`` or ``"control"`` for a character the hygiene step removes, else None."""
    if char in _BIDI_CONTROLS:
        return "bidi"
    if char in _INVISIBLE or ord(char) in _TAGS:
        return "invisible"
    if char not in _KEPT_CONTROLS and unicodedata.category(char) == "Cc":
        return "control"
    return None


# Every character _unwanted() names: C0 and C1 controls except tab/newline/CR, DEL, bidi controls,
# the invisible characters and tags. Searched for alone (a class is found twice as fast as an
# alternation), then removed by _REMOVED, which keeps an emoji tag sequence whole.
_UNWANTED_ASCII = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_UNWANTED_CLASS = (
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\u200e\u200f\u061c\u2060\ufeff\u00ad"
    "\u2061-\u2064\u180e\U000e0000-\U000e007f]"
)
_UNWANTED = re.compile(_UNWANTED_CLASS)
_REMOVED = re.compile(f"{_EMOJI_TAG_SEQUENCE}|{_UNWANTED_CLASS}")


def clean_text(text: str) -> tuple[str, dict[str, int]]:
    """NFC-normalise and remove control characters (not tab/newline), bidi controls and invisible characters.

    Invisible: zero-width spaces, word joiner, byte-order mark, soft hyphen, U+2061-U+2064,
    U+180E and tag characters (not those of an emoji tag sequence such as England's flag).
    Returns the clean text and how many characters of each kind (``control``, ``bidi``,
    ``invisible``) were removed. Removal, not rejection: a stray NUL in an otherwise good edit
    should not cost the pair, and nothing invisible survives into a stored or trained-on text.
    """
    removed: dict[str, int] = {}
    if text.isascii():
        # Nearly every text: ASCII is NFC, and one C-level pass over its bytes finds any control
        # character (the character-class regex below walks the text several times slower).
        encoded = text.encode("ascii")
        if len(encoded.translate(None, _UNWANTED_ASCII)) == len(encoded):
            return text, removed
    if _UNWANTED.search(text) is not None:

        def drop(match: re.Match[str]) -> str:
            found = match.group()
            kind = _unwanted(found) if len(found) == 1 else None  # longer: an emoji tag sequence, kept
            if kind is None:
                return found
            removed[kind] = removed.get(kind, 0) + 1
            return ""

        text = _REMOVED.sub(drop, text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text, removed


# Cyrillic and Greek letters drawn like a Latin one, the look-alikes that spell English words
# in disguise ("Ign<Cyrillic o>re", "<Cyrillic i>d<Cyrillic i>ot"); a subset of Unicode's
# confusables (UTS #39), upper and lower case. A library of the full table (confusable-homoglyphs:
# 900 KB of data, a detector rather than a mapping) would map far more than these scripts need.
LOOK_ALIKES = str.maketrans(
    {
        look_alike: latin
        for look_alikes, latins in (
            # Cyrillic capitals A, VE, IE, KA, EM, EN, O, ER, ES, TE, HA, U, DZE, I, JE, STRAIGHT U,
            # PALOCHKA, QA, WE
            (
                "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0423\u0405\u0406\u0408\u04ae\u04c0"
                "\u051a\u051c",
                "ABEKMHOPCTXYSIJYIQW",
            ),
            # Cyrillic small a, ie, o, er, es, u, ha, dze, i, je, komi de, shha, qa, we, straight u, palochka
            (
                "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0455\u0456\u0458\u0501\u04bb\u051b\u051d\u04af\u04cf",
                "aeopcyxsijdhqwyl",
            ),
            # Greek capitals ALPHA, BETA, EPSILON, ZETA, ETA, IOTA, KAPPA, MU, NU, OMICRON, RHO, TAU, UPSILON, CHI
            ("\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7", "ABEZHIKMNOPTYX"),
            # Greek small alpha, omicron, rho, nu, iota, upsilon, kappa, chi
            ("\u03b1\u03bf\u03c1\u03bd\u03b9\u03c5\u03ba\u03c7", "aopviukx"),
        )
        for look_alike, latin in zip(look_alikes, latins, strict=True)
    }
)
_GREEK_OR_CYRILLIC = re.compile("[\u0370-\u052f]")
# Three or more single letters, each set apart by the same space, dot, hyphen or underscore:
# "i d i o t", "m.o.r.o.n", "I-g-n-o-r-e".
_SPACED_LETTERS = re.compile(r"(?<![^\W\d_])[^\W\d_]([ ._-])[^\W\d_](?:\1[^\W\d_])+(?![^\W\d_])")
# ASCII letters read "a", everything else " ": wherever _SPACED_LETTERS matches, the shape holds
# " a a " (the run's first two letters with what stands around them) or starts with "a a ".
# Searched by re, not ``in``: bytes' own search skips badly over a two-letter alphabet (2x slower).
_LETTER_SHAPE = bytes(ord("a") if chr(byte).isalpha() and byte < 128 else ord(" ") for byte in range(256))
_TWO_SINGLE_LETTERS = re.compile(b" a a ")


# The planes that hold format characters: the Basic and Supplementary Multilingual ones, and
# plane 14's tags (searching these, not all 17 planes, takes a seventh of the time).
_FORMAT_PLANES = (0, 1, 14)


@functools.cache
def _format_characters() -> re.Pattern[str]:
    """A class of every format character (category Cf) this Python's Unicode database knows."""
    chars = "".join(
        re.escape(chr(code))
        for plane in _FORMAT_PLANES
        for code in range(plane << 16, (plane + 1) << 16)
        if unicodedata.category(chr(code)) == "Cf"
    )
    return re.compile(f"[{chars}]+")


def compatibility_view(text: str) -> str:
    """The text with compatibility forms (NFKC: full-width digits, no-break and narrow spaces) and
    format characters (category Cf: zero-width spaces, soft hyphens, ...) undone; ``text`` itself
    when ASCII or nothing changes. Letters keep their case: a scan may store what it reads here."""
    if text.isascii():
        return text
    view = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    view = _format_characters().sub("", view)
    return text if view == text else view


def folded_view(text: str, look_alikes: bool = True) -> str:
    """The text as a reader sees it: compatibility forms, invisible characters and look-alikes undone.

    NFKC (full-width and other compatibility letters become plain ones), format characters
    (category Cf: zero-width joiners, soft hyphens, tags, ...) removed, common Cyrillic and Greek
    look-alikes mapped to the Latin letter they imitate, and runs of three or more single letters
    joined ("i d i o t" -> "idiot"). The policy's rules read it besides the text, never instead:
    it can break what it joins ("you are a i d i o t" -> "you are aidiot"). ``text`` itself when
    nothing changes; an ASCII text costs one C-level look for a spaced-letter run. Without
    ``look_alikes``, letters keep their script (``operators/disguises.py`` decides it word by word).
    """
    if text.isascii():
        if len(text) < 5:  # a run has 5 characters at least
            return text
        shape = text.encode("ascii").translate(_LETTER_SHAPE)
        if _TWO_SINGLE_LETTERS.search(shape) is None and not shape.startswith(b"a a "):
            return text
        view = text
    else:
        view = compatibility_view(text)
        if look_alikes and _GREEK_OR_CYRILLIC.search(view) is not None:
            view = view.translate(LOOK_ALIKES)
    view = _SPACED_LETTERS.sub(lambda match: match.group().replace(match.group(1), ""), view)
    return text if view == text else view
