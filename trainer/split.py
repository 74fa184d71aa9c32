"""The held-out split of one snapshot's pairs: prompt keys, linked groups, a deterministic split kept across runs.

Pure functions of the rows and of earlier runs' recorded splits (no I/O): :mod:`flywheel.trainer.dataset`
reads the rows, the registry (``trainer/registry.py``) the records, this decides which pairs are held
out, and the evaluation groups the held-out ones by :func:`pair_prompt_key`. Invariant, where the
earlier records are read: a prompt an earlier run held out is held out, one it trained on trains,
unless its group now links it to a prompt held out before (then it is held out and named).
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SPLIT_RULE = (
    "pairs linked by a shared prompt (after its conversation; and after its conversation without system "
    "turns), a shared chosen answer of 32+ characters, a shared thread_id, or a follow-up whose conversation "
    "holds an earlier pair's prompt and answer, form one group (texts NFKC, casefolded, whitespace-collapsed, "
    "typographic quotes made plain, punctuation at either end and spaces before it dropped); a group holding a "
    "prompt an earlier run held out (the runs the server's alias names and the latest run, each with the sides "
    "of the runs before it) is held out, else one holding a prompt an earlier run trained on trains; the other "
    "groups, in the order of sha256(their least prompt key), are held out until eval_fraction of their pairs "
    "are, a group that would overshoot it by more than it was short skipped; never every pair by that fill, the "
    "smallest new group when none is held out otherwise"
)

# Typographic quotes and apostrophes as their plain twins: NFKC keeps them apart.
_PLAIN_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                               "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                               "\u00ab": '"', "\u00bb": '"'})  # fmt: skip


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def normalise_prompt(text: str) -> str:
    """The prompt as the split sees it: NFKC, casefolded, plain quotes, one space per run, bare ends.

    "How do I sort a list?", "how do i sort a list ?", "How do I sort a list" and the same in
    curly quotes are one question: as several keys, one could be held out while its twin trained.
    Punctuation inside the text stays ("2+2" is not "2-2"); at either end it goes, and so does a
    space before punctuation.
    """
    words = unicodedata.normalize("NFKC", text).casefold().translate(_PLAIN_QUOTES).split()
    joined = ""
    for word in words:
        if joined and not all(_is_punctuation(char) for char in word):
            joined += " "
        joined += word
    start, end = 0, len(joined)
    while start < end and _is_punctuation(joined[start]):
        start += 1
    while end > start and _is_punctuation(joined[end - 1]):
        end -= 1
    return joined[start:end].strip()


def prompt_key(text: str) -> str:
    """A stable key of a prompt: equal for prompts that differ only in case, width, spacing, quotes or end marks."""
    return hashlib.sha256(normalise_prompt(text).encode()).hexdigest()


def conversation_key(turns: Sequence[dict[str, Any]], prompt: str) -> str:
    """The key of ``prompt`` after ``turns`` (each normalised); the prompt's own key when there are none."""
    if not turns:
        return prompt_key(prompt)
    parts = [*(f"{turn['role']}: {normalise_prompt(turn['content'])}" for turn in turns), normalise_prompt(prompt)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def pair_prompt_key(row: dict[str, Any]) -> str:
    """The key of what a pair answers: its prompt, after the earlier turns of its conversation when it has some.

    "Make it shorter." after a conversation about cats and after one about SQL are two prompts.
    """
    return conversation_key(row.get("turns") or (), row["prompt"])


def _spoken(turns: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user and assistant turns: a system message changes how a question is asked, not what."""
    return [turn for turn in turns if turn.get("role") != "system"]


def user_prompt_key(row: dict[str, Any]) -> str:
    """:func:`pair_prompt_key` without the system turns: one question under two system messages is one."""
    return conversation_key(_spoken(row.get("turns") or ()), row["prompt"])


def _prompt_keys(row: dict[str, Any]) -> tuple[str, str]:
    """A pair's prompt keys, with and without its system turns: what the split's sides and records hold."""
    return pair_prompt_key(row), user_prompt_key(row)


def _exchange_key(turns: Sequence[dict[str, Any]], prompt: str, answer: str) -> str:
    return hashlib.sha256(f"{conversation_key(turns, prompt)}\n{normalise_prompt(answer)}".encode()).hexdigest()


def exchange_keys(row: dict[str, Any]) -> set[str]:
    """Keys of the (conversation, question, answer) exchanges a pair holds, system turns aside.

    A pair's own (prompt with either answer), and each earlier user turn with the assistant turn
    that answered it: a follow-up's conversation holds its first turn's prompt and answer, so the
    two share a key and one side of the split (trained on, the first turn would teach the answer
    the held-out follow-up is asked after). Used where the pairs have no ``thread_id``.
    """
    turns = _spoken(row.get("turns") or ())
    keys = {_exchange_key(turns, row["prompt"], row[column]) for column in ("chosen", "rejected") if row.get(column)}
    for index in range(1, len(turns)):
        asked, answered = turns[index - 1], turns[index]
        if asked.get("role") == "user" and answered.get("role") == "assistant":
            keys.add(_exchange_key(turns[: index - 1], asked["content"], answered["content"]))
    return keys


def is_eval(key: str, eval_fraction: float) -> bool:
    """Whether a key belongs to the eval split: a pure function of the key, stable across runs."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return bucket < eval_fraction


@dataclass(frozen=True)
class SplitRecord:
    """One run's split as prompt keys (each pair's, with and without its system turns): what later splits keep.

    ``eval_keys`` and ``train_keys`` are the run's own sides plus the sides of earlier runs' prompts
    its snapshot did not hold (quarantined for one run and back later, a prompt is still where it
    was). ``trained_keys`` is the run's own train side alone: the prompts it may have trained on.
    """

    run_id: str
    eval_keys: frozenset[str]
    train_keys: frozenset[str]
    trained_keys: frozenset[str]


@dataclass(frozen=True)
class PreviousSplits:
    """The recorded splits of earlier runs that a split keeps, and the runs named without one (older cards)."""

    records: tuple[SplitRecord, ...] = ()
    unrecorded: tuple[str, ...] = ()

    @functools.cached_property
    def eval_keys(self) -> frozenset[str]:
        """Prompts any of the runs held out."""
        return frozenset().union(*(record.eval_keys for record in self.records))

    @functools.cached_property
    def train_keys(self) -> frozenset[str]:
        """Prompts any of them trained on and none held out: held out wins (see :func:`split_pairs`)."""
        return frozenset().union(*(record.train_keys for record in self.records)) - self.eval_keys


@dataclass(frozen=True)
class PairSplit:
    """DPO pairs of one snapshot split by group: every pair of one prompt, or of one answer, is on one side."""

    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    # Pairs left out of both sides: no preference to learn or measure (:func:`is_degenerate`).
    degenerate: int = 0
    # The earlier runs' splits this one kept (none: every group was new to it).
    previous: PreviousSplits = field(default_factory=PreviousSplits)
    # Pairs of groups no earlier split holds a prompt of, and how many of them were held out.
    new_group_pairs: int = 0
    new_group_eval_pairs: int = 0
    # Per earlier run with a record: the held-out prompts whose group holds a prompt it trained on.
    trained_by: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def holds_out(self, prompt: str, eval_fraction: float, answer: str | None = None) -> bool:
        """Whether ``prompt`` (a positive example's, say) belongs to the held-out side.

        A prompt of the pairs stays on its pairs' side; one of an earlier run's split on the side
        that run gave it; any other is split by its own key. An ``answer`` that is a held-out
        pair's chosen answer (32+ characters, as the split links them) is held out whatever its
        prompt: trained on, a reworded prompt would carry it over.
        """
        key = prompt_key(prompt)
        if key in self._side_keys[0]:
            return True
        if answer is not None and prompt_key(answer) in self._eval_answer_keys:
            return True
        if key in self._side_keys[1]:
            return False
        if key in self.previous.eval_keys or key in self.previous.train_keys:
            return key in self.previous.eval_keys
        return is_eval(key, eval_fraction)

    @functools.cached_property
    def _eval_answer_keys(self) -> frozenset[str]:
        return frozenset(
            prompt_key(row["chosen"])
            for row in self.eval
            if len(normalise_prompt(row["chosen"])) >= MIN_LINKING_ANSWER_CHARS
        )

    @functools.cached_property
    def _side_keys(self) -> tuple[frozenset[str], frozenset[str]]:
        # A prompt with no system turns is a held-out pair's when either of its keys is.
        def keys(rows: list[dict[str, Any]]) -> frozenset[str]:
            return frozenset(key for row in rows for key in _prompt_keys(row))

        return keys(self.eval), keys(self.train)

    def record(self, run_id: str) -> SplitRecord:
        """This split as ``run_id``'s record, with the earlier sides of prompts the snapshot did not hold."""
        held, trained = self._side_keys
        return SplitRecord(
            run_id=run_id,
            eval_keys=held | (self.previous.eval_keys - trained),
            train_keys=trained | (self.previous.train_keys - held),
            trained_keys=trained,
        )

    @property
    def eval_share(self) -> float:
        """The share of the split's pairs held out: ``eval_fraction`` is a target that whole groups meet roughly."""
        total = len(self.train) + len(self.eval)
        return len(self.eval) / total if total else 0.0

    @property
    def eval_prompt_keys(self) -> list[str]:
        """Keys of the held-out prompts, sorted."""
        return sorted({pair_prompt_key(row) for row in self.eval})

    @property
    def eval_prompt_set_hash(self) -> str:
        """One hash for the set of held-out prompts: two runs evaluated on the same prompts share it."""
        return hashlib.sha256("\n".join(self.eval_prompt_keys).encode()).hexdigest()

    @functools.cached_property
    def _eval_prompts(self) -> frozenset[str]:
        return frozenset(pair_prompt_key(row) for row in self.eval)

    @property
    def carried_eval_prompts(self) -> int:
        """Held-out prompts an earlier run held out too."""
        return len(self._eval_prompts & self.previous.eval_keys)

    @property
    def eval_prompts_trained_before(self) -> int:
        """Held-out prompts an earlier run trained on: their group now links a prompt one held out."""
        return len(self._eval_prompts & self.previous.train_keys)

    @property
    def new_eval_prompts(self) -> int:
        """Held-out prompts no earlier run had on either side: of new groups, or new to a held-out group."""
        return len(self._eval_prompts) - self.carried_eval_prompts - self.eval_prompts_trained_before


# A chosen answer links the prompts it answers only when it says something: "Yes." or "Thanks!"
# shared by unrelated prompts would chain them into one group that takes a whole side.
MIN_LINKING_ANSWER_CHARS = 32


DEGENERATE_RULE = "chosen empty, or equal to rejected once case and whitespace are set aside"


def is_degenerate(row: dict[str, Any]) -> bool:
    """Whether a pair states no preference: an empty chosen answer, or one equal to the rejected one.

    Equal "once case and whitespace are set aside": DPO would push two spellings of one answer
    apart, and the evaluation would score a correction the base already wrote.
    """
    chosen = " ".join(unicodedata.normalize("NFKC", row["chosen"] or "").casefold().split())
    rejected = " ".join(unicodedata.normalize("NFKC", row["rejected"] or "").casefold().split())
    return not chosen or chosen == rejected


def split_pairs(rows: list[dict[str, Any]], eval_fraction: float, previous: PreviousSplits | None = None) -> PairSplit:
    """Deterministic split by group (:func:`pair_groups`) that keeps the sides of earlier runs (``previous``).

    A group holding a prompt an earlier run held out is held out; else a group holding a prompt an
    earlier run trained on trains. The other groups, new to every earlier split (all of them without
    ``previous``), are held out in the order of their key's hash until ``eval_fraction`` of their pairs
    are, skipping a group that would overshoot it by more than it was short; never every pair by that
    fill, and one new group (the smallest) when nothing else is held out. Degenerate pairs
    (:func:`is_degenerate`) are on neither side, counted in ``degenerate``.

    Sticky, because a split of one snapshot alone moved with the next: more groups moved the cut,
    and a held-out group that grew past it was skipped (10 of 45 held-out prompts went to training
    when 60 prompts joined 200 and some gained pairs), so the next run's comparison with the served
    run could be judged on prompts the served run had trained on, and successive runs' figures were
    on shifting sets. A group linking a prompt held out before and one trained on
    before is held out: the evidence stays comparable, and the prompts an earlier run trained on
    are named per run (``trained_by``) so that the comparison with it leaves them out.

    Grouping by prompt alone let a reworded question carry its held-out answer into training
    (users correct "How do I reverse a string?" and "Write a function that reverses a string"
    to the same code): the held-out figure then measured recall of trained answers. Groups can
    be few and large (one per answer users give many prompts), so the fraction is counted in
    pairs, not drawn per group: a per-group draw held out 29 of 185 pairs of six groups, or none.
    """
    previous = previous or PreviousSplits()
    kept = [row for row in rows if not is_degenerate(row)]
    degenerate, rows = len(rows) - len(kept), kept
    groups = pair_groups(rows)
    keys = {
        name: frozenset(key for index in members for key in _prompt_keys(rows[index]))
        for name, members in groups.items()
    }
    held_rows: set[int] = set()
    fresh = []
    for name, members in groups.items():
        if keys[name] & previous.eval_keys:
            held_rows.update(members)
        elif not keys[name] & previous.train_keys:
            fresh.append(name)
    ordered = sorted(fresh, key=lambda key: hashlib.sha256(key.encode()).digest())
    new_pairs = sum(len(groups[name]) for name in fresh)
    target = eval_fraction * new_pairs
    new_held = 0
    for key in ordered:
        shortfall = target - new_held
        if shortfall <= 0:
            break
        size = len(groups[key])
        # A group that would overshoot the target by more than it is short is left to train, and
        # the next is tried: a boilerplate answer chaining 70 of 100 pairs held out 86 of them.
        # Nor may every pair be held out.
        if size - shortfall > shortfall or len(held_rows) + size >= len(rows):
            continue
        held_rows.update(groups[key])
        new_held += size
    if not held_rows and len(groups) > 1 and ordered:
        # Every new group is larger than twice the target: the smallest (the first in hash order
        # of those) is held out, so that a run has something to be judged on.
        smallest = min(ordered, key=lambda key: len(groups[key]))
        held_rows.update(groups[smallest])
        new_held += len(groups[smallest])
    held_groups = [name for name, members in groups.items() if members[0] in held_rows]
    trained_by = {
        record.run_id: frozenset(
            pair_prompt_key(rows[index])
            for name in held_groups
            if keys[name] & record.trained_keys
            for index in groups[name]
        )
        for record in previous.records
    }
    return PairSplit(
        train=[row for index, row in enumerate(rows) if index not in held_rows],
        eval=[row for index, row in enumerate(rows) if index in held_rows],
        degenerate=degenerate,
        previous=previous,
        new_group_pairs=new_pairs,
        new_group_eval_pairs=new_held,
        trained_by=trained_by,
    )


def pair_groups(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Row indices by group: rows sharing a prompt key (with or without the system turns), a chosen answer's key
    (32+ characters), a ``thread_id`` or an exchange (:func:`exchange_keys`) are in one group.

    Linked transitively (union-find); a group is named by the least prompt key it holds, so it
    keeps its name, and its side, while rows join it without linking it to a group of a lesser key.
    """
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]  # path halving
            node = parent[node]
        return node

    def link(first: str, second: str) -> None:
        first, second = root(first), root(second)
        if first != second:
            # Each root is the least node of its group, prompt nodes before the others: so a
            # group's root is its least prompt node (every group holds a prompt).
            low, high = sorted((first, second), key=lambda node: (node[0] != "p", node))
            parent[high] = low

    for row in rows:
        prompt = "p" + pair_prompt_key(row)
        link(prompt, "p" + user_prompt_key(row))
        if len(normalise_prompt(row["chosen"])) >= MIN_LINKING_ANSWER_CHARS:
            link(prompt, "c" + prompt_key(row["chosen"]))
        if row.get("thread_id"):
            link(prompt, "t" + str(row["thread_id"]))
        for exchange in exchange_keys(row):
            link(prompt, "x" + exchange)
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(root("p" + pair_prompt_key(row))[1:], []).append(index)
    return groups
