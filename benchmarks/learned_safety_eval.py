"""Does a learned segment classifier catch insults and injections better blind than the rules?

Leave-one-source-out over the labelled sets: each probe round (1-6) and the held-out set is held
out in turn; a TF-IDF (word 1-2 grams + character 2-5 grams) logistic regression is trained on the
segments of every other source and scored on the held-out one. The unit is the segment
(``operators.toxicity.segments``) that the user added: a segment of ``final_user_edit`` absent from
``response``, and the prompt's segments (user-written as well; half the probe injections ride in
the prompt). A segment is harmful when it is, or holds, an insult or injection text of the
material the sets are built from (``tests/data/*material*.py``, ``curation_bases.py``); added
segments of harmful edits that are not are left out of training. Benign segments: every added and
prompt segment of every other category, plus paragraphs of the installed packages' descriptions.

An edit is flagged when any of its scored segments is at or above the threshold. The threshold is
chosen on the training sources only (out-of-fold scores of a 3-fold split by edit): the lowest
that flags at most 1% of the training good edits (good_edit, good_edit_tech_words, small_semantic,
hard negatives). The rules' blind figure runs the real curation flow with the policy file that was
current when the round was written (round 1, 2: v3; round 3: v4; round 4: v7; round 5: v8; round 6:
v9; held-out set: v1) and counts edits dropped by the toxicity stage or a ``blocked:``/``injection:`` rule.

``python -m flywheel.benchmarks.learned_safety_eval`` prints the table (about a minute on 2 cores);
``--with-prompt`` also scores the prompt's segments; ``--write`` trains on every set and writes the
packaged model (``operators/models/learned_safety.pkl.gz``) with its threshold; ``--cost`` times it.
wordllama embeddings were to be compared too, but ``WordLlama.load()`` fetches its tokenizer config
from the Hugging Face hub (0.4.0.post1): not offline, not measured.

Measured (edit additions only; insults caught, injections caught, good edits flagged):

| held out | rules (blind) | classifier | rules OR classifier |
|---|---|---|---|
| held-out set (v1) | 35/79 2/34 0/157 | 44/79 22/34 0/157 | 63/79 23/34 0/157 |
| round 1 (v3) | 20/50 10/53 3/165 | 45/50 31/53 9/165 | 46/50 36/53 11/165 |
| round 2 (v3) | 5/20 5/23 1/45 | 15/20 12/23 1/45 | 15/20 14/23 2/45 |
| round 3 (v4) | 20/30 20/38 1/60 | 28/30 21/38 2/60 | 29/30 29/38 3/60 |
| round 4 (v7) | 24/40 17/35 0/105 | 26/40 20/35 0/105 | 32/40 24/35 0/105 |
| round 5 (v8) | 11/36 15/36 6/132 | 14/36 21/36 1/132 | 19/36 25/36 6/132 |

Round 6 (written after the packaged model) joined the sources later; with it, the run prints
(thresholds 0.869, 0.802, 0.842, 0.879, 0.868, 0.869, 0.765; round 6's hard negatives raise the
other folds' thresholds):

| held out | rules (blind) | classifier | rules OR classifier |
|---|---|---|---|
| held-out set (v1) | 35/79 2/34 0/157 | 39/79 22/34 0/157 | 63/79 23/34 0/157 |
| round 1 (v3) | 20/50 10/53 3/165 | 42/50 26/53 6/165 | 43/50 31/53 8/165 |
| round 2 (v3) | 5/20 5/23 1/45 | 15/20 11/23 0/45 | 15/20 13/23 1/45 |
| round 3 (v4) | 20/30 20/38 1/60 | 24/30 16/38 0/60 | 27/30 27/38 1/60 |
| round 4 (v7) | 24/40 17/35 0/105 | 21/40 14/35 1/105 | 30/40 20/35 1/105 |
| round 5 (v8) | 11/36 15/36 6/132 | 12/36 16/36 0/132 | 17/36 21/36 6/132 |
| round 6 (v9) | 13/22 11/18 5/74 | 9/22 8/18 7/74 | 16/22 14/18 11/74 |

The packaged model (trained before round 6 existed, threshold 0.791) on round 6: classifier 8/22
8/18 5/74, rules OR classifier 15/22 14/18 9/74.
"""

from __future__ import annotations

import importlib
import json
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flywheel.benchmarks.curation_quality import (
    HOLDOUT_SET,
    LABELLED_SET,
    PROBE_SET,
    Labelled,
    load_labelled,
    run_labelled,
)
from flywheel.flows.config import FlowConfig
from flywheel.operators.learned_safety import DEFAULT_MODEL, LearnedSafety, save_model
from flywheel.operators.normalize import normalize_text
from flywheel.operators.toxicity import added_segments, segments

HARMFUL = ("insult", "injection")
WITH_PROMPT = "--with-prompt" in sys.argv  # also score the prompt's segments (default: the edit's additions)
GOOD = ("good_edit", "good_edit_tech_words", "small_semantic")
DATA = Path("tests/data")
POLICIES = Path("operators/policies")
BLIND_POLICY = {"held-out": 1, "round1": 3, "round2": 3, "round3": 4, "round4": 7, "round5": 8, "round6": 9}
MATERIAL = {
    "curation_bases": ("INSULTS", "INJECTIONS"),
    "holdout_material": ("INSULTS", "CODE_INSULTS", "INJECTIONS"),
    "probe_material": ("INSULT_PROBES", "INJECTION_PROBES"),
    "probe_material_round2": ("INSULT_PROBES_2", "INJECTION_PROBES_2"),
    "probe_material_round3": ("INSULT_PROBES_3", "INJECTION_PROBES_3"),
    "probe_material_round4": ("INSULTS", "INJECTIONS"),
    "probe_material_round5": ("INSULTS5", "INJECTIONS5"),
    "probe_material_round6": ("INSULT_TEXTS", "INJECTION_TEXTS"),
}


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def harmful_texts() -> list[str]:
    """Every insult and injection text the labelled sets are built from, normalised."""
    sys.path.insert(0, str(DATA))
    out: list[str] = []
    for module_name, names in MATERIAL.items():
        module = importlib.import_module(module_name)
        for name in names:
            out.extend(normalize_text(" ".join(s.split())) for s in _strings(getattr(module, name)))
    return [text for text in out if len(text) >= 8]


def user_segments(item: Labelled) -> list[str]:
    """The segments the user wrote: added to the answer in the edit (and the prompt's, --with-prompt)."""
    event = item.event
    added = added_segments(event.final_user_edit or "", event.response)
    return added + (segments(event.prompt) if WITH_PROMPT else [])


def source_of(path: Path, raw_kind: str | None) -> str:
    if path == LABELLED_SET:
        return "set"
    if path == HOLDOUT_SET:
        return "held-out"
    suffix = (raw_kind or "").rpartition(":")[2] if ":" in (raw_kind or "") else ""
    return suffix or "round1"


@dataclass
class Edit:
    source: str
    category: str
    item: Labelled
    pieces: list[str]
    labels: list[int | None] = field(default_factory=list)  # 1 harmful, 0 benign, None left out


def load_edits() -> list[Edit]:
    harmful = harmful_texts()
    edits: list[Edit] = []
    for path in (LABELLED_SET, HOLDOUT_SET, PROBE_SET):
        lines = path.read_text(encoding="utf-8").splitlines()
        for raw_line, item in zip(lines, load_labelled(path), strict=True):
            kind = json.loads(raw_line).get("kind")
            if item.category == "duplicate":
                continue
            pieces = user_segments(item)
            edit = Edit(source_of(path, kind), item.category, item, pieces)
            for piece in pieces:
                if item.category not in HARMFUL:
                    edit.labels.append(0)
                    continue
                norm = normalize_text(" ".join(piece.split()))
                hit = any(norm in text or text in norm for text in harmful)
                edit.labels.append(1 if hit else None)
            edits.append(edit)
    return edits


def package_paragraphs(limit: int = 3000, seed: int = 7) -> list[str]:
    """Benign prose: segments of the installed distributions' descriptions (deterministic sample)."""
    import importlib.metadata as md

    out: list[str] = []
    for dist in sorted(md.distributions(), key=lambda d: str(d.metadata["Name"] or "")):
        metadata: Any = dist.metadata  # an email.message.Message: the description is its body
        body = metadata.get_payload()
        text = body if isinstance(body, str) and body else str(metadata.get("Description") or "")
        out.extend(piece for piece in segments(text) if len(piece.split()) >= 3)
    out = sorted(set(out))
    random.Random(seed).shuffle(out)
    return out[:limit]


def make_model() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
        ]
    )
    return make_pipeline(features, LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000))


def training_rows(edits: list[Edit], extra: list[str]) -> tuple[list[str], list[int]]:
    texts: list[str] = list(extra)
    labels: list[int] = [0] * len(extra)
    for edit in edits:
        for piece, label in zip(edit.pieces, edit.labels, strict=True):
            if label is not None:
                texts.append(piece)
                labels.append(label)
    return texts, labels


def edit_scores(model: Any, edits: list[Edit]) -> np.ndarray:
    flat = [piece for edit in edits for piece in edit.pieces]
    probs = model.predict_proba(flat)[:, 1] if flat else np.zeros(0)
    out = np.zeros(len(edits))
    at = 0
    for index, edit in enumerate(edits):
        n = len(edit.pieces)
        out[index] = probs[at : at + n].max() if n else 0.0
        at += n
    return out


def pick_threshold(edits: list[Edit], extra: list[str], max_flag: float = 0.01, seed: int = 0) -> float:
    """The lowest threshold flagging <= max_flag of the good edits, on out-of-fold training scores."""
    order = list(range(len(edits)))
    random.Random(seed).shuffle(order)
    scores = np.zeros(len(edits))
    for fold in range(3):
        test = [i for k, i in enumerate(order) if k % 3 == fold]
        test_set = set(test)
        train = [edits[i] for i in order if i not in test_set]
        model = make_model().fit(*training_rows(train, extra))
        scores[test] = edit_scores(model, [edits[i] for i in test])
    good = np.sort([s for s, e in zip(scores, edits, strict=True) if e.category in GOOD])[::-1]
    allowed = int(np.floor(max_flag * len(good)))
    return float(good[allowed]) + 1e-9 if allowed < len(good) else 0.0


def rules_caught(edits: list[Edit], version: int) -> set[str]:
    """Event ids the rules of ``default-v{version}`` (with the profanity model) drop as unsafe."""
    config = FlowConfig.model_validate({"curation": {"policy": {"file": str(POLICIES / f"default-v{version}.toml")}}})
    run = run_labelled([edit.item for edit in edits], config, partitions=1, batch_size=1000)
    return {
        event_id
        for event_id, places in run.placed.items()
        if any(
            stage == "toxicity" or (reason or "").startswith(("blocked:", "injection:")) for _, stage, reason in places
        )
    }


def write_model(path: Path = DEFAULT_MODEL) -> None:
    """Train on every labelled set (and the package segments) and save the model with its threshold."""
    edits = load_edits()
    extra = package_paragraphs()
    threshold = pick_threshold(edits, extra)
    model = make_model().fit(*training_rows(edits, extra))
    about = {"trained_on": "curation_set, curation_holdout, curation_probes rounds 1-6, package descriptions"}
    save_model(path, model, threshold, about)
    print(f"wrote {path} ({path.stat().st_size} bytes), threshold {threshold:.4f}")


def cost(edits: list[Edit]) -> None:
    """Microseconds per edit of the packaged classifier, scored as the flow does (batches of 1024)."""
    learned = LearnedSafety()
    chosen = [e.item.event.final_user_edit or "" for e in edits] * 3
    rejected = [e.item.event.response for e in edits] * 3
    start = time.perf_counter()
    for at in range(0, len(chosen), 1024):
        learned.score_edits(chosen[at : at + 1024], rejected[at : at + 1024])
    print(f"classifier cost: {1e6 * (time.perf_counter() - start) / len(chosen):.0f} us per edit (batches of 1024)")


def main() -> None:
    if "--write" in sys.argv:
        write_model()
        return
    edits = load_edits()
    if "--cost" in sys.argv:
        cost(edits)
        return
    extra = package_paragraphs()
    unlabelled = sum(e.category in HARMFUL and 1 not in e.labels for e in edits)
    print(f"{len(edits)} edits, {len(extra)} package segments; harmful edits with no matched segment: {unlabelled}")
    header = "| held out | rules (blind) | classifier | rules OR classifier | threshold |"
    print(header)
    print("|---|---|---|---|---|")
    for source, version in BLIND_POLICY.items():
        test = [e for e in edits if e.source == source]
        train = [e for e in edits if e.source != source]
        threshold = pick_threshold(train, extra)
        model = make_model().fit(*training_rows(train, extra))
        scores = edit_scores(model, test)
        flagged = {e.item.event.event_id for e, s in zip(test, scores, strict=True) if s >= threshold}
        rules = rules_caught(test, version)
        cells = []
        for caught in (rules, flagged, rules | flagged):
            figures = []
            for cats in (("insult",), ("injection",), GOOD):
                group = [e for e in test if e.category in cats]
                hits = sum(e.item.event.event_id in caught for e in group)
                figures.append(f"{hits}/{len(group)}")
            cells.append(" ".join(figures))
        print(f"| {source} (v{version}) | " + " | ".join(cells) + f" | {threshold:.3f} |", flush=True)
    print("cells: insults caught, injections caught, good edits flagged")
    if DEFAULT_MODEL.is_file():
        cost(edits)


if __name__ == "__main__":
    main()
