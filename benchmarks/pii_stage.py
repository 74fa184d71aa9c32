"""PII + policy cost per event: the one-pass scan against the previous scan, same events, same run.

Each event of the realistic mix gets the PII and policy work the flow gives it (what the
flow's steps call, in their order):

* edit: the policy gate (``PolicyEngine.evaluate``), then the pair row's texts scrubbed, or,
  when the policy drops it, the rejection row's texts (scrubbed twice, as ``Rows.rejection``
  and ``rejection_row`` do) and the drop's detail;
* feedback: the feedback row's texts, and the scrubbed event for the review topic when it
  needs review;
* positive: when the stratified sample draws it, ``response_pii`` and the positive row's texts;
* view: nothing (counted, never stored).

The reference is the previous code (``pii_reference.reference_scan`` and the joined rule
regexes), the current one is the product's (``operators.pii.scan`` with its memo). Both run
over the same decoded events in alternating rounds; the figures are CPU microseconds per event
of each kind (median of the rounds) and their ratio. ``current_cold`` forgets the memo before
every event: no text is ever shared between events there (the sample stream repeats answers
word for word, real traffic less so). Every output of both is compared: ``identical``.
Run alone with ``python -m flywheel.benchmarks.pii_stage``; ``make bench`` runs it too.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from flywheel.benchmarks.pii_reference import reference_scan
from flywheel.benchmarks.scenarios import PAD_TO_BYTES, REALISTIC
from flywheel.operators.config import PolicySettings, SamplingSettings
from flywheel.operators.normalize import normalize_text
from flywheel.operators.outcome import Drop, Stage
from flywheel.operators.pii import clear_scan_memo
from flywheel.operators.policy import PolicyEngine, PolicyVerdict, response_pii
from flywheel.operators.proximity import sentences
from flywheel.operators.routing import Route, needs_review, route_of
from flywheel.operators.rows import scrub_event, scrub_text
from flywheel.operators.sampling import sample_positive
from flywheel.sample import sample_events
from flywheel.schemas.events import InteractionEvent

KINDS = ("edit", "feedback", "positive", "view")
_ROUTE_KIND = {
    Route.PAIR_CANDIDATE: "edit",
    Route.FEEDBACK: "feedback",
    Route.POSITIVE_CANDIDATE: "positive",
    Route.VIEW: "view",
}


@dataclass(frozen=True)
class PiiCalls:
    """The PII/policy calls the flow makes, in one implementation."""

    evaluate: Callable[[str, str, str], PolicyVerdict]
    scrub: Callable[[str], str]
    scrub_event: Callable[[InteractionEvent], InteractionEvent]
    response_pii: Callable[[str], Drop | None]


def current_calls(engine: PolicyEngine) -> PiiCalls:
    """The product's calls (one scan per text, shared through the memo)."""
    return PiiCalls(engine.evaluate, scrub_text, scrub_event, response_pii)


def reference_calls(engine: PolicyEngine) -> PiiCalls:
    """The previous code's calls: every detector over every text at every call."""
    return PiiCalls(
        lambda prompt, chosen, rejected: reference_evaluate(engine, prompt, chosen, rejected),
        lambda text: reference_scan(text)[0],
        _reference_scrub_event,
        _reference_response_pii,
    )


def reference_evaluate(engine: PolicyEngine, prompt: str, chosen: str, rejected: str = "") -> PolicyVerdict:
    """``PolicyEngine.evaluate`` as it was: joined rule regexes, a subset scan per text (proximity rules, views)."""
    texts: dict[str, str] = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    findings: dict[str, float] = {}
    drops: list[Drop] = []
    limits = {
        "prompt": engine.limits.max_prompt_chars,
        "chosen": engine.limits.max_chosen_chars,
        "rejected": engine.limits.max_rejected_chars,
    }
    for name, limit in limits.items():
        if len(texts[name]) > limit:
            findings[f"too_long:{name}"] = float(len(texts[name]))
            drops.append(Drop(Stage.POLICY, f"too_long:{name}", f"{name} has {len(texts[name])} chars > {limit}"))
    normalized = {name: normalize_text(text) for name, text in texts.items()}
    # Each text's folded view (the engine's, with its version's folds) where it reads otherwise; every rule reads it.
    views = {
        f: v for f, t in texts.items() if (v := engine.folded_view(t)) is not t and normalize_text(v) != normalized[f]
    }
    folded = {name: normalize_text(view) for name, view in views.items()}
    known_folded = frozenset(sentences(engine.folded_view(rejected)))
    for kind, rules in (("injection", engine.injection_rules), ("blocked", engine.blocked_rules)):
        for rule in rules:
            hits = [
                f
                for f in rule.applies_to
                if rule.regex.search(normalized[f]) or (f in folded and rule.regex.search(folded[f]))
            ]
            if hits:
                findings[f"{kind}:{rule.name}"] = float(len(hits))
                drops.append(
                    Drop(Stage.POLICY, f"{kind}:{rule.name}", f"{kind} rule {rule.name!r} matched in {', '.join(hits)}")
                )
        # Proximity rules (default-v4), each on its own: no tokenised sentences shared between rules.
        known = frozenset(sentences(rejected))
        for prule in engine.proximity_rules:
            if prule.kind != kind:
                continue
            skip = prule.skip_rejected_sentences
            found: list[str] = [
                f
                for f in prule.applies_to
                if prule.matches(texts[f], known if f == "chosen" and skip else frozenset())
                or (f in views and prule.matches(views[f], known_folded if f == "chosen" and skip else frozenset()))
            ]
            if found:
                findings[f"{kind}:{prule.name}"] = float(len(found))
                detail = f"{kind} proximity rule {prule.name!r} matched in {', '.join(found)}"
                drops.append(Drop(Stage.POLICY, f"{kind}:{prule.name}", detail))
    scrubbed: dict[str, str] = {}
    pii_fields: dict[str, list[str]] = {}
    names = frozenset(engine.pii_actions)
    for name, text in texts.items():
        scrubbed[name], counts = reference_scan(text, names)
        for detector, count in counts.items():
            findings[f"pii:{detector}"] = findings.get(f"pii:{detector}", 0.0) + count
            pii_fields.setdefault(detector, []).append(name)
    for detector, fields in pii_fields.items():
        if engine.pii_actions[detector] == "reject":
            drops.append(Drop(Stage.POLICY, f"pii:{detector}", f"{detector} found in {', '.join(fields)}"))
    for detector, fields in pii_fields.items():
        if engine.pii_actions[detector] == "scrub" and "chosen" in fields and engine.pii_in_chosen == "drop":
            detail = f"{detector} in chosen: a pair trained on a placeholder teaches the model to print it"
            drops.append(Drop(Stage.POLICY, f"pii_in_chosen:{detector}", detail))
    drop = None
    if drops:
        drop = Drop(drops[0].stage, drops[0].reason, drops[0].detail, dict(findings))
    return PolicyVerdict(drop, scrubbed["prompt"], scrubbed["chosen"], scrubbed["rejected"], findings)


def _reference_scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return reference_scan(value)[0]
    if isinstance(value, list):
        return [_reference_scrub_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _reference_scrub_value(item) for key, item in value.items()}
    return value


def _reference_scrub_event(event: InteractionEvent) -> InteractionEvent:
    return msgspec.structs.replace(
        event,
        prompt=reference_scan(event.prompt)[0],
        response=reference_scan(event.response)[0],
        final_user_edit=None if event.final_user_edit is None else reference_scan(event.final_user_edit)[0],
        comment=None if event.comment is None else reference_scan(event.comment)[0],
        metadata=_reference_scrub_value(event.metadata),
    )


def _reference_response_pii(response: str) -> Drop | None:
    _, counts = reference_scan(response)
    if not counts:
        return None
    detail = f"{', '.join(sorted(counts))} in the response of a positive example"
    scores = {f"pii:{k}": float(v) for k, v in counts.items()}
    return Drop(Stage.POLICY, f"pii_in_response:{min(counts)}", detail, scores)


def event_work(calls: PiiCalls, event: InteractionEvent, sampling: SamplingSettings) -> list[Any]:
    """The PII/policy calls the flow makes for one event; their outputs, for comparison."""
    route = route_of(event, sampling.min_rating)
    out: list[Any] = []
    if route is Route.PAIR_CANDIDATE:
        verdict = calls.evaluate(event.prompt, event.final_user_edit or "", event.response)
        out.append(verdict)
        if verdict.drop is not None:
            out += _rejection(calls, event, verdict.drop)
        else:  # pair_row
            out += [calls.scrub(text) for text in (event.prompt, verdict.chosen, event.response)]
    elif route is Route.FEEDBACK:  # feedback_row, then the review message
        out += [calls.scrub(text) for text in (event.comment, event.prompt, event.response) if text is not None]
        if needs_review(event):
            out.append(calls.scrub_event(event))
    elif route is Route.POSITIVE_CANDIDATE and sample_positive(event, sampling) is not None:
        drop = calls.response_pii(event.response)
        out.append(drop)
        if drop is not None:
            out += _rejection(calls, event, drop)
        else:  # positive_row
            out += [calls.scrub(event.prompt), calls.scrub(event.response)]
    return out


def _rejection(calls: PiiCalls, event: InteractionEvent, drop: Drop) -> list[str]:
    """``Rows.rejection`` scrubs the texts, then ``rejection_row`` scrubs them (and the detail) again."""
    edit = event.final_user_edit
    texts = [calls.scrub(event.prompt), *([] if edit is None else [calls.scrub(edit)]), calls.scrub(event.response)]
    return [calls.scrub(text) for text in (*texts, drop.detail)]


def measure_pii_stage(events: int = 20_000, rounds: int = 3, seed: int = 11) -> dict[str, Any]:
    """CPU microseconds per event of each kind, reference vs current, and the ratios."""
    when = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = os.getloadavg()[0]
    engine = PolicyEngine.from_file(PolicySettings().path())
    sampling = SamplingSettings()
    decoder = msgspec.json.Decoder(InteractionEvent)
    by_kind: dict[str, list[InteractionEvent]] = {kind: [] for kind in KINDS}
    for _key, value in sample_events(events, seed=seed, mix=REALISTIC, pad_to_bytes=PAD_TO_BYTES):
        try:
            event = decoder.decode(value)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue  # the mix's bad messages go to the DLQ before any PII work
        kind = _ROUTE_KIND.get(route_of(event, sampling.min_rating))
        if kind is not None:
            by_kind[kind].append(event)
    runs: dict[str, dict[str, list[float]]] = {
        name: {k: [] for k in KINDS} for name in ("reference", "current", "current_cold")
    }
    outputs: dict[str, list[Any]] = {}
    for _round in range(rounds):
        for name, calls, cold in (
            ("reference", reference_calls(engine), False),
            ("current", current_calls(engine), False),
            ("current_cold", current_calls(engine), True),
        ):
            clear_scan_memo()
            produced: list[Any] = []
            for kind in KINDS:
                started = time.process_time()
                for event in by_kind[kind]:
                    if cold:
                        clear_scan_memo()
                    produced += event_work(calls, event, sampling)
                elapsed = time.process_time() - started
                runs[name][kind].append(elapsed * 1e6 / len(by_kind[kind]) if by_kind[kind] else 0.0)
            outputs[name] = produced
    counts = {kind: len(by_kind[kind]) for kind in KINDS}
    total = sum(counts.values())
    us = {name: {kind: statistics.median(times) for kind, times in kinds.items()} for name, kinds in runs.items()}
    for figures in us.values():
        figures["per_event_of_the_mix"] = sum(figures[kind] * counts[kind] for kind in KINDS) / total
    return {
        "when": when,
        "load_average_before_after": [load_before, os.getloadavg()[0]],
        "events": counts,
        "rounds": rounds,
        "us_per_event": us,
        "reference_vs_current": _ratios(us["reference"], us["current"]),
        "reference_vs_current_cold": _ratios(us["reference"], us["current_cold"]),
        "identical": outputs["reference"] == outputs["current"] == outputs["current_cold"],
    }


def _ratios(reference: dict[str, float], current: dict[str, float]) -> dict[str, float]:
    """How many times faster the current code is (reference cost / current cost), by kind."""
    return {kind: reference[kind] / current[kind] for kind in reference if current[kind] > 0}


def main(argv: list[str]) -> None:
    """Measure and merge the result into the bench results file under ``pii_stage``."""
    from flywheel.benchmarks.run import RESULTS

    events = int(argv[0]) if argv else 20_000
    result = measure_pii_stage(events)
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results["pii_stage"] = result
    Path(RESULTS).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
