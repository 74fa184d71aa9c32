"""The built wheel installs exactly one import package, ``flywheel``, with every part inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
PARTS = {"flows", "operators", "schemas", "infra", "trainer", "gateway", "benchmarks"}


def test_wheel_exposes_one_top_level_import_name(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("data_flywheel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert top_level == {"flywheel"}
    subpackages = {name.split("/")[1] for name in names if name.startswith("flywheel/") and name.count("/") >= 2}
    assert subpackages >= PARTS
    # Data files travel inside the package: the policy rules, the alert rules, the dashboard.
    assert "flywheel/operators/policies/default-v1.toml" in names
    assert "flywheel/operators/models/learned_safety.pkl.gz" in names
    assert "flywheel/infra/prometheus/rules.yml" in names
    assert not any("__pycache__" in name for name in names)
