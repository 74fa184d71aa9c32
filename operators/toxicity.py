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

The flow calls :meth:`ToxicityBackend.score_batch` on whole batches only; one call per item
is ~50x slower per item on CPU for the transformer backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from flywheel.errors import ToxicityError
from flywheel.operators.config import ToxicitySettings
from flywheel.operators.outcome import Drop, Stage

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
