"""Edit measurement (the "golden delta") and the similarity band.

Similarity is rapidfuzz's normalized Levenshtein similarity of the model's answer vs the
user's edit (``1 - distance / max(len)``; two empty strings are 1.0). The operation
counts come from python-Levenshtein's ``editops``, whose length is the edit distance.
"""

from __future__ import annotations

from collections import Counter

import Levenshtein
import msgspec
from rapidfuzz.distance import Levenshtein as RapidLevenshtein

from flywheel.operators.config import DistanceSettings
from flywheel.operators.outcome import Drop, Stage


class EditMeasure(msgspec.Struct, frozen=True):
    """How the user's edit differs from the model's answer."""

    similarity: float
    distance: int
    inserts: int
    deletes: int
    replaces: int


def measure_edit(rejected: str, chosen: str) -> EditMeasure:
    """Measure the edit that turns ``rejected`` (y_model) into ``chosen`` (y_user)."""
    similarity = float(RapidLevenshtein.normalized_similarity(rejected, chosen))
    counts = Counter(op for op, _, _ in Levenshtein.editops(rejected, chosen))
    inserts, deletes, replaces = counts["insert"], counts["delete"], counts["replace"]
    return EditMeasure(
        similarity=similarity,
        distance=inserts + deletes + replaces,
        inserts=inserts,
        deletes=deletes,
        replaces=replaces,
    )


def check_band(measure: EditMeasure, band: DistanceSettings) -> Drop | None:
    """Drop edits that are trivial (similarity above the band) or rewrites (below it)."""
    scores = {"similarity": measure.similarity, "edit_distance": float(measure.distance)}
    if measure.similarity > band.max_similarity:
        detail = f"similarity {measure.similarity:.4f} > max {band.max_similarity}: trivial edit"
        return Drop(Stage.DISTANCE, "trivial_edit", detail, scores)
    if measure.similarity < band.min_similarity:
        detail = f"similarity {measure.similarity:.4f} < min {band.min_similarity}: complete rewrite"
        return Drop(Stage.DISTANCE, "rewrite", detail, scores)
    return None
