"""Toxicity scoring of the user's edit: pluggable backends and the per-label threshold gate.

Backends (``curation.toxicity.backend``):

* ``profanity`` (default) — alt-profanity-check: a linear model shipped inside the wheel,
  offline out of the box. One label, ``profanity``. A profanity signal, not a full
  toxicity model.
* ``detoxify`` — Detoxify (BERT/RoBERTa/ALBERT multi-label toxicity classifier) loaded from
  a LOCAL checkpoint (a torch file with ``config`` and ``state_dict``, as Detoxify's release
  checkpoints are) plus a local folder with the Hugging Face ``config.json`` and tokenizer
  files of the checkpoint's architecture. Nothing is downloaded: the checkpoint's
  ``model_type`` is pointed at that folder. Labels are the checkpoint's classes
  (``toxicity``, ``severe_toxicity``, ``obscene``, ``threat``, ``insult``,
  ``identity_attack``, ...). Needs the ``safety`` extra (torch, transformers, detoxify).

The flow scores through :class:`SegmentedScorer` (:func:`build_scorer`): each text is split
into sentences (long ones into overlapping word windows), every segment of the whole batch
goes to the backend in batches, and a text's score per label is the maximum over its
segments and the whole text. Scoring the whole text once lets benign words dilute an insult
(a phrase scoring 1.0 alone scores 0.44 appended to a 35-word answer); the maximum over
segments does not. Code blocks and spans are not read as prose, their comments and strings of
words are (``operators/prose.py``). The flow calls ``score_batch`` on whole batches only; one
call per item is ~50x slower per item on CPU for the transformer backend.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from flywheel.errors import ToxicityError
from flywheel.operators.config import ToxicitySettings
from flywheel.operators.normalize import normalize_text
from flywheel.operators.outcome import Drop, Stage
from flywheel.operators.prose import prose_view

# Detoxify's own renaming of the Jigsaw class names (detoxify.detoxify.load_checkpoint).
_DETOXIFY_RENAMES = {
    "toxic": "toxicity",
    "identity_hate": "identity_attack",
    "severe_toxic": "severe_toxicity",
}


@runtime_checkable
class ToxicityBackend(Protocol):
    """Scores texts with per-label probabilities in [0, 1]."""

    @property
    def name(self) -> str:
        """Backend name (the ``backend`` label of the toxicity metric)."""
        ...

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels every score dict carries."""
        ...

    def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
        """One ``{label: probability}`` dict per text, in order."""
        ...


class ProfanityBackend:
    """alt-profanity-check: offline, shipped in its wheel, label ``profanity``."""

    name = "profanity"
    labels: tuple[str, ...] = ("profanity",)

    def __init__(self) -> None:
        from profanity_check import predict_prob

        self._predict_prob = predict_prob

    def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
        """Profanity probability of each text (one vectorised call for the batch)."""
        if not texts:
            return []
        probabilities = self._predict_prob(list(texts))
        return [{"profanity": float(p)} for p in probabilities]


class DetoxifyBackend:
    """Detoxify from a local checkpoint and a local config/tokenizer folder; no download."""

    name = "detoxify"

    def __init__(self, checkpoint: Path, config_dir: Path, device: str = "cpu", max_length: int = 512) -> None:
        if not checkpoint.is_file():
            raise ToxicityError(f"detoxify checkpoint {checkpoint} does not exist")
        if not (config_dir / "config.json").is_file():
            raise ToxicityError(f"detoxify config_dir {config_dir} has no config.json (config + tokenizer folder)")
        try:
            import torch
            from detoxify.detoxify import get_model_and_tokenizer
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ToxicityError("the detoxify backend needs the `safety` extra: pip install -e '.[safety]'") from exc
        self._torch = torch
        loaded: Any = torch.load(checkpoint, map_location=device, weights_only=True)
        if not isinstance(loaded, dict) or "config" not in loaded or "state_dict" not in loaded:
            raise ToxicityError(f"{checkpoint}: a Detoxify checkpoint holds `config` and `state_dict`")
        try:
            arch = dict(loaded["config"]["arch"]["args"])
            classes = list(loaded["config"]["dataset"]["args"]["classes"])
        except (KeyError, TypeError) as exc:
            raise ToxicityError(f"{checkpoint}: config lacks arch.args or dataset.args.classes ({exc})") from exc
        # Point the model type at the local folder: Detoxify would otherwise fetch it from the hub.
        arch["model_type"] = str(config_dir)
        self.model, self.tokenizer = get_model_and_tokenizer(
            **arch, state_dict=loaded["state_dict"], huggingface_config_path=str(config_dir)
        )
        self.model.to(device)
        self.model.eval()
        self.device = device
        self.max_length = min(max_length, int(getattr(self.tokenizer, "model_max_length", max_length)))
        self.labels: tuple[str, ...] = tuple(_DETOXIFY_RENAMES.get(c, c) for c in classes)

    def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
        """Sigmoid scores of every label for each text, one forward pass for the batch."""
        if not texts:
            return []
        torch = self._torch
        with torch.inference_mode():
            inputs = self.tokenizer(
                list(texts), return_tensors="pt", truncation=True, padding=True, max_length=self.max_length
            ).to(self.device)
            logits = self.model(**inputs)[0]
            scores = torch.sigmoid(logits).cpu().tolist()
        return [dict(zip(self.labels, (float(s) for s in row), strict=True)) for row in scores]


def build_backend(cfg: ToxicitySettings) -> ToxicityBackend:
    """The backend named by ``cfg.backend``; clear errors for missing files or extras."""
    if cfg.backend == "profanity":
        return ProfanityBackend()
    if cfg.backend == "detoxify":
        if cfg.checkpoint is None or cfg.config_dir is None:
            raise ToxicityError(
                "toxicity backend `detoxify` needs `checkpoint` and `config_dir` "
                "(FLYWHEEL_CURATION__TOXICITY__CHECKPOINT / __CONFIG_DIR)"
            )
        return DetoxifyBackend(cfg.checkpoint, cfg.config_dir, cfg.device)
    raise ToxicityError(f"unknown toxicity backend {cfg.backend!r}; known: profanity, detoxify")


# Sentence ends (kept with their sentence) and line breaks; code and lists split on lines. The
# language of r"(?<=[.!?;])\s+|\s*\n\s*", written to start with one character class so that re
# skips to candidates in C (4x faster).
_SEGMENT_BREAK = re.compile(r"\s(?:(?<=[.!?;]\s)\s*|\s*\n\s*|(?<=\n)\s*)")


def segments(text: str, max_words: int = 24) -> list[str]:
    """Sentences of ``text``; a sentence over ``max_words`` words becomes windows overlapping by half."""
    out: list[str] = []
    for sentence in _SEGMENT_BREAK.split(text):
        words = sentence.split()
        if not words:
            continue
        if len(words) <= max_words:
            out.append(sentence.strip())
            continue
        stride = max(1, max_words // 2)
        for start in range(0, len(words) - stride, stride):
            out.append(" ".join(words[start : start + max_words]))
    return out


# Letters spelt with look-alike digits and signs (sh1t, a$$, b!tch): a word holding letters and
# one of these next to a letter is also scored spelt out, as the profanity model knows words.
# A "1" stands for "i" or "l" (bu11shit), so both readings are scored.
_LOOKALIKES = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
_WORDISH = re.compile(r"[A-Za-z0-9@$!]*[A-Za-z][A-Za-z0-9@$!]*")
_ANY_LOOKALIKE = re.compile(r"[013457@$!]")


def _spell(word: str, one: str) -> str:
    if _ANY_LOOKALIKE.search(word) is None:  # most words (one C-level look, not a loop per character)
        return word
    core = word.rstrip("!")  # an exclamation mark ends a word, it is not an "i"
    out = []
    for index, char in enumerate(core):
        near = core[index - 1 : index] + core[index + 1 : index + 2]
        if (char in _LOOKALIKES or char == "1") and any(c.isalpha() for c in near):
            out.append(one if char == "1" else _LOOKALIKES[char])
        else:
            out.append(char)
    return "".join(out) + word[len(core) :]


def _spell_match(match: re.Match[str], one: str) -> str:
    return _spell(match.group(0), one)


def spelt_out(text: str) -> list[str]:
    """The readings of the text with look-alike digits and signs inside words as letters (``sh1tty`` -> ``shitty``).

    Empty when the text has none.
    """
    if _ANY_LOOKALIKE.search(text) is None:  # most pieces: no word to spell, no two passes over them
        return []
    readings = {_WORDISH.sub(functools.partial(_spell_match, one=one), text) for one in "il"}
    return sorted(reading for reading in readings if reading != text)


class SegmentedScorer:
    """Scores user edits where the harm is: the whole edit and each segment the user wrote.

    A segment (sentence or window) that the model's answer already holds is not scored on its
    own: the user did not add it, and technical sentences such as "use kill -9" are the
    profanity model's commonest false alarms. The whole edit is always scored too. Code is not
    prose (``kill -9 1234`` in a code block scores ~0.95): both texts are read through
    :func:`~flywheel.operators.prose.prose_view`, which keeps code comments and strings of words.
    With ``own_words`` a quotation the sentence introduces as an example is not scored either
    (:func:`~flywheel.operators.mentions.blank_mentions`, as the policy's rules read it).
    """

    def __init__(
        self,
        backend: ToxicityBackend,
        batch_size: int = 64,
        max_words: int = 24,
        own_words: Callable[[str], str] | None = None,
    ) -> None:
        if batch_size < 1 or max_words < 0:
            raise ValueError(f"batch_size must be >= 1 and max_words >= 0, got {batch_size}, {max_words}")
        self.backend = backend
        self.batch_size = batch_size
        self.max_words = max_words
        # The writer's own words (the policy's quoted mentions blanked): "calling a colleague 'an
        # idiot' is treated the same" names an insult, it does not say one.
        self._own_words = own_words

    @property
    def name(self) -> str:
        """The wrapped backend's name."""
        return self.backend.name

    @property
    def labels(self) -> tuple[str, ...]:
        """The wrapped backend's labels."""
        return self.backend.labels

    def pieces(self, chosen: str, rejected: str = "") -> list[str]:
        """What is scored for one edit: the edit's prose, then its prose segments absent from ``rejected``.

        Code is read as code (:func:`~flywheel.operators.prose.prose_view`: blanked but for its
        comments and strings of words). A piece with words spelt in look-alike digits or signs
        (``sh1tty``) is scored spelt out too.
        """
        chosen = self._read(chosen)
        if self.max_words == 0:
            return _with_spelt_out([chosen])
        new = added_segments(chosen, self._read(rejected), self.max_words)
        return _with_spelt_out([chosen] + [piece for piece in new if piece != chosen])

    def _read(self, text: str) -> str:
        prose = prose_view(text)
        return prose if self._own_words is None else self._own_words(prose)

    def score_edits(self, chosen: list[str], rejected: list[str]) -> list[dict[str, float]]:
        """Per edit, the highest score of each label over its pieces; pieces scored in batches."""
        flat: list[str] = []
        owners: list[int] = []
        for index, (text, original) in enumerate(zip(chosen, rejected, strict=True)):
            for piece in self.pieces(text, original):
                flat.append(piece)
                owners.append(index)
        results: list[dict[str, float]] = [{} for _ in chosen]
        for start in range(0, len(flat), self.batch_size):
            chunk = self.backend.score_batch(flat[start : start + self.batch_size])
            for owner, scores in zip(owners[start : start + self.batch_size], chunk, strict=True):
                best = results[owner]
                for label, value in scores.items():
                    if value > best.get(label, -1.0):
                        best[label] = value
        return results

    def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
        """Per text, the highest score of each label over the text and all its segments."""
        return self.score_edits(texts, [""] * len(texts))


def added_segments(chosen: str, rejected: str, max_words: int = 24) -> list[str]:
    """The segments of ``chosen`` that ``rejected`` does not hold: what the user wrote."""
    known = {normalize_text(piece) for piece in segments(rejected, max_words)}
    return [piece for piece in segments(chosen, max_words) if normalize_text(piece) not in known]


def _with_spelt_out(pieces: list[str]) -> list[str]:
    return pieces + [reading for piece in pieces for reading in spelt_out(piece)]


# Texts per score_batch call when the settings name none. profanity: a vectorizer and a linear
# model, each text scored on its own (the same scores at any batch size), about 7x the texts/s
# at 1024 as at 64 (``make bench``: per-call overhead); detoxify: a transformer, whose memory
# grows with the batch.
DEFAULT_BATCH_SIZES = {"profanity": 1024, "detoxify": 64}


def batch_size_of(cfg: ToxicitySettings) -> int:
    """Texts per ``score_batch`` call: the configured size, else the backend's default."""
    return cfg.batch_size if cfg.batch_size is not None else DEFAULT_BATCH_SIZES.get(cfg.backend, 64)


def build_scorer(cfg: ToxicitySettings, own_words: Callable[[str], str] | None = None) -> SegmentedScorer:
    """The configured backend behind a :class:`SegmentedScorer` (whole texts only when max words is 0).

    ``own_words``: how a text is read before scoring, after code is set apart (the policy's
    :meth:`~flywheel.operators.policy.PolicyEngine.own_words`: quoted mentions blanked).
    """
    return SegmentedScorer(build_backend(cfg), batch_size_of(cfg), cfg.segment_max_words, own_words)


def prefixed_scores(scores: dict[str, float]) -> dict[str, float]:
    """Scores keyed ``toxicity:<label>``, as stored in ``safety_scores`` and ``rejections.scores``."""
    return {f"toxicity:{label}": value for label, value in scores.items()}


class ToxicityGate:
    """Compares scores with per-label thresholds: score >= threshold drops the pair."""

    def __init__(self, thresholds: dict[str, float]) -> None:
        bad = {label: t for label, t in thresholds.items() if not 0.0 <= t <= 1.0}
        if bad:
            raise ValueError(f"toxicity thresholds must be within [0, 1]: {bad}")
        self.thresholds = dict(thresholds)

    @classmethod
    def for_backend(cls, thresholds: dict[str, float], backend: ToxicityBackend) -> ToxicityGate:
        """A gate for a backend; raises when no threshold covers any of its labels."""
        if not set(thresholds) & set(backend.labels):
            raise ToxicityError(
                f"no toxicity threshold applies to backend {backend.name!r} labels {list(backend.labels)}; "
                f"thresholds are set for {sorted(thresholds)}"
            )
        return cls(thresholds)

    def check(self, scores: dict[str, float]) -> Drop | None:
        """A Drop (reason ``toxicity:<label>``) for the label furthest over its threshold, else None."""
        over = [
            (scores[label] - threshold, label)
            for label, threshold in self.thresholds.items()
            if label in scores and scores[label] >= threshold
        ]
        if not over:
            return None
        _, label = max(over, key=lambda item: (item[0], item[1]))
        detail = f"{label} score {scores[label]:.4f} >= threshold {self.thresholds[label]}"
        return Drop(Stage.TOXICITY, f"toxicity:{label}", detail, prefixed_scores(scores))
