"""An answer and the drop reason of an edit to it: what the policy versions' rule tests share."""

from __future__ import annotations

from flywheel.operators.policy import PolicyEngine

ANSWER = "Restart the worker after you change the setting, then check the log for errors."


def drop_reason(engine: PolicyEngine, edit: str, prompt: str = "How do I apply the new setting?") -> str | None:
    """The reason ``engine`` drops ``edit`` of :data:`ANSWER` for; None when it keeps the edit."""
    drop = engine.evaluate(prompt, edit, ANSWER).drop
    return None if drop is None else drop.reason
