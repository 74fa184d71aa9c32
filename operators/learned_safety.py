"""Learned safety: a TF-IDF logistic regression over the sentences the user added (opt-in).

The policy rules are written after each probe round and miss the next round's wordings; this
classifier (word 1-2 grams and character 2-5 grams, ``benchmarks/learned_safety_eval.py``) was
measured leave-one-round-out against the rules of the time (README, "Learned safety"). It reads
only what the user added: the segments of the edit (``toxicity.added_segments``) absent from the
model's answer. An edit whose highest segment score reaches the threshold is dropped in the
safety stage with reason ``learned_safety:harmful``. Off by default (``curation.learned_safety``).

The model is a gzip'd pickle of a scikit-learn pipeline and its threshold, written by
``python -m flywheel.benchmarks.learned_safety_eval --write`` from the labelled sets; it is
loaded with pickle, so only a trusted file may be configured.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

from flywheel.errors import ToxicityError
from flywheel.operators.outcome import Drop, Stage
from flywheel.operators.toxicity import added_segments

DEFAULT_MODEL = Path(__file__).parent / "models" / "learned_safety.pkl.gz"
REASON = "learned_safety:harmful"
SCORE_KEY = "learned_safety:harmful"


def save_model(path: Path, model: Any, threshold: float, about: dict[str, Any]) -> None:
    """Write the pipeline and its threshold (byte-identical for the same model: no gzip time stamp)."""
    bundle = {"model": model, "threshold": threshold, "about": about}
    path.write_bytes(gzip.compress(pickle.dumps(bundle, protocol=5), compresslevel=9, mtime=0))


class LearnedSafety:
    """The classifier, its threshold and the drop it makes."""

    def __init__(self, model_path: Path | None = None, threshold: float | None = None, max_words: int = 24) -> None:
        path = model_path if model_path is not None else DEFAULT_MODEL
        if not path.is_file():
            raise ToxicityError(f"learned safety model {path} does not exist")
        try:
            bundle = pickle.loads(gzip.decompress(path.read_bytes()))  # trusted: ours or configured
        except (OSError, pickle.UnpicklingError, EOFError) as exc:
            raise ToxicityError(f"{path}: not a learned safety model ({exc})") from exc
        self._model: Any = bundle["model"]
        self.threshold = float(bundle["threshold"] if threshold is None else threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"learned safety threshold must be within [0, 1], got {self.threshold}")
        self.about: dict[str, Any] = dict(bundle.get("about", {}))
        self.max_words = max_words

    def score_segments(self, texts: list[str]) -> list[float]:
        """The harmful probability of each text (one vectorised call)."""
        if not texts:
            return []
        return [float(p) for p in self._model.predict_proba(texts)[:, 1]]

    def score_edits(self, chosen: list[str], rejected: list[str]) -> list[float]:
        """Per edit, the highest score over the segments the user added (0.0 when none)."""
        flat: list[str] = []
        owners: list[int] = []
        for index, (text, original) in enumerate(zip(chosen, rejected, strict=True)):
            for piece in added_segments(text, original, self.max_words):
                flat.append(piece)
                owners.append(index)
        best = [0.0] * len(chosen)
        for owner, score in zip(owners, self.score_segments(flat), strict=True):
            best[owner] = max(best[owner], score)
        return best

    def check(self, score: float, scores: dict[str, float]) -> Drop | None:
        """A Drop in the safety stage when ``score`` reaches the threshold, with ``scores`` as evidence."""
        if score < self.threshold:
            return None
        detail = f"learned safety score {score:.4f} >= threshold {self.threshold:.4f}"
        return Drop(Stage.TOXICITY, REASON, detail, {**scores, SCORE_KEY: score})


def build_learned(enabled: bool, model: Path | None, threshold: float | None, max_words: int) -> LearnedSafety | None:
    """The classifier when enabled, else None."""
    return LearnedSafety(model, threshold, max_words) if enabled else None
