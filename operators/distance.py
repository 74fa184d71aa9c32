"""Edit measurement (the "golden delta") and the checks for trivial edits and rewrites.

* ``similarity`` is rapidfuzz's normalized Levenshtein similarity of the model's answer vs
  the user's edit (``1 - distance / max(len)``; two empty strings are 1.0); the operation
  counts come from rapidfuzz's ``editops`` (what python-Levenshtein's ``editops`` lists), whose
  length is the edit distance.
* ``token_similarity`` is ``2 * LCS / (n_rejected + n_chosen)`` over case-folded word tokens:
  the share of both texts' words kept in order. Character similarity cannot tell a rewrite
  from an edit (two unrelated answers of similar length share 15-30% of characters in
  place); words kept in order can (``tests/data/curation_set.jsonl``: rewrites 0.06-0.20,
  good edits 0.52-0.91, small fixes 0.92-0.99; ``DistanceSettings.min_token_similarity``).
* ``token_containment`` is ``LCS / min(n_rejected, n_chosen)``: near 1.0 when one text keeps
  the other whole (a user who trims an answer to its first sentence, or only adds to it),
  which is an edit, not a rewrite, whatever the length ratio.
* ``substantive`` is the first substantive difference (``operators/edit_kind.py``), empty
  when the edit changes only typos, whitespace, punctuation or case (a trivial edit).
"""

from __future__ import annotations

import re
from typing import cast

import msgspec
from rapidfuzz.distance import LCSseq, Opcodes
from rapidfuzz.distance import Levenshtein as RapidLevenshtein

from flywheel.operators.config import DistanceSettings
from flywheel.operators.edit_kind import substantive_change
from flywheel.operators.outcome import Drop, Stage

_WORD = re.compile(r"\w+")
# Word statistics need words: containment only rescues a shorter text of at least this many,
# and the token check only applies when the longer text has at least this many (a one-line
# code edit such as the seed's ``def foo(): pass`` is judged by the character floor alone).
_MIN_WORDS = 8


class EditMeasure(msgspec.Struct, frozen=True):
    """How the user's edit differs from the model's answer."""

    similarity: float
    distance: int
    inserts: int
    deletes: int
    replaces: int
    token_similarity: float = 1.0
    token_containment: float = 1.0
    shorter_words: int = 0
    longer_words: int = 0
    substantive: str = ""
    # The edit ends on a lead-in (a colon) where the answer went on: what it announced was cut.
    lead_in_cut: bool = False


def measure_edit(rejected: str, chosen: str) -> EditMeasure:
    """Measure the edit that turns ``rejected`` (y_model) into ``chosen`` (y_user)."""
    similarity = float(RapidLevenshtein.normalized_similarity(rejected, chosen))
    inserts, deletes, replaces = edit_counts(rejected, chosen)
    old = [w.casefold() for w in _WORD.findall(rejected)]
    new = [w.casefold() for w in _WORD.findall(chosen)]
    common = LCSseq.similarity(old, new)
    total, shorter = len(old) + len(new), min(len(old), len(new))
    return EditMeasure(
        similarity=similarity,
        distance=inserts + deletes + replaces,
        inserts=inserts,
        deletes=deletes,
        replaces=replaces,
        token_similarity=2 * common / total if total else 1.0,
        token_containment=common / shorter if shorter else float(total == 0),
        shorter_words=shorter,
        longer_words=max(len(old), len(new)),
        substantive=substantive_change(rejected, chosen) or "",
        lead_in_cut=_ends_on_lead_in(chosen) and len(rejected.strip()) > len(chosen.strip()),
    )


def _ends_on_lead_in(text: str) -> bool:
    """Whether ``text`` ends on a colon: "Here is a query that does that:" with nothing after it."""
    return text.rstrip().endswith((":", "\uff1a"))


def edit_counts(rejected: str, chosen: str) -> tuple[int, int, int]:
    """Inserts, deletes and replaces of the Levenshtein alignment ``Levenshtein.editops`` gives.

    Counted over the alignment's blocks (opcodes, the same alignment grouped), not op by op: a
    paragraph's edit is a few dozen blocks but hundreds of ops, each a Python tuple to walk.
    """
    inserts = deletes = replaces = 0
    # as_list() gives plain tuples (its stub says Opcode objects, which are slower to walk).
    blocks = cast(
        list[tuple[str, int, int, int, int]], Opcodes.from_editops(RapidLevenshtein.editops(rejected, chosen)).as_list()
    )
    for tag, start, end, new_start, new_end in blocks:
        if tag == "replace":
            replaces += end - start
        elif tag == "delete":
            deletes += end - start
        elif tag == "insert":
            inserts += new_end - new_start
    return inserts, deletes, replaces


def check_band(measure: EditMeasure, band: DistanceSettings) -> Drop | None:
    """Drop edits that are trivial (nothing substantive changed) or rewrites (words not kept)."""
    scores = {
        "similarity": measure.similarity,
        "edit_distance": float(measure.distance),
        "token_similarity": measure.token_similarity,
        "token_containment": measure.token_containment,
    }
    if not measure.substantive:
        detail = "only typos, whitespace, punctuation or case changed: trivial edit"
        return Drop(Stage.DISTANCE, "trivial_edit", detail, scores)
    if measure.lead_in_cut:
        # Trimming is an edit, but not down to the sentence announcing the answer: it teaches the
        # model to stop where the answer should start.
        detail = "the edit ends on a lead-in (':') and removes what it announced: truncated edit"
        return Drop(Stage.DISTANCE, "truncated_edit", detail, scores)
    if measure.similarity > band.max_similarity:
        detail = f"similarity {measure.similarity:.4f} > max {band.max_similarity}: trivial edit"
        return Drop(Stage.DISTANCE, "trivial_edit", detail, scores)
    contained = measure.shorter_words >= _MIN_WORDS and measure.token_containment >= band.min_containment
    worded = measure.longer_words >= _MIN_WORDS
    if worded and measure.token_similarity < band.min_token_similarity and not contained:
        detail = (
            f"token similarity {measure.token_similarity:.4f} < min {band.min_token_similarity} "
            f"(containment {measure.token_containment:.2f}): complete rewrite"
        )
        return Drop(Stage.DISTANCE, "rewrite", detail, scores)
    if measure.similarity < band.min_similarity and not contained:
        # (A text kept whole is an edit at any length ratio: a 2,000-character answer trimmed to
        # its first sentence shares few characters in place, but every word of the sentence.)
        detail = f"similarity {measure.similarity:.4f} < min {band.min_similarity}: complete rewrite"
        return Drop(Stage.DISTANCE, "rewrite", detail, scores)
    return None
