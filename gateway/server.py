"""ASGI entry point for process managers: ``uvicorn gateway.server:app`` (settings from env)."""

from __future__ import annotations

from flywheel.settings import load_settings
from gateway.app import create_app

app = create_app(load_settings())
