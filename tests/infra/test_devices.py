"""The device the trainer and the model server pick."""

from __future__ import annotations

import pytest

from flywheel.infra.devices import pick_device

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("preference", ["cpu", "cuda:1", "mps"])
def test_an_explicit_device_is_taken_as_asked(preference: str) -> None:
    assert pick_device(preference) == preference


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(
    monkeypatch: pytest.MonkeyPatch, cuda: bool, mps: bool, expected: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device("auto") == expected
