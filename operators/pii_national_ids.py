"""National identity and tax numbers of many countries, each checked by python-stdnum.

Three detectors (run by :mod:`flywheel.operators.pii` before the payment cards, masked
``[NATIONAL_ID]``):

* :data:`ID_SHAPE`: shapes distinctive enough that a valid check digit settles it: an
  Italian codice fiscale, a Mexican CURP, a Spanish NIE, an Indian PAN of a person, a Chinese
  resident id (date of birth, place code and mod-11 key), a Brazilian CPF and CNPJ in their dotted
  form, a Korean RRN written YYMMDD-NNNNNNN, an Aadhaar number in 4-4-4 groups, a Finnish HETU
  holding a letter, a Belgian national number in its dotted form, a Chilean RUT in its dotted form
  and an Argentine CUIT in its dashed form.
* :data:`ID_AFTER_WORDS`: any common written shape of a number, solid or grouped, right after a
  word that names it in its country's language or in English ("PESEL", "BSN", "T.C. kimlik",
  "Steuer-ID", "personnummer", "CPR", "NIF", "SIN", "TFN", ...; and, in a pattern of their own, "주민등록번호",
  "身份证", "आधार"). A short run of digits passes a check digit by chance (one in ten for PESEL, BSN
  or Aadhaar, one in a hundred for CPF or T.C. kimlik), so without its word an 11-digit number in
  technical prose is left alone; with it, the number must still be valid for one of the kinds
  the word names (a Danish CPR, which has had no check digit since 2007: a valid date).

The check digits, dates and codes are python-stdnum's (``is_valid`` of each kind's module), not
written here. A number without a check digit (an Argentine DNI) counts only after its word. Not
covered: the UK National Insurance number, which the US SSN detector's strict pattern already masks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from stdnum.ar import cuit
from stdnum.ar import dni as ar_dni
from stdnum.au import tfn
from stdnum.be import nn
from stdnum.br import cnpj, cpf
from stdnum.ca import sin
from stdnum.cl import rut
from stdnum.cn import ric
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.kr import rrn
from stdnum.mx import curp
from stdnum.nl import bsn
from stdnum.no import fodselsnummer
from stdnum.pl import pesel
from stdnum.pt import nif
from stdnum.se import personnummer
from stdnum.tr import tckimlik
from stdnum.za import idnr as za_idnr

from flywheel.operators.pii_gates import Clues, Hint
from flywheel.operators.pii_matchers import masked_matches
from flywheel.operators.regex_needles import NeedleIndex


@dataclass(frozen=True)
class IdKind:
    """One country's number: how it is written, the words that name it, and its stdnum check."""

    name: str
    is_valid: Callable[[str], bool]
    shapes: tuple[str, ...]  # regex sources of its written forms (ASCII digits and capitals)
    words: tuple[str, ...] = ()  # lower-case words that name it in a sentence
    keep_separators: bool = False  # a separator that means something (Swedish "+": over 100)
    # Words that name it only in capitals: "sin" is in "using", "since" and "business", and as a
    # case-blind word it made the prefilter's pass over every text three times slower.
    capital_words: tuple[str, ...] = ()


# A date's day and month (YYMMDD, DDMMYY): a shape that needs no check digit to be told from a count.
_MMDD = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_DDMM = r"(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])"

# A codice fiscale's digit, or the letter that stands for it (omocodia: 0-9 as L-V).
_CF = r"[\dLMNP-V]"
_CF2 = _CF + "{2}"

KINDS: tuple[IdKind, ...] = (
    # A digit may be written as a letter (L-V: omocodia, the code of a person whose code was taken).
    IdKind("it.codicefiscale", codicefiscale.is_valid, (rf"[A-Z]{{6}}{_CF2}[A-EHLMPR-T]{_CF2}[A-Z]{_CF}{{3}}[A-Z]",)),
    IdKind("mx.curp", curp.is_valid, (r"[A-Z]{4}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d",)),
    IdKind("es.nie", nie.is_valid, (r"[XYZ]-?\d{7}-?[A-Z]",)),
    IdKind("in.pan", pan.is_valid, (r"[A-Z]{5}\d{4}[A-Z]",), ("pan", "permanent account number")),
    IdKind("cn.ric", ric.is_valid, (r"\d{17}[\dX]", r"\d{6} \d{8} \d{3}[\dX]"), ("身份证", "身份證")),
    IdKind("br.cpf", cpf.is_valid, (r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}",), ("cpf",)),
    IdKind("br.cnpj", cnpj.is_valid, (r"\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}",), ("cnpj",)),
    IdKind(
        "kr.rrn",
        rrn.is_valid,
        (r"\d{6}[ -]?\d{7}",),
        ("주민등록번호", "주민번호", "주민등록", "resident registration", "rrn"),
    ),
    IdKind(
        "in.aadhaar",
        aadhaar.is_valid,
        (r"\d{4} \d{4} \d{4}", r"\d{4}-\d{4}-\d{4}", r"\d{12}"),
        ("aadhaar", "aadhar", "adhaar", "uidai", "आधार"),
    ),
    IdKind("pl.pesel", pesel.is_valid, (r"\d{11}",), ("pesel",)),
    # "KİMLİK" in Turkish capitals lower-cases to "ki̇mli̇k" (a combining dot above each i)
    IdKind("tr.tckimlik", tckimlik.is_valid, (r"\d{11}",), ("kimlik", "ki\u0307mli\u0307k", "tckn")),
    IdKind(
        "nl.bsn",
        bsn.is_valid,
        (r"\d{9}", r"\d{4}\.\d{2}\.\d{3}", r"\d{3}[ .]\d{3}[ .]\d{3}"),
        ("bsn", "burgerservicenummer", "sofinummer", "sofi-nummer", "citizen service number"),
    ),
    IdKind(
        "es.dni",
        dni.is_valid,
        (r"\d{8}-?[A-Z]", r"\d{2}\.\d{3}\.\d{3}-?[A-Z]"),
        ("dni", "nif", "documento nacional de identidad"),
    ),
    IdKind(
        "se.personnummer",
        personnummer.is_valid,
        (r"(?:\d{2})?\d{6}[-+]\d{4}", r"(?:\d{2})?\d{10}"),
        ("personnummer", "personnr", "personnumret", "samordningsnummer"),
        keep_separators=True,
    ),
    IdKind("dk.cpr", cpr.is_valid, (r"\d{6}-?\d{4}",), ("cpr", "personnummer")),
    IdKind(
        "no.fodselsnummer",
        fodselsnummer.is_valid,
        (r"\d{6} ?\d{5}",),
        ("fødselsnummer", "fodselsnummer", "fødselsnr", "fnr", "personnummer"),
    ),
    IdKind(
        "fi.hetu",
        hetu.is_valid,
        (r"\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]",),
        ("henkilötunnus", "henkilotunnus", "hetu", "sotu", "personbeteckning", "personal identity code"),
        keep_separators=True,
    ),
    IdKind(
        "de.idnr",
        idnr.is_valid,
        (r"\d{11}", r"\d{2} \d{3} \d{3} \d{3}"),
        (
            *("steuer-id", "steuer id", "steuerid", "steuer-idnr", "idnr", "identifikationsnummer"),
            *("steueridentifikationsnummer", "steuer-identifikationsnummer", "tax id", "tax identification number"),
        ),
    ),
    IdKind(
        "pt.nif",
        nif.is_valid,
        (r"\d{9}", r"\d{3} \d{3} \d{3}"),
        ("nif", "contribuinte"),
    ),
    IdKind(
        "be.nn",
        nn.is_valid,
        (r"\d{2}\.?\d{2}\.?\d{2}-?\d{3}\.?\d{2}",),
        (
            *("rijksregisternummer", "rijksregister", "registre national", "numéro national", "numero national"),
            *("insz", "niss", "national register number"),
        ),
    ),
    IdKind(
        "cl.rut",
        rut.is_valid,
        (r"\d{1,2}\.?\d{3}\.?\d{3}-[\dkK]",),
        ("rut", "rol unico tributario", "rol único tributario"),
    ),
    IdKind("ar.cuit", cuit.is_valid, (r"\d{2}-?\d{8}-?\d",), ("cuit", "cuil")),
    # No check digit: 7 or 8 digits are an Argentine DNI only after its word (as a Spanish DNI,
    # whose letter the shape above needs, is).
    IdKind(
        "ar.dni", ar_dni.is_valid, (r"\d{1,2}\.\d{3}\.\d{3}", r"\d{7,8}"), ("dni", "documento nacional de identidad")
    ),
    # Luhn, and no SIN starts with 0 or 8 (stdnum): "sin" alone is also Spanish "without", so nine
    # digits must pass both.
    IdKind(
        "ca.sin",
        sin.is_valid,
        (r"\d{3}[ \-]?\d{3}[ \-]?\d{3}",),
        ("social insurance number", "assurance sociale"),
        capital_words=("SIN", "NAS"),
    ),
    IdKind("au.tfn", tfn.is_valid, (r"\d{3} ?\d{3} ?\d{2,3}",), ("tfn", "tax file number")),
    # 13 digits: a birth date, then Luhn. "ID number" names it here only: a ticket's 11-digit "ID
    # number" must not be read as a PESEL, and a date plus Luhn passes about 1 in 30 such runs.
    IdKind(
        "za.idnr",
        za_idnr.is_valid,
        (r"\d{13}", r"\d{6} \d{4} \d{3}"),
        ("south african id", "sa id", "id number", "id no", "identity number", "identiteitsnommer"),
    ),
)
_BY_NAME = {kind.name: kind for kind in KINDS}

# Words that name a national number without saying whose: the number may be of any kind above.
GENERIC_WORDS = (
    *("national id", "national identity number", "national identification number", "identity card number"),
    *("personal identification number", "personal identity number"),
)

# Where a number starts and stops: no ASCII letter or digit touches it (Korean, Chinese and Japanese
# run their words into it: "910423-1283743이고"), and it is no part of a longer dotted, dashed or
# spaced run: three groups of a card (4111 1111 1111 1111) or an IBAN are not an Aadhaar number.
_BEFORE = r"(?<![0-9A-Za-z+.\-/])(?<!\d\d )"
_AFTER = r"(?![0-9A-Za-z]|[.\-/]\d| \d\d)"

# The shapes that pass on their check digits alone, one named group each (the kind's name): the
# class of its first character, and the rest. The pattern starts with the union of the first
# characters, so Python's engine skips to the next digit or capital at C speed (a leading lookbehind
# made it try every position of every text: 56 us for a text where the prefilter cannot decide).
_ALONE = {
    "it_codicefiscale": ("[A-Z]", rf"[A-Z]{{5}}{_CF2}[A-EHLMPR-T]{_CF2}[A-Z]{_CF}{{3}}[A-Z]"),
    "mx_curp": ("[A-Z]", r"[A-Z]{3}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d"),
    "es_nie": ("[XYZ]", r"-?\d{7}-?[A-Z]"),
    "in_pan": ("[A-Z]", r"[A-Z]{2}P[A-Z]\d{4}[A-Z]"),  # P: a person's (a company's PAN names nobody)
    "cn_ric": (r"\d", rf"\d{{5}} ?(?:18|19|20)\d{{2}}{_MMDD} ?\d{{3}}[\dX]"),
    "br_cpf": (r"\d", r"\d{2}\.\d{3}\.\d{3}-\d{2}"),
    "br_cnpj": (r"\d", r"\d\.\d{3}\.\d{3}/\d{4}-\d{2}"),
    "kr_rrn": (r"\d", rf"\d{_MMDD}-[1-8]\d{{6}}"),
    "in_aadhaar": ("[2-9]", r"\d{3} \d{4} \d{4}|\d{3}-\d{4}-\d{4}"),
    # a letter for the century (A: 2000s) or as the check character: "131052-308T", "150312A345A"
    "fi_hetu": ("[0-3]", r"\d(?:0[1-9]|1[0-2])\d{2}(?:[A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]|[-+]\d{3}[A-FHJ-NPR-Y])"),
    "be_nn": (r"\d", r"\d\.\d{2}\.\d{2}-\d{3}\.\d{2}"),
    "cl_rut": (r"\d", r"\d?\.\d{3}\.\d{3}-[\dkK]"),
    "ar_cuit": ("[23]", r"[0347]-\d{8}-\d"),  # 20, 23, 24, 27, 30, 33, 34 (stdnum checks which)
}
# _BEFORE, checked one character later: the character before the first, and the three before it.
_AFTER_FIRST = r"(?<![0-9A-Za-z+.\-/].)(?<!\d\d ..)"
ID_SHAPE = re.compile(
    rf"[0-9A-Z](?=[0-9A-Z .\-/]{{8}}){_AFTER_FIRST}(?:"
    + "|".join(f"(?P<{group}>(?<={first})(?:{rest}))" for group, (first, rest) in _ALONE.items())
    + f"){_AFTER}"
)

# Every word, to the kinds it names ("personnummer": Swedish, Danish or Norwegian), keyed without
# its spaces, dots and dashes ("Steuer-ID" and "Steuer ID" are one word).
_WORD_KINDS: dict[str, tuple[IdKind, ...]] = {}
for _kind in (*KINDS, IdKind("any", bool, (), GENERIC_WORDS)):
    for _word in (*_kind.words, *(word.lower() for word in _kind.capital_words)):
        _key = re.sub(r"[ .\-]", "", _word)
        _named = KINDS if _kind.name == "any" else (_kind,)
        _WORD_KINDS[_key] = tuple(dict.fromkeys((*_WORD_KINDS.get(_key, ()), *_named)))
_ALL_WORDS = sorted({word for kind in KINDS for word in kind.words} | set(GENERIC_WORDS), key=len, reverse=True)
# Scripts without case or word boundaries (Korean, Chinese, Devanagari) have a pattern of their own:
# in one alternation with the Latin words (or with "Steuer[ -]?ID" for every spelling) they made the
# prefilter's pass over every text a third slower.
_LATIN = tuple(word for word in _ALL_WORDS if word[0] < "\u0250")
_UNCASED = tuple(word for word in _ALL_WORDS if word not in _LATIN)

_SHAPES = "|".join(dict.fromkeys(shape for kind in KINDS for shape in sorted(kind.shapes, key=len, reverse=True)))
# The lookahead (every shape starts with a digit or a capital) spares the 40 shapes at the other
# characters the gap gives back.
_NUMBER = rf"[^\n\d]{{0,30}}(?=[0-9A-Z])(?P<number>{_BEFORE}(?:{_SHAPES}){_AFTER})"
ID_AFTER_WORD = re.compile(rf"(?P<word>(?i:\b(?:{'|'.join(map(re.escape, _LATIN))})\b)){_NUMBER}")
# What the prefilter compiles (it scans ASCII text only, where a word with another letter cannot
# match): "ki̇mli̇k" in the engine's choice made its pass over every text four times slower.
# In chunks of at most 40 words: past about 70 words in one alternation the engine's pass over every
# text was three times slower (feedback texts 19 -> 47 us; one more word of any kind tipped it).
_ASCII_WORDS = [re.escape(w) for w in _LATIN if w.isascii()]
_ASCII_AFTER_WORD = tuple(
    re.compile(rf"(?i:\b(?:{'|'.join(_ASCII_WORDS[at : at + 40])})\b){_NUMBER}")
    for at in range(0, len(_ASCII_WORDS), 40)
)
ID_AFTER_UNCASED_WORD = re.compile(rf"(?P<word>{'|'.join(_UNCASED)}){_NUMBER}")
_CAPITALS = tuple(word for kind in KINDS for word in kind.capital_words)
ID_AFTER_CAPITAL_WORD = re.compile(rf"(?P<word>\b(?:{'|'.join(map(re.escape, _CAPITALS))})\b){_NUMBER}")


def _valid(kind: IdKind, number: str) -> bool:
    """True when ``number`` is written in one of the kind's shapes and stdnum finds it valid."""
    if not any(re.fullmatch(shape, number) for shape in kind.shapes):
        return False
    compact = number.replace(" ", "") if kind.keep_separators else re.sub(r"[ .\-/]", "", number)
    return kind.is_valid(compact.upper())


def id_shape_ok(match: re.Match[str]) -> bool:
    """True when a distinctive shape (a group of :data:`ID_SHAPE`) is a valid number."""
    group = match.lastgroup
    number = match.group(0)
    if group is None:
        return False
    if group == "in_aadhaar" and all(1900 <= int(part) <= 2099 for part in re.split(r"[ -]", number)):
        return False  # three years in a row ("2019 2020 2021"), not a number that one in ten would fit
    return _valid(_BY_NAME[group.replace("_", ".", 1)], number)


def id_after_word_ok(match: re.Match[str]) -> bool:
    """True when the number (group ``number``) is valid for one of the kinds its word (``word``) names."""
    kinds = _WORD_KINDS.get(re.sub(r"[ .\-]", "", match.group("word").lower()), ())
    number = match.group("number")
    return any(_valid(kind, number) for kind in kinds)


# Characters Python's case-insensitive matching reads as an ASCII letter that str.lower() leaves
# as they are (or makes two characters of): mapped first, so a word is where the pattern finds it.
_CASE_TWINS = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k"))


@dataclass(frozen=True)
class WordDetector:
    """A detector every match of which starts with one of its words: its pattern is tried only there.

    It masks what ``pattern.sub`` with ``validate`` masks (the reference scan runs it so), without
    Python's engine trying a case-insensitive choice of 70 words at every position of the text
    (about 200 us for a 2 KB text): one pass of :class:`NeedleIndex` says which words the
    lower-cased text holds, and the pattern is tried where they start.
    """

    name: str
    pattern: re.Pattern[str]
    mask: str
    validate: Callable[[re.Match[str]], bool]
    words: tuple[str, ...]  # lower case; every match starts with one
    group: str = "number"
    min_digits: int = 0
    # What the prefilter compiles, one of which every match matches (none: the pattern).
    prefilters: tuple[re.Pattern[str], ...] = ()
    # The pattern's words stand between word boundaries (\b): a start inside a word ("sin" of
    # "using", "pan" of "pandas") is skipped before the pattern is tried there.
    bounded: bool = False
    hints: tuple[Hint, ...] = field(init=False)
    index: NeedleIndex = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hints", tuple(Hint(p) for p in self.prefilters or (self.pattern,)))
        object.__setattr__(self, "index", NeedleIndex(self.words))

    def may_match(self, clues: Clues) -> bool:
        """False when none of the words is in the text."""
        return bool(self.index.found(clues.lower))

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with valid matches' ``group`` masked, and how many (the same object when none)."""
        folded = text
        if not text.isascii():
            for twin, letter in _CASE_TWINS:
                folded = folded.replace(twin, letter)
        lower = folded.lower()
        if len(lower) != len(text):  # a character lower-cased into two: positions no longer line up
            return masked_matches(self.pattern, self.validate, self.group, self.mask, text)
        starts: set[int] = set()
        for word in self.index.found(lower):
            at = lower.find(word)
            while at >= 0:
                if not self.bounded or _between_boundaries(lower, at, at + len(word)):
                    starts.add(at)
                at = lower.find(word, at + 1)
        spans: list[tuple[int, int]] = []
        done = 0
        # As sub(): the leftmost match, then the next one after it (a failed validation included).
        for start in sorted(starts):
            match = self.pattern.match(text, start) if start >= done else None
            if match is not None:
                done = match.end()
                if self.validate(match):
                    spans.append(match.span(self.group))
        if not spans:
            return text, 0
        pieces: list[str] = []
        last = 0
        for start, end in spans:
            pieces += (text[last:start], self.mask)
            last = end
        pieces.append(text[last:])
        return "".join(pieces), len(spans)


def _between_boundaries(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` has a word boundary (``\b``) at both ends, as the pattern needs."""

    def wordy(char: str) -> bool:
        return char.isalnum() or char == "_"

    before = wordy(text[start - 1]) if start > 0 else False
    after = wordy(text[end]) if end < len(text) else False
    return before != wordy(text[start]) and after != wordy(text[end - 1])


# After the shape detector (operators/pii_detectors.py): the words' detectors.
ID_AFTER_WORDS = tuple(
    WordDetector(
        "national_id",
        pattern,
        "[NATIONAL_ID]",
        id_after_word_ok,
        words,
        min_digits=4,
        prefilters=ascii,
        bounded=bounded,
    )
    for pattern, words, ascii, bounded in (
        (ID_AFTER_WORD, _LATIN, _ASCII_AFTER_WORD, True),
        (ID_AFTER_UNCASED_WORD, _UNCASED, (), False),
        # found lower-cased like the others, tried in capitals only
        (ID_AFTER_CAPITAL_WORD, tuple(word.lower() for word in _CAPITALS), (), True),
    )
)
# The same three as plain pattern detectors (pattern, validator, group, words) for the reference scan.
NATIONAL_IDS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], bool], str | None, tuple[str, ...]], ...] = (
    (ID_SHAPE, id_shape_ok, None, ()),
    *((d.pattern, d.validate, d.group, d.words) for d in ID_AFTER_WORDS),
)
