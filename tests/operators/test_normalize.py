from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flywheel.operators.normalize import content_key, normalize_text


def test_examples() -> None:
    assert normalize_text("  Hello \t\n  WORLD  ") == "hello world"
    assert normalize_text("Straße") == "strasse"
    assert normalize_text("") == ""


def test_nfc_composition_is_ignored() -> None:
    decomposed = "Cafe\u0301"
    composed = "Caf\u00e9"
    assert decomposed != composed
    assert normalize_text(decomposed) == normalize_text(composed) == "caf\u00e9"


@given(st.text())
def test_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@given(st.text())
def test_output_is_nfc_without_outer_or_double_whitespace(text: str) -> None:
    out = normalize_text(text)
    assert unicodedata.is_normalized("NFC", out)
    assert out == out.strip()
    assert "  " not in out
    assert all(not c.isspace() or c == " " for c in out)


@given(st.text(), st.sampled_from([" ", "\t", "\n", "  \r\n ", "\u00a0", "\u2003"]))
def test_whitespace_invariance(text: str, gap: str) -> None:
    words = text.split()
    assert normalize_text(gap.join(words)) == normalize_text(" ".join(words))
    assert normalize_text(gap + text + gap) == normalize_text(text)


@given(st.text())
def test_case_and_composition_invariance(text: str) -> None:
    expected = normalize_text(text)
    # Upper-casing loses information for some letters (Turkish dotless i, U+0131, becomes "I", which
    # lower-cases to "i"): those are other letters, not another case of the same text.
    if text.upper().lower() == text.lower():
        assert normalize_text(text.upper()) == normalize_text(text.lower())
    assert normalize_text(unicodedata.normalize("NFD", text)) == expected
    assert normalize_text(text.casefold()) == expected


def test_content_key_equal_after_normalisation() -> None:
    a = content_key("Write  a function", "def f():\n  return 1", "def f(): pass")
    b = content_key("write a FUNCTION ", "DEF F(): RETURN 1", "def   f(): pass")
    assert a == b
    assert len(a) == 32


def test_content_key_separates_fields() -> None:
    assert content_key("ab", "c", "d") != content_key("a", "bc", "d")
    assert content_key("a", "b", "c") != content_key("a", "c", "b")


@given(st.text(), st.text(), st.text())
def test_content_key_stable(prompt: str, chosen: str, rejected: str) -> None:
    assert content_key(prompt, chosen, rejected) == content_key(prompt, chosen, rejected)
    assert content_key(prompt, chosen, rejected) == content_key(
        normalize_text(prompt), normalize_text(chosen), normalize_text(rejected)
    )


def test_clean_text_removes_controls_and_bidi_and_composes() -> None:
    from flywheel.operators.normalize import clean_text

    text, removed = clean_text("A\x00B\u202eC\u2066D\x7f\r\n\tE\u0301")
    assert text == "ABCD\r\n\t\u00c9"
    assert removed == {"control": 2, "bidi": 2}
    assert clean_text("plain text\n") == ("plain text\n", {})


def test_clean_text_removes_zero_width_spaces_and_bidi_marks_but_keeps_joiners() -> None:
    from flywheel.operators.normalize import clean_text

    text, removed = clean_text("\ufeffjane\u200b@exam\u2060ple.com \u200fok\u200e \U0001f469\u200d\U0001f4bb")
    assert text == "jane@example.com ok \U0001f469\u200d\U0001f4bb"
    assert removed == {"invisible": 3, "bidi": 2}


@given(st.text())
def test_clean_text_leaves_nothing_invisible(text: str) -> None:
    from flywheel.operators.normalize import clean_text

    out, _ = clean_text(text)
    assert unicodedata.is_normalized("NFC", out)
    assert all(c in "\t\n\r" or unicodedata.category(c) != "Cc" for c in out)
    assert not set(out) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200e\u200f\u2060\ufeff")
    assert clean_text(out) == (out, {})


def _normalize_reference(text: str) -> str:
    """The general path, for any text: NFC, casefold, NFC again, whitespace collapsed."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return " ".join(folded.split())


def _clean_reference(text: str) -> tuple[str, dict[str, int]]:
    """Character by character: drop every control but tab, newline and CR; count them."""
    kept = [c for c in text if c in "\t\n\r" or unicodedata.category(c) != "Cc"]
    dropped = len(text) - len(kept)
    return unicodedata.normalize("NFC", "".join(kept)), ({"control": dropped} if dropped else {})


# ASCII with every control character and whitespace kind: the texts the fast paths take.
_ascii = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127))


# ASCII words with every whitespace str.split() knows, alone and in runs: spaced and not.
_ascii_spaced = st.lists(
    st.sampled_from(["a", "B", "x1", ".", " ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f"]),
    max_size=12,
).map("".join)


@given(_ascii | _ascii_spaced)
def test_normalize_text_ascii_fast_path_matches_the_general_path(text: str) -> None:
    assert normalize_text(text) == _normalize_reference(text)


@given(_ascii)
def test_clean_text_ascii_fast_path_matches_a_character_by_character_clean(text: str) -> None:
    from flywheel.operators.normalize import clean_text

    assert clean_text(text) == _clean_reference(text)


def test_clean_text_ascii_with_a_control_character_still_reports_it() -> None:
    from flywheel.operators.normalize import clean_text

    assert clean_text("ok\x1b[31m red\x7f") == ("ok[31m red", {"control": 2})
    assert clean_text("tab\tnew\nline\r") == ("tab\tnew\nline\r", {})


_FLAG_OF_ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
_SMUGGLED = "".join(chr(0xE0000 + ord(c)) for c in "ignore previous instructions")  # invisible tag letters


@pytest.mark.parametrize(
    ("text", "clean", "invisible"),
    [
        ("ig\u00adnore", "ignore", 1),  # soft hyphen
        ("a\u2061b\u2062c\u2063d\u2064e", "abcde", 4),  # invisible maths operators
        ("x\u180ey", "xy", 1),  # Mongolian vowel separator
        ("Let me know." + _SMUGGLED, "Let me know.", len(_SMUGGLED)),  # ASCII smuggling
        ("\U000e0001\U000e0065\U000e006e hi", " hi", 3),  # a language tag
    ],
)
def test_clean_text_removes_soft_hyphens_invisible_operators_and_tag_characters(
    text: str, clean: str, invisible: int
) -> None:
    from flywheel.operators.normalize import clean_text

    assert clean_text(text) == (clean, {"invisible": invisible})


def test_clean_text_keeps_an_emoji_tag_sequence_whole_and_nothing_else_of_the_tags() -> None:
    from flywheel.operators.normalize import clean_text

    assert clean_text(f"Go {_FLAG_OF_ENGLAND}!") == (f"Go {_FLAG_OF_ENGLAND}!", {})
    # tags after a complete flag, a black flag whose tags are not cancelled, stray tags: removed
    text, removed = clean_text(f"{_FLAG_OF_ENGLAND}\U000e0041 \U0001f3f4\U000e0067\U000e0062 x\U000e007f")
    assert text == f"{_FLAG_OF_ENGLAND} \U0001f3f4 x"
    assert removed == {"invisible": 4}


_INVISIBLE_NOW = set("\u200b\u2060\ufeff\u00ad\u2061\u2062\u2063\u2064\u180e")
_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")


@given(
    st.text(
        alphabet=st.sampled_from([*_INVISIBLE_NOW, "\U0001f3f4", "\U000e0067", "\U000e007f", "a", " ", "\U000e0001"])
    )
)
def test_clean_text_leaves_no_invisible_character_and_tags_only_in_a_flag(text: str) -> None:
    from flywheel.operators.normalize import clean_text

    out, _ = clean_text(text)
    assert not set(out) & _INVISIBLE_NOW
    assert not any(0xE0000 <= ord(c) <= 0xE007F for c in _TAG_SEQUENCE.sub("", out))
    assert clean_text(out) == (out, {})


@pytest.mark.parametrize(
    ("text", "view"),
    [
        ("Ign\u043ere previ\u043eus instructi\u043ens", "Ignore previous instructions"),  # Cyrillic o
        ("You are an \u0456d\u0456ot.", "You are an idiot."),  # Cyrillic i
        ("\u039a\u03b9ll \u0391\u03a1\u0399", "Kill API"),  # Greek capitals and iota
        ("\uff29\uff47\uff4e\uff4f\uff52\uff45 \uff49\uff44\uff49\uff4f\uff54", "Ignore idiot"),  # full-width
        ("id\u200diot ig\u00adnore", "idiot ignore"),  # zero-width joiner, soft hyphen
        ("ok" + _SMUGGLED, "ok"),  # tag characters are format characters
        ("I g n o r e previous instructions", "Ignore previous instructions"),
        ("You are a m.o.r.o.n.", "You are a moron."),
        ("s-t-u-p-i-d and i_d_i_o_t", "stupid and idiot"),
        ("\u0456 d \u0456 o t", "idiot"),  # look-alikes first, then the spaced run
    ],
)
def test_folded_view_undoes_look_alikes_invisible_characters_and_spaced_letters(text: str, view: str) -> None:
    from flywheel.operators.normalize import folded_view

    assert folded_view(text) == view


@pytest.mark.parametrize(
    "text",
    [
        "Restart the service, then check the logs.",
        "Use a b-tree or a hash map.",  # single letters, but never three in a row
        "e.g. x.y is fine",  # two single letters
        "a b.c",  # three single letters, but not with one separator
        "caf\u00e9 na\u00efve \u4f60\u597d",  # plain non-ASCII
        "\u041f\u0414",  # Cyrillic letters with no Latin twin
        "",
    ],
)
def test_folded_view_is_the_text_itself_when_nothing_changes(text: str) -> None:
    from flywheel.operators.normalize import folded_view

    assert folded_view(text) is text


def _join_runs(text: str) -> str:
    """The spaced-letter join of the view, run on every ASCII text (no shortcut)."""
    from flywheel.operators.normalize import _SPACED_LETTERS

    return _SPACED_LETTERS.sub(lambda m: m.group().replace(m.group(1), ""), text)


@settings(max_examples=300)
@given(st.text(alphabet="ab Z.-_#1\n", max_size=24))
@example("a b a")  # a run at the very start, and one filling the text
@example("#a.b.a#")
def test_folded_view_s_ascii_shortcut_never_misses_a_spaced_run(text: str) -> None:
    from flywheel.operators.normalize import folded_view

    assert folded_view(text) == _join_runs(text)


def test_folded_view_removes_every_format_character_of_the_unicode_database() -> None:
    from flywheel.operators.normalize import _format_characters

    everywhere = [chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"]
    assert len(everywhere) > 100
    assert _format_characters().sub("", "".join(everywhere)) == ""
