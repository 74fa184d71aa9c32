"""The device the trainer and the model server pick."""

from __future__ import annotations

import pytest

from flywheel.infra.devices import pick_device

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("preference", ["cpu", "cuda:1", "mps"])
def test_an_explicit_device_is_taken_as_asked(preference: str) -> None:
    assert pick_device(preference) == preference


def test_auto_takes_cuda_when_present_else_cpu_on_a_machine_without_mps() -> None:
    mps = getattr(torch.backends, "mps", None)
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps is not None and mps.is_available() else "cpu"
    assert pick_device("auto") == expected
