"""Controlled rollout: which version answers a user, decided by a stable hash of ``user_id``.

A user lands in ``[0, 1)`` by SHA-256 of ``<candidate>:<user_id>``; below the candidate's share
they get the candidate, otherwise the current version. The same user keeps the same arm for the
whole rollout (and across server restarts and replicas); a new candidate draws a new sample, so
the same users are not always the guinea pigs. Requests without a user id get the current version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flywheel.serving.registry import Alias


def bucket(user_id: str, salt: str) -> float:
    """The user's stable position in ``[0, 1)`` for a rollout salted by ``salt``."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Routes:
    """An immutable routing table: swapped whole, so a request never sees half of a change."""

    current: str
    candidate: str | None = None
    candidate_share: float = 0.0

    @classmethod
    def of(cls, alias: Alias) -> Routes:
        """The routes an alias asks for."""
        return cls(alias.current, alias.candidate, alias.candidate_share if alias.candidate else 0.0)

    def versions(self) -> set[str]:
        """Every version a request can be routed to."""
        return {self.current} | ({self.candidate} if self.candidate and self.candidate_share > 0 else set())

    def pick(self, user_id: str | None) -> str:
        """The version that answers ``user_id``."""
        if self.candidate is None or self.candidate_share <= 0 or not user_id:
            return self.current
        return self.candidate if bucket(user_id, self.candidate) < self.candidate_share else self.current
