"""Windowed dedup as stateful steps: repeated event ids and edit content, optional near-duplicates.

State is keyed by a hash bucket, so memory is bounded by the window, and it is taken and
returned explicitly, as Bytewax's ``stateful_map`` wants, so recovery snapshots capture it.
"""

from __future__ import annotations

from datetime import timedelta

from flywheel.flows.decisions import Candidate, Decision, Dropped, position_of
from flywheel.operators.config import DedupSettings
from flywheel.operators.dedup import InteractionDedup, bucket_of, dedup_key
from flywheel.operators.near_dup import NearDuplicateDetector, near_dup_group
from flywheel.schemas.records import SourcedEvent


class Dedup:
    """Dedup steps bound to the dedup settings."""

    def __init__(self, cfg: DedupSettings) -> None:
        self._cfg = cfg

    @property
    def near_duplicates(self) -> bool:
        """Whether the MinHash near-duplicate step runs on edits."""
        return self._cfg.near_duplicate

    def bucket(self, sourced: SourcedEvent) -> str:
        """Key an event by the hash bucket of its dedup key."""
        return bucket_of(dedup_key(sourced.event), self._cfg.buckets)

    def check(self, state: InteractionDedup | None, sourced: SourcedEvent) -> tuple[InteractionDedup, Decision]:
        """Drop a repeated event id, or an edit whose normalised content was seen, within the window."""
        state = state or InteractionDedup(timedelta(seconds=self._cfg.window_s), content=self._cfg.content)
        drop = state.observe(sourced.event, position_of(sourced))
        chosen = sourced.event.final_user_edit or ""
        return state, Candidate(sourced, chosen) if drop is None else Dropped(sourced, drop)

    def near_bucket(self, candidate: Candidate) -> str:
        """Key an edit by the hash bucket of its prompt group."""
        group = near_dup_group(candidate.sourced.event) or candidate.sourced.event.event_id
        return bucket_of(group, self._cfg.buckets)

    def check_near(
        self, state: NearDuplicateDetector | None, candidate: Candidate
    ) -> tuple[NearDuplicateDetector, Decision]:
        """Drop an edit whose text is a MinHash near-duplicate of a recent edit to the same prompt."""
        cfg = self._cfg
        state = state or NearDuplicateDetector(
            timedelta(seconds=cfg.window_s),
            cfg.near_duplicate_threshold,
            cfg.near_duplicate_num_perm,
            cfg.near_duplicate_shingle_size,
        )
        sourced = candidate.sourced
        group = near_dup_group(sourced.event)
        if group is None:
            return state, candidate
        drop = state.observe(group, candidate.chosen, sourced.event.occurred_at, position_of(sourced))
        return state, candidate if drop is None else Dropped(sourced, drop)
