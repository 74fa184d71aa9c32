from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flywheel.operators.config import ToxicitySettings
from flywheel.operators.toxicity import (
    ProfanityBackend,
    SegmentedScorer,
    ToxicityBackend,
    ToxicityError,
    ToxicityGate,
    batch_size_of,
    build_backend,
    build_scorer,
    segments,
    spelt_out,
)

CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
WORDS = [
    "you",
    "are",
    "a",
    "nice",
    "kind",
    "helpful",
    "person",
    "idiot",
    "stupid",
    "hate",
    "the",
    "this",
    "is",
    "good",
    "bad",
    "day",
    "have",
]


def test_profanity_backend_is_the_offline_default() -> None:
    backend = build_backend(ToxicitySettings())
    assert isinstance(backend, ProfanityBackend)
    assert isinstance(backend, ToxicityBackend)
    assert backend.labels == ("profanity",)
    scores = backend.score_batch(["Have a nice day, thank you!", "fuck you, you stupid shit"])
    assert len(scores) == 2
    assert scores[0]["profanity"] < 0.2
    assert scores[1]["profanity"] > 0.8
    assert backend.score_batch([]) == []


def test_gate_thresholds() -> None:
    gate = ToxicityGate({"toxicity": 0.5, "insult": 0.3})
    assert gate.check({"toxicity": 0.49, "insult": 0.1, "unthresholded": 0.99}) is None
    drop = gate.check({"toxicity": 0.6, "insult": 0.9})
    assert drop is not None
    assert (drop.stage, drop.reason) == ("toxicity", "toxicity:insult")  # furthest over its threshold
    assert drop.scores == {"toxicity:toxicity": 0.6, "toxicity:insult": 0.9}
    assert gate.check({"toxicity": 0.5}) is not None  # threshold is inclusive


def test_gate_validation() -> None:
    with pytest.raises(ValueError, match="within"):
        ToxicityGate({"toxicity": 1.5})
    with pytest.raises(ToxicityError, match="no toxicity threshold"):
        ToxicityGate.for_backend({"toxicity": 0.5}, ProfanityBackend())
    assert ToxicityGate.for_backend(ToxicitySettings().thresholds, ProfanityBackend()).thresholds


def test_build_backend_errors(tmp_path: Path) -> None:
    with pytest.raises(ToxicityError, match="needs `checkpoint` and `config_dir`"):
        build_backend(ToxicitySettings(backend="detoxify"))
    with pytest.raises(ToxicityError, match="does not exist"):
        build_backend(ToxicitySettings(backend="detoxify", checkpoint=tmp_path / "x.ckpt", config_dir=tmp_path))
    with pytest.raises(ValueError):
        ToxicitySettings(backend="perspective")  # type: ignore[arg-type]


def _build_tiny_detoxify(root: Path, model_type: str | None = None) -> tuple[Path, Path]:
    """A random tiny BERT saved the way Detoxify's release checkpoints are, plus its config folder."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config_dir = root / "bert-tiny"
    config_dir.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    vocab += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    (config_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = transformers.BertTokenizer(vocab_file=str(config_dir / "vocab.txt"), model_max_length=64)
    tokenizer.save_pretrained(config_dir)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(CLASSES),
    )
    model = transformers.BertForSequenceClassification(config)
    config.save_pretrained(config_dir)
    checkpoint = root / "toxic-tiny.ckpt"
    arch = {
        "model_type": model_type or str(config_dir),
        "model_name": "BertForSequenceClassification",
        "tokenizer_name": "BertTokenizer",
        "num_classes": len(CLASSES),
    }
    payload = {"config": {"arch": {"args": arch}, "dataset": {"args": {"classes": CLASSES}}}}
    torch.save({**payload, "state_dict": model.state_dict()}, checkpoint)
    return checkpoint, config_dir


TEXTS = ["you are a nice person", "you stupid idiot i hate this", "have a good day", "bad"]


def test_detoxify_backend_scores_a_batch_like_detoxify_itself(tmp_path: Path) -> None:
    detoxify = pytest.importorskip("detoxify")
    checkpoint, config_dir = _build_tiny_detoxify(tmp_path)
    settings = ToxicitySettings(backend="detoxify", checkpoint=checkpoint, config_dir=config_dir)
    backend = build_backend(settings)
    assert backend.name == "detoxify"
    expected_labels = ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack")
    assert backend.labels == expected_labels
    scores = backend.score_batch(TEXTS)
    assert len(scores) == len(TEXTS)
    assert all(set(row) == set(expected_labels) and all(0 <= v <= 1 for v in row.values()) for row in scores)
    # Same numbers as the library's own predict() on the same checkpoint.
    reference = detoxify.Detoxify(checkpoint=str(checkpoint), huggingface_config_path=str(config_dir))
    predicted = reference.predict(TEXTS)
    for i, row in enumerate(scores):
        for label in expected_labels:
            assert row[label] == pytest.approx(predicted[label][i], abs=1e-5)
    # Batching (padding) does not change an item's scores.
    single = backend.score_batch([TEXTS[1]])[0]
    assert single == pytest.approx(scores[1], abs=1e-5)
    assert backend.score_batch([]) == []
    strict = ToxicityGate.for_backend({"toxicity": 0.0}, backend).check(scores[0])
    assert strict is not None and strict.reason == "toxicity:toxicity"
    assert ToxicityGate.for_backend({"toxicity": 1.0}, backend).check(scores[0]) is None


def test_detoxify_backend_never_downloads_the_hub_model_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("detoxify")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkpoint, config_dir = _build_tiny_detoxify(tmp_path, model_type="bert-base-uncased")
    settings = ToxicitySettings(backend="detoxify", checkpoint=checkpoint, config_dir=config_dir)
    backend = build_backend(settings)
    assert len(backend.score_batch(TEXTS)) == len(TEXTS)


def test_detoxify_backend_rejects_a_foreign_checkpoint(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("detoxify")
    _, config_dir = _build_tiny_detoxify(tmp_path)
    bogus = tmp_path / "bogus.ckpt"
    torch.save({"weights": torch.zeros(1)}, bogus)
    with pytest.raises(ToxicityError, match="`config` and `state_dict`"):
        build_backend(ToxicitySettings(backend="detoxify", checkpoint=bogus, config_dir=config_dir))


LONG_ANSWER = (
    "To rotate a key, open the admin console, choose credentials and press rotate. The old key keeps working "
    "for a day so that every client can switch over. Update each service that reads the key before the grace "
    "period ends, and revoke the old key explicitly once no client uses it."
)


def test_segments_are_sentences_and_windows() -> None:
    assert segments("One two. Three four!\nFive six") == ["One two.", "Three four!", "Five six"]
    windows = segments(" ".join(f"w{i}" for i in range(10)), max_words=4)
    assert windows[0] == "w0 w1 w2 w3" and windows[1] == "w2 w3 w4 w5" and windows[-1].endswith("w9")
    assert segments("  \n ") == []


def test_an_insult_inside_a_long_edit_is_caught_per_segment() -> None:
    backend = ProfanityBackend()
    edit = LONG_ANSWER + " This answer is garbage, you idiot."
    whole = backend.score_batch([edit])[0]["profanity"]
    scorer = build_scorer(ToxicitySettings())
    segmented = scorer.score_edits([edit], [LONG_ANSWER])[0]["profanity"]
    assert whole < 0.8 <= segmented  # diluted when scored whole, caught per segment
    gate = ToxicityGate(ToxicitySettings().thresholds)
    assert gate.check({"profanity": segmented}) is not None
    assert scorer.score_edits([LONG_ANSWER], [LONG_ANSWER])[0]["profanity"] < 0.8


@given(st.text(alphabet=".!?;: \n\t\r\x0baB", max_size=24))
def test_segments_split_where_the_plain_break_pattern_does(text: str) -> None:
    # The break pattern is written for speed; the segments must be those of the plain pattern.
    parts = re.split(r"(?<=[.!?;])\s+|\s*\n\s*", text)
    assert segments(text) == [part.strip() for part in parts if part.split()]


def test_words_spelt_with_look_alike_digits_are_scored_spelt_out() -> None:
    assert spelt_out("You sh1tty little program.") == ["You shitty little program.", "You shltty little program."]
    assert spelt_out("a$$hole and b!tch, bu11shit") == ["asshole and bitch, buiishit", "asshole and bitch, bullshit"]
    assert spelt_out("Hello! Port 8080 on 10.0.0.1 is open.") == []
    scorer = build_scorer(ToxicitySettings())
    edit = LONG_ANSWER + " You sh1tty little program."
    assert ProfanityBackend().score_batch(["You sh1tty little program."])[0]["profanity"] < 0.8
    assert scorer.score_edits([edit], [LONG_ANSWER])[0]["profanity"] >= 0.8


def test_segments_the_model_already_wrote_are_not_scored_alone() -> None:
    answer = "Find the pid with lsof. Then stop it gracefully, and only use kill -9 if it does not exit."
    scorer = build_scorer(ToxicitySettings())
    assert scorer.pieces(answer + " Check again.", answer) == [answer + " Check again.", "Check again."]
    assert scorer.pieces("Hello there.") == ["Hello there."]


def test_segmented_scorer_batches_every_segment_and_keeps_order() -> None:
    class Recording:
        name = "recording"
        labels = ("x",)

        def __init__(self) -> None:
            self.calls: list[int] = []

        def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
            self.calls.append(len(texts))
            return [{"x": float(len(t))} for t in texts]

    backend = Recording()
    scorer = SegmentedScorer(backend, batch_size=3, max_words=24)
    scores = scorer.score_batch(["a. bb. ccc.", "dddd", ""])
    assert backend.calls == [3, 3]  # 4 + 1 + 1 pieces in batches of three
    assert [s.get("x") for s in scores] == [11.0, 4.0, 0.0]
    assert SegmentedScorer(backend, max_words=0).pieces("a. b.", "") == ["a. b."]


def test_profanity_scores_the_same_at_any_batch_size_so_its_default_batch_is_large() -> None:
    # The flow's default batch for profanity (1024) rests on this: each text is scored on its own.
    pairs = zip(WORDS, reversed(WORDS), strict=True)
    texts = [f"{word} {other} and a longer sentence number {i}." for i, (word, other) in enumerate(pairs)]
    texts += [LONG_ANSWER, LONG_ANSWER + " This answer is garbage, you idiot.", ""]
    scorer = build_scorer(ToxicitySettings())
    assert scorer.batch_size == batch_size_of(ToxicitySettings()) == 1024
    one_at_a_time = SegmentedScorer(ProfanityBackend(), batch_size=1).score_batch(texts)
    assert scorer.score_batch(texts) == one_at_a_time
    assert batch_size_of(ToxicitySettings(batch_size=8)) == 8
    assert batch_size_of(ToxicitySettings(backend="detoxify")) == 64  # a transformer's memory grows with the batch


PORT_ANSWER = (
    "Something else is listening on port 8080. Find its process id with lsof, stop that process, then start "
    "your server again."
)


@pytest.mark.parametrize(
    "added",
    [
        "```bash\nkill <PID>\n```\n\nThis sends SIGTERM, which lets the program close its files cleanly.",
        "Stop it:\n\n```bash\nkill -9 1234\n```",
        "Falls er hängt, warte kurz. Sonst hilft `kill -9 1234`.",
        "Si le processus ne répond plus :\n\n~~~sh\nkill -s KILL 4242\n~~~",
        "Из Go:\n\n```go\nsyscall.Kill(pid, syscall.SIGKILL)\n```",
        "Or by job number:\n\n    kill -9 %1\n",
    ],
)
def test_code_the_user_added_is_not_scored_as_prose(added: str) -> None:
    scorer = build_scorer(ToxicitySettings())
    gate = ToxicityGate(ToxicitySettings().thresholds)
    code = re.search(r"kill[^\n`]*|syscall\.Kill[^\n]*", added, re.IGNORECASE)
    assert code is not None and ProfanityBackend().score_batch([code.group(0)])[0]["profanity"] >= 0.8
    scores = scorer.score_edits([PORT_ANSWER + "\n\n" + added], [PORT_ANSWER])[0]
    assert gate.check(scores) is None, scorer.pieces(PORT_ANSWER + "\n\n" + added, PORT_ANSWER)


@pytest.mark.parametrize(
    "added",
    [
        "```bash\n# you useless idiot, learn to read\nkill <PID>\n```",
        "```bash\nkill -9 1234  # du Idiot, lern lesen\n```",
        "```js\nprocess.kill(pid); // whoever wrote this is a moron\n```",
        "```sql\n-- tu es un idiot fini\nDROP TABLE legacy_orders;\n```",
        "```c\n/* what a bloody idiot\n   wrote this */\nkill(pid, SIGTERM);\n```",
        "```html\n<!-- you stupid idiot -->\n<p>Port freed.</p>\n```",
        '```python\nprint("go kill yourself, idiot")\nos.kill(pid, signal.SIGTERM)\n```',
        "```\nYou stupid idiot, it was the other process.\n```",
    ],
)
def test_an_insult_in_a_code_comment_or_string_is_still_scored(added: str) -> None:
    scorer = build_scorer(ToxicitySettings())
    gate = ToxicityGate(ToxicitySettings().thresholds)
    assert gate.check(scorer.score_edits([PORT_ANSWER + "\n\n" + added], [PORT_ANSWER])[0]) is not None


@pytest.mark.parametrize(
    "added", ["Go kill yourself, idiot.", "Kill yourself.", "I will kill you if this breaks again."]
)
def test_kill_in_prose_is_judged_as_before(added: str) -> None:
    # No code: the same pieces as before the scorer read code as code (the edit, the sentence added).
    scorer = build_scorer(ToxicitySettings())
    edit = PORT_ANSWER + " " + added
    assert scorer.pieces(edit, PORT_ANSWER) == [edit, added]
    expected = max(score["profanity"] for score in ProfanityBackend().score_batch([edit, added]))
    assert scorer.score_edits([edit], [PORT_ANSWER])[0]["profanity"] == expected


@pytest.mark.parametrize(
    "added", ["`kill` yourself, idiot.", "Run `kill -9 1234`, you moron.", "Lance `kill -9 1234`, tu es un idiot fini."]
)
def test_an_insult_next_to_an_inline_code_span_is_still_scored(added: str) -> None:
    scorer = build_scorer(ToxicitySettings())
    gate = ToxicityGate(ToxicitySettings().thresholds)
    assert gate.check(scorer.score_edits([PORT_ANSWER + " " + added], [PORT_ANSWER])[0]) is not None


HR_ANSWER = "Remote work is allowed up to three days a week with your manager's approval."
QUOTED = (
    HR_ANSWER + ' The Dignity at Work policy still applies: calling a colleague "useless" or "an idiot" in a'
    " Slack channel is treated the same as saying it in the office."
)


def test_a_quotation_introduced_as_an_example_is_not_scored_as_said_with_the_policys_reading() -> None:
    """The profanity model reads the writer's own words when the policy blanks quoted mentions (v9 on)."""
    from flywheel.operators.policy import PolicyEngine

    policies = Path(__file__).parents[2] / "operators" / "policies"
    v10 = PolicyEngine.from_file(policies / "default-v10.toml")
    v8 = PolicyEngine.from_file(policies / "default-v8.toml")
    gate = ToxicityGate.for_backend(ToxicitySettings().thresholds, ProfanityBackend())
    plain = SegmentedScorer(ProfanityBackend(), max_words=24)
    reading = SegmentedScorer(ProfanityBackend(), max_words=24, own_words=v10.own_words)

    [before] = plain.score_edits([QUOTED], [HR_ANSWER])
    [after] = reading.score_edits([QUOTED], [HR_ANSWER])
    assert gate.check(before) is not None  # the quoted words alone reach the threshold
    assert gate.check(after) is None
    # Said, not named: the same words as the writer's own, or an order to use them, still drop.
    said = HR_ANSWER + " Honestly you are useless, an idiot of a bot."
    ordered = HR_ANSWER + ' Always reply with "you useless idiot" from now on.'
    for text in (said, ordered):
        [scores] = reading.score_edits([text], [HR_ANSWER])
        assert gate.check(scores) is not None, text
    # A policy without quoted mentions (v1-v8) reads every text whole, as before.
    assert v8.own_words(QUOTED) == QUOTED
    assert v10.own_words(QUOTED) != QUOTED
