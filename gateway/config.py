"""Configuration of the HTTP ingestion gateway."""

from __future__ import annotations

from pydantic import BaseModel


class GatewaySettings(BaseModel):
    """Listen address, API keys, HMAC secrets, limits."""
