"""Which torch device a component runs on: shared by the trainer and the model server."""

from __future__ import annotations


def pick_device(preference: str) -> str:
    """``preference`` unless it is ``auto``; then ``cuda`` when present, then ``mps``, else ``cpu``."""
    import torch  # imported here: the flow and the gateway never load torch

    if preference != "auto":
        return preference
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
