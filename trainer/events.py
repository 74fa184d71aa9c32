"""Messages on the training topics: a trigger (tracker -> trainer) and a result (trainer -> anyone).

Both are JSON, keyed by ``trigger_id`` so every message about one threshold crossing lands on
the same partition. ``schema_version`` lets consumers reject messages they do not understand.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

TRIGGER_SCHEMA_VERSION = 1
RESULT_SCHEMA_VERSION = 1


def trigger_id_for(table_uuid: str, snapshot_id: int) -> str:
    """The trigger id of a crossing: a pure function of the table and the snapshot that crossed."""
    return hashlib.sha256(f"{table_uuid}:{snapshot_id}".encode()).hexdigest()[:20]


def run_id_for(trigger_id: str) -> str:
    """The run id of a trigger: deterministic, so a retrained run reuses its tag and registry path."""
    return f"r{trigger_id[:12]}"


class TrainingTrigger(BaseModel):
    """``N`` net-new DPO pairs were committed: train on exactly ``snapshot_id``."""

    schema_version: int = TRIGGER_SCHEMA_VERSION
    trigger_id: str
    table: str = Field(description="namespace.table of the DPO pairs")
    table_uuid: str
    snapshot_id: int
    snapshot_committed_at: datetime
    previous_snapshot_id: int | None = Field(description="snapshot of the previous trigger, if any")
    positives_table: str
    positives_snapshot_id: int | None = Field(description="positives snapshot current at the crossing")
    threshold: int
    new_pairs: int = Field(description="net-new pairs since the previous trigger")
    total_pairs: int
    sequence: int = Field(description="1 for the table's first trigger, then 2, 3, ...")


class EvalFigures(BaseModel):
    """Eval-split figures of one model (the base model before, the adapter after)."""

    preference_accuracy: float
    reward_margin: float
    positives_log_likelihood: float | None = None
    eval_pairs: int
    eval_positives: int = 0


class TrainingResult(BaseModel):
    """What one training run did, and whether its adapter was promoted."""

    schema_version: int = RESULT_SCHEMA_VERSION
    trigger_id: str
    run_id: str
    status: Literal["promoted", "rejected", "failed"]
    reasons: list[str] = Field(default_factory=list)
    snapshot_id: int
    snapshot_tag: str
    base_model: str
    adapter_uri: str | None
    model_card_uri: str | None
    train_pairs: int
    eval_pairs: int
    before: EvalFigures | None
    after: EvalFigures | None
    forgetting_pct: float | None
    duration_s: float
    finished_at: datetime
