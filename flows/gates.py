"""The curation flow's wiring shapes, as Bytewax composite operators.

A gate maps a candidate to a :data:`Decision` and splits what it kept from what it dropped;
the keyed and batched gates do the same around ``stateful_map`` and ``flat_map_batch``.
Their inner step ids are scoped under the gate's own (``dedup.check``, ``quota.split``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeGuard, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from flywheel.flows.decisions import Candidate, Decision, Dropped, is_candidate, is_dropped

X = TypeVar("X")
T = TypeVar("T")
F = TypeVar("F")
S = TypeVar("S")


@dataclass(frozen=True)
class Split(Generic[T, F]):
    """The two sides of a split: items the first guard accepts, and all the others."""

    trues: Stream[T]
    falses: Stream[F]


@dataclass(frozen=True)
class GateOut:
    """What a gate kept (still candidates), what it dropped (for the rejections table), and both."""

    kept: Stream[Candidate]
    dropped: Stream[Dropped]
    decisions: Stream[Decision]


@operator
def split(
    step_id: str,
    up: Stream[X],
    is_true: Callable[[X], TypeGuard[T]],
    is_false: Callable[[X], TypeGuard[F]],
) -> Split[T, F]:
    """Divide a stream of a two-type union into its two types.

    ``is_false`` types the other side (``op.branch`` types only the first); an item that
    satisfies neither guard is a wiring bug and raises instead of vanishing.
    """
    branch = op.branch("branch", up, is_true)

    def narrow(item: X) -> F:
        if is_false(item):
            return item
        raise TypeError(f"{step_id}: {type(item).__name__} fits neither side of the split")

    return Split(branch.trues, op.map("narrow", branch.falses, narrow))


@operator
def gate(step_id: str, up: Stream[Candidate], check: Callable[[Candidate], Decision]) -> GateOut:
    """Apply one per-item check to every candidate and split kept from dropped."""
    return _kept_or_dropped(op.map("check", up, check))


@operator
def keyed_gate(
    step_id: str,
    up: Stream[X],
    key: Callable[[X], str],
    check: Callable[[S | None, X], tuple[S | None, Decision]],
) -> GateOut:
    """Apply a stateful check per key (state held by Bytewax, so recovery snapshots it).

    A batch's items reach their key's state as one list per key, in arrival order: where the
    key lives in another process, one list crosses (one pickle), not every item on its own.
    """

    def by_key(items: list[X]) -> list[tuple[str, list[X]]]:
        return grouped(items, key)

    def check_each(state: S | None, items: list[X]) -> tuple[S | None, list[Decision]]:
        decisions: list[Decision] = []
        for item in items:
            state, decision = check(state, item)
            decisions.append(decision)
        return state, decisions

    checked = op.key_rm("unkey", op.stateful_map("check", op.flat_map_batch("key", up, by_key), check_each))
    return _kept_or_dropped(op.flat_map("each", checked, _each))


def _each(decisions: list[Decision]) -> list[Decision]:
    return decisions


def grouped(items: list[X], key: Callable[[X], str]) -> list[tuple[str, list[X]]]:
    """The items by key, each key's in their order (one item per key per batch at a keyed step)."""
    by_key: dict[str, list[X]] = {}
    for item in items:
        by_key.setdefault(key(item), []).append(item)
    return list(by_key.items())


@operator
def batched_gate(
    step_id: str, up: Stream[Candidate], check_batch: Callable[[list[Candidate]], list[Decision]]
) -> GateOut:
    """Apply a check to batches of candidates (an expensive model scores many at once)."""
    return _kept_or_dropped(op.flat_map_batch("check", up, check_batch))


def _kept_or_dropped(decisions: Stream[Decision]) -> GateOut:
    # Called inside a gate's builder, so the split's steps are scoped under the gate.
    sides = split("split", decisions, is_candidate, is_dropped)
    return GateOut(sides.trues, sides.falses, decisions)
