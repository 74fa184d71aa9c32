from __future__ import annotations

import Levenshtein
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel.operators import edit_kind
from flywheel.operators.config import DistanceSettings
from flywheel.operators.distance import EditMeasure, check_band, measure_edit


def test_seed_example_is_in_band() -> None:
    measure = measure_edit("def foo(): pass", "def calculate_tax(): return 0.2")
    assert 0.10 <= measure.similarity <= 0.95
    assert check_band(measure, DistanceSettings()) is None


def test_counts_of_known_edit() -> None:
    # kitten -> sitting: replace k->s, replace e->i, insert g
    measure = measure_edit("kitten", "sitting")
    assert (measure.distance, measure.inserts, measure.deletes, measure.replaces) == (3, 1, 0, 2)
    assert measure.similarity == pytest.approx(1 - 3 / 7)


def test_delete_counted() -> None:
    measure = measure_edit("abcdef", "abdef")
    assert (measure.inserts, measure.deletes, measure.replaces) == (0, 1, 0)


def test_typo_fix_is_trivial() -> None:
    text = "The quick brown fox jumps over the lazy dog near the river bank today."
    drop = check_band(measure_edit(text.replace("jumps", "jumsp"), text), DistanceSettings())
    assert drop is not None and (drop.stage, drop.reason) == ("distance", "trivial_edit")


@pytest.mark.parametrize(
    ("rejected", "chosen"),
    [
        ("Hello world, this is fine.", "hello world this is fine!"),
        ("Teh answer is  here.", "The answer is here. "),
        ("It recieves the data.", "It receives the data."),
        ("Use the the cache.", "Use the cache."),
        ("We need alot of it.", "We need a lot of it."),
        ("Open th settings page.", "Open the settings page."),
        ("It is CPU-bound work, use I/O threads.", "it is cpu-bound work, use i/o threads."),
        ("I dont know, PosttgreSQL said so.", "I don't know; PostgreSQL said so."),
        # a four-letter word missing a letter after its first (held-out set: wth, sop, tet, cps)
        (
            "Start it wth the script, then sop the old one and run the tet suite.",
            "Start it with the script, then stop the old one and run the test suite.",
        ),
        ("This cps the service at half a core.", "This caps the service at half a core."),
        # inside a code block too: spacing within a line, trailing spaces, blank lines, prose around it
        ("Set it:\n```python\nx=1\n```\nDone", "set it:\n\n```python\nx = 1   \n\n```\ndone."),
        ("Hello world\n    indented prose", "Hello world\nindented prose"),
        # full-width and CJK punctuation, Spanish and French marks (probe round 4: U+3002 -> U+FF0E was accepted)
        ("受け取ってください。次の会社に入るまで。", "受け取ってください\uff0e次の会社に入るまで。"),
        ("まず、会社から受け取ります。", "まず\uff0c会社から受け取ります\uff01"),
        ("Hola, ¿cómo estás? Bien.", "Hola, cómo estás? Bien."),
        ("Il a dit « bonjour ».", 'Il a dit "bonjour".'),
        # diacritics only, at any word length (probe round 5: Portuguese and Polish accepted as pairs)
        ("Vamos lá, passo a passo.", "Vamos la, passo a passo."),
        ("Co tu się dzieje?", "Co tu sie dzieje?"),
        ("Un cafe creme, s'il vous plait.", "Un café crème, s'il vous plaît."),
        # a ligature for its letters, either way (probe round 6 accepted "oeufs" -> "œufs" as a pair)
        ("Battez 4 oeufs avec le sucre.", "Battez 4 œufs avec le sucre."),
        ("Une œuvre qui touche le cœur.", "Une oeuvre qui touche le coeur."),
        ("OEUFS FRAIS DU JOUR", "ŒUFS FRAIS DU JOUR"),
        ("An encyclopaedia of archaeology.", "An encyclopædia of archæology."),
        ("Die Strasse ist gross.", "Die Straße ist groß."),
        ("Open the ﬁle and ﬁx the ﬂag.", "Open the file and fix the flag."),
        ("Het ĳs is dun.", "Het ijs is dun."),
        # a stroke letter for its plain one, like an accent
        ("Spotkanie w Łodzi, sklep przy ulicy.", "Spotkanie w Lodzi, sklep przy ulicy."),
        ("Vi spiser smørrebrød i Kobenhavn.", "Vi spiser smorrebrod i København."),
    ],
)
def test_only_typos_whitespace_punctuation_case_are_trivial(rejected: str, chosen: str) -> None:
    assert measure_edit(rejected, chosen).substantive == ""


@pytest.mark.parametrize(
    ("rejected", "chosen"),
    [
        (
            "Log it: print(error) in the handler of the service.",
            "Log it: logger.info(error) in the handler of the service.",
        ),
        ("The default port is 5432 on most hosts.", "The default port is 5433 on most hosts."),
        ("The timeout is 5 ms for each call.", "The timeout is 5 s for each call."),
        ("Clients should retry later.", "Clients should not retry later."),
        ("It can work.", "It can't work."),
        ("Copy folders with scp -r.", "Copy folders with scp -R."),
        ("if x == 1: return", "if x != 1: return"),
        ("Call get_user first.", "Call get_users first."),
        ("It is valid.", "It is invalid."),
        ("The fox jumps.", "The fix jumps."),
        ("Add the flag and rebuild.", "And the flag and rebuild."),
        ("Set max to 3 workers.", "Set min to 3 workers."),
        ("Do it now.", "Do it not."),
        # a letter changed, not only its accent: "à" (to) -> "a" is a mark, "à" -> "o" is not
        ("Vou à praia.", "Vou o praia."),
        # a ligature next to another change: the number, another word, or inside an identifier
        ("Battez 4 oeufs avec le sucre.", "Battez 6 œufs avec le sucre."),
        ("Il voit des œufs.", "Il voit des ours."),
        ("Set `encyclopaedia_id` first.", "Set `encyclopædia_id` first."),
        ("Die Straße ist groß.", "Die Straße ist bloß."),
        # indentation and case are code: a return moved out of its loop, a Makefile's tab, Python's True
        (
            "Sum it:\n```python\ndef total(xs):\n    s = 0\n    for x in xs:\n        s += x\n        return s\n```",
            "Sum it:\n```python\ndef total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n```",
        ),
        ("Build with:\n```make\nall:\n    gcc main.c\n```", "Build with:\n```make\nall:\n\tgcc main.c\n```"),
        ("Return it:\n```python\nreturn true\n```", "Return it:\n```python\nreturn True\n```"),
        # a word added in code is not an article: a Rust lifetime, a C type
        (
            "Annotate:\n```rust\nfn longest<'a>(x: &'a str, y: &str) -> &'a str {\n```",
            "Annotate:\n```rust\nfn longest<'a>(x: &'a str, y: &'a str) -> &'a str {\n```",
        ),
        ("Declare:\n```c\nint f(struct node *n);\n```", "Declare:\n```c\nint f(struct a node *n);\n```"),
    ],
)
def test_small_meaningful_changes_are_substantive(rejected: str, chosen: str) -> None:
    measure = measure_edit(rejected, chosen)
    assert measure.substantive != ""
    assert check_band(measure, DistanceSettings()) is None


def test_rewrite_of_similar_length_is_caught_though_characters_overlap() -> None:
    answer = (
        "To rotate a key, open the console, choose credentials, and press rotate. The old key keeps working "
        "for a day so clients can switch over."
    )
    rewrite = (
        "Generate a fresh credential from the security page, deploy it to each consumer through your secret "
        "manager, and only then disable the previous one."
    )
    measure = measure_edit(answer, rewrite)
    assert measure.similarity > 0.10  # the character floor alone would accept it
    drop = check_band(measure, DistanceSettings())
    assert drop is not None and drop.reason == "rewrite"
    assert check_band(measure_edit(answer, answer + " Revoke the old key afterwards."), DistanceSettings()) is None


def test_trimmed_answer_is_an_edit_not_a_rewrite() -> None:
    answer = " ".join(f"Sentence number {word} explains one more step of the procedure." for word in "abcdef")
    first = answer.split(". ")[0] + "."
    measure = measure_edit(answer, first)
    assert measure.token_similarity < DistanceSettings().min_token_similarity
    assert check_band(measure, DistanceSettings()) is None


def test_identical_is_trivial() -> None:
    drop = check_band(measure_edit("same", "same"), DistanceSettings())
    assert drop is not None and drop.reason == "trivial_edit"


def test_rewrite_dropped() -> None:
    drop = check_band(measure_edit("aaaaaaaaaa", "zzzzzzzzzzzzzzz"), DistanceSettings())
    assert drop is not None and (drop.stage, drop.reason) == ("distance", "rewrite")


def test_band_bounds_are_inclusive() -> None:
    band = DistanceSettings(min_similarity=0.5, max_similarity=0.5, min_token_similarity=0.5)
    assert check_band(EditMeasure(0.5, 1, 0, 0, 1, 0.5, 0.5, 10, 10, "x"), band) is None
    assert check_band(EditMeasure(0.5000001, 1, 0, 0, 1, 0.5, 0.5, 10, 10, "x"), band) is not None
    assert check_band(EditMeasure(0.5, 1, 0, 0, 1, 0.4999, 0.5, 10, 10, "x"), band) is not None


def test_band_config_validated() -> None:
    with pytest.raises(ValueError, match="min_similarity"):
        DistanceSettings(min_similarity=0.9, max_similarity=0.1)


@given(st.text(max_size=60), st.text(max_size=60))
def test_measure_properties(rejected: str, chosen: str) -> None:
    measure = measure_edit(rejected, chosen)
    assert 0.0 <= measure.similarity <= 1.0
    assert measure.distance == Levenshtein.distance(rejected, chosen)
    assert measure.inserts + measure.deletes + measure.replaces == measure.distance
    assert measure.inserts - measure.deletes == len(chosen) - len(rejected)
    longest = max(len(rejected), len(chosen))
    expected = 1.0 if longest == 0 else 1 - measure.distance / longest
    assert measure.similarity == pytest.approx(expected)


# Words and letters edited: most of a text kept, pieces replaced, dropped and added.
_edited = st.lists(st.sampled_from(["the ", "cat ", "sat", "on ", "mat", ". ", "a", "b", "\n", "é"]), max_size=40).map(
    "".join
)


@settings(max_examples=300)
@given(_edited, _edited)
def test_edit_counts_are_those_of_python_levenshteins_editops(rejected: str, chosen: str) -> None:
    # Counted over blocks of the alignment, the counts are those of its ops one by one (stored in rows).
    ops = [op for op, _, _ in Levenshtein.editops(rejected, chosen)]
    expected = (ops.count("insert"), ops.count("delete"), ops.count("replace"))
    measure = measure_edit(rejected, chosen)
    assert (measure.inserts, measure.deletes, measure.replaces) == expected


@given(
    st.text(max_size=40),
    st.text(max_size=40),
    st.floats(0, 1, allow_nan=False),
    st.floats(0, 1, allow_nan=False),
)
def test_band_decision_matches_definition(rejected: str, chosen: str, a: float, b: float) -> None:
    band = DistanceSettings(min_similarity=min(a, b), max_similarity=max(a, b))
    measure = measure_edit(rejected, chosen)
    drop = check_band(measure, band)
    contained = measure.shorter_words >= 8 and measure.token_containment >= band.min_containment
    if not measure.substantive:
        assert drop is not None and drop.reason == "trivial_edit"
    elif measure.lead_in_cut:
        assert drop is not None and drop.reason == "truncated_edit"
    elif measure.similarity > band.max_similarity:
        assert drop is not None and drop.reason == "trivial_edit"
    elif measure.similarity < band.min_similarity and not contained:
        assert drop is not None and drop.reason == "rewrite"
    elif measure.longer_words < 8 or measure.token_similarity >= band.min_token_similarity or contained:
        assert drop is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["the", "Teh", "getUser", "-r", "$HOME", ".venv", "print(", "x=", "42ms", " ", "\n", ".", "(", "é", "_"]
        ),
        max_size=40,
    ).map("".join)
)
def test_lazily_flagged_tokens_are_the_fully_flagged_ones(text: str) -> None:
    """``substantive_change`` flags only the tokens it looks at; each must be what flagging every token gives."""
    lazy = edit_kind._Tokens(text)
    full = edit_kind._tokens(text)
    assert lazy.texts == [token.text for token in full] and lazy.folded == [token.folded for token in full]
    assert [lazy[index] for index in range(len(full))] == full


@given(st.text(alphabet=st.sampled_from("aZ9_'é\u0130\u01c5\u2160\u00b2\u0663x")) | st.text())
def test_token_flags_read_case_and_digits_as_the_character_loops_do(word: str) -> None:
    # The flags' shortcuts (all letters: no digit; ASCII: upper-case when lower-casing changes it).
    assert edit_kind._has_upper(word) == any(c.isupper() for c in word)
    for token in edit_kind._tokens(word):
        if token.word:
            digits = any(c.isdigit() or c == "_" for c in token.text)
            assert not digits or token.attached


def test_an_answer_cut_to_its_lead_in_is_a_truncated_edit() -> None:
    answer = "Sure! Here is a query that does exactly that:\n```sql\nSELECT name FROM users WHERE active;\n```"
    cut = measure_edit(answer, "Sure! Here is a query that does exactly that:")
    drop = check_band(cut, DistanceSettings())
    assert drop is not None and drop.reason == "truncated_edit"
    # A colon the answer also ends on, or one followed by what it announces, is not a cut.
    assert (
        check_band(
            measure_edit("Steps: open it, then save.", "Steps: open it, then save it twice:"), DistanceSettings()
        )
        is None
    )
    assert not measure_edit(answer, answer.replace("Sure! ", "")).lead_in_cut


def test_a_long_answer_trimmed_to_its_first_sentence_is_an_edit_at_any_length() -> None:
    first = "Use a context manager so the file is closed even when an exception is raised."
    answer = first + " " + " ".join(f"Further detail number {i} about files and buffers." for i in range(40))
    measure = measure_edit(answer, first)
    assert measure.similarity < DistanceSettings().min_similarity  # few characters in place
    assert check_band(measure, DistanceSettings()) is None
