"""Configuration of the threshold tracker and the trainer."""

from __future__ import annotations

from pydantic import BaseModel


class TrainerSettings(BaseModel):
    """Threshold, base model, LoRA/DPO hyper-parameters, gates and registry location."""
