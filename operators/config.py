"""Configuration of the curation chain (filled in by the curation operators)."""

from __future__ import annotations

from pydantic import BaseModel


class CurationSettings(BaseModel):
    """Thresholds, windows, quotas and sampling rates of the curation chain."""
