"""The model registry: adapters and model cards under a local path or any fsspec URL.

Layout per run: ``<root>/runs/<run_id>/status.json`` (written when training starts, updated with
the decision at the end), ``adapter/`` (PEFT ``save_pretrained`` output: ``adapter_config.json`` +
``adapter_model.safetensors``, loadable with ``peft.PeftModel.from_pretrained(base, uri)``) and
``split.json`` (the run's held-out and train sides as prompt keys, :class:`SplitRecord`: later runs
keep them; rebuilt for runs before them, marked ``rebuilt_from``) and ``model_card.json``, written
last: a run whose card exists is complete; one with only a status file died midway and is retrained.
``<root>/latest_split.json`` names the last run that wrote a split.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from pydantic import BaseModel, Field

from flywheel.errors import RegistryError
from flywheel.schemas.registry import ALIAS_FILE, BASE, RUN_ID_PATTERN
from flywheel.trainer.split import SPLIT_RULE, PreviousSplits, SplitRecord

log = logging.getLogger(__name__)


class ServedRun(NamedTuple):
    """What the server's alias makes current: a ``run`` with an adapter here, or one ``missing`` from here."""

    run: str | None = None
    missing: str | None = None


SPLIT_FILE = "split.json"
LATEST_SPLIT_FILE = "latest_split.json"
SPLIT_RECORD_VERSION = 1


def _is_run_id(value: object) -> bool:
    """Whether ``value`` may be joined into a path as a run id (one component: no ``/``, no ``..``)."""
    return isinstance(value, str) and RUN_ID_PATTERN.fullmatch(value) is not None and ".." not in value


class Registry:
    """Reads and writes run artefacts through fsspec."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        try:
            self.fs, self.base = url_to_fs(self.root)
        except (ValueError, ImportError) as exc:
            raise RegistryError(f"registry location {root!r} is not usable: {exc}") from exc

    @classmethod
    def from_settings(cls, registry_url: str, state_dir: Path) -> Registry:
        """The configured registry, defaulting to ``<state_dir>/registry``."""
        root = registry_url or str((state_dir / "registry").resolve())
        return cls(root)

    def check(self) -> None:
        """Fail fast with :class:`RegistryError` unless the registry can be written and read back."""
        probe = f"{self.base}/.probe-{uuid.uuid4().hex}"
        try:
            self.fs.makedirs(self.base, exist_ok=True)
            self.fs.pipe_file(probe, b"ok")
            if self.fs.cat_file(probe) != b"ok":
                raise RegistryError(f"registry {self.root} did not read back what was written")
            self.fs.rm_file(probe)
        except (OSError, PermissionError) as exc:
            raise RegistryError(f"registry {self.root} is not readable and writable: {exc}") from exc

    def run_uri(self, run_id: str, *parts: str) -> str:
        """URI of a run's folder or of a file inside it."""
        return "/".join([self.root, "runs", run_id, *parts])

    def _path(self, run_id: str, *parts: str) -> str:
        return "/".join([self.base, "runs", run_id, *parts])

    def _write_json(self, path: str, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, indent=2, sort_keys=True, default=str).encode()
        parent = path.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if isinstance(self.fs, LocalFileSystem):
            staging = f"{path}.partial"
            self.fs.pipe_file(staging, data)
            self.fs.mv(staging, path)
        else:  # object stores write whole objects atomically
            self.fs.pipe_file(path, data)

    def write_status(self, run_id: str, payload: dict[str, Any]) -> None:
        """Record that a run started (or its progress)."""
        self._write_json(self._path(run_id, "status.json"), payload)

    def read_status(self, run_id: str) -> dict[str, Any]:
        """The run's status file ({} if the run never started)."""
        path = self._path(run_id, "status.json")
        if not self.fs.exists(path):
            return {}
        status: dict[str, Any] = json.loads(self.fs.cat_file(path))
        return status

    def run_ids(self) -> list[str]:
        """Every run with a folder in the registry, sorted by id."""
        folder = f"{self.base}/runs"
        if not self.fs.exists(folder):
            return []
        return sorted(path.rstrip("/").rsplit("/", 1)[-1] for path in self.fs.ls(folder, detail=False))

    def read_card(self, run_id: str) -> dict[str, Any] | None:
        """The run's model card, or None if the run never completed."""
        path = self._path(run_id, "model_card.json")
        if not self.fs.exists(path):
            return None
        card: dict[str, Any] = json.loads(self.fs.cat_file(path))
        return card

    def write_card(self, run_id: str, card: dict[str, Any]) -> str:
        """Write the model card (the run's completion marker); returns its URI."""
        self._write_json(self._path(run_id, "model_card.json"), card)
        return self.run_uri(run_id, "model_card.json")

    def write_adapter(self, run_id: str, model: Any) -> str:
        """``save_pretrained`` the adapter locally, then copy it into the registry; returns its URI."""
        target = self._path(run_id, "adapter")
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)
        with tempfile.TemporaryDirectory(prefix="flywheel-adapter-") as local:
            model.save_pretrained(local)
            self.fs.makedirs(target, exist_ok=True)
            for file in sorted(Path(local).rglob("*")):
                if file.is_file():
                    relative = file.relative_to(local).as_posix()
                    destination = self.run_uri(run_id, "adapter", relative)
                    with file.open("rb") as source, fsspec.open(destination, "wb") as sink:
                        sink.write(source.read())
        return self.run_uri(run_id, "adapter")

    def _alias_runs(self) -> tuple[str | None, str | None]:
        """(current, rollout candidate): the runs the server's alias names (None: the base, or no alias yet)."""
        try:
            raw = self.fs.cat_file(f"{self.base}/{ALIAS_FILE}")
        except FileNotFoundError:
            return None, None
        try:
            alias = json.loads(raw)
            versions = alias.get("current"), alias.get("candidate")
        except (ValueError, AttributeError) as exc:
            raise RegistryError(f"{self.root}/{ALIAS_FILE} is not a valid alias: {exc}") from exc
        runs: list[str | None] = []
        for version in versions:
            if not isinstance(version, str) or version == BASE:
                runs.append(None)
            elif not _is_run_id(version):
                raise RegistryError(f"{self.root}/{ALIAS_FILE} names {version!r}, which is no run id")
            else:
                runs.append(version)
        return runs[0], runs[1]

    def served_run(self) -> ServedRun:
        """The run the model server's alias makes current: usable when its adapter is here.

        Neither (the base, or no alias yet): the candidate is measured against the base alone. A run
        the alias names whose adapter this registry lacks is ``missing`` (logged): the candidate
        cannot be shown as good as what users are served, which the gates say (``not enough evidence``).
        """
        current, _candidate = self._alias_runs()
        if current is None:
            return ServedRun()
        if not self.fs.exists(self._path(current, "adapter", "adapter_config.json")):
            log.warning(
                "the served run has no adapter in the registry: it cannot be compared", extra={"run_id": current}
            )
            return ServedRun(missing=current)
        return ServedRun(run=current)

    def write_split(self, run_id: str, record: SplitRecord, rebuilt_from: dict[str, Any] | None = None) -> str:
        """Write the run's split record, then name it the latest; returns its URI.

        ``rebuilt_from``: the record of a run trained before split records, rebuilt afterwards
        (:mod:`flywheel.trainer.split_rebuild`; the rule it was split by and the data it was rebuilt
        from). Such a record is written as is, marked, and never named the latest: that run is not.
        """
        payload: dict[str, Any] = {
            "record_version": SPLIT_RECORD_VERSION,
            "run_id": run_id,
            "rule": SPLIT_RULE if rebuilt_from is None else rebuilt_from["rule"],
            # Held out by this run, or by an earlier run whose prompt this snapshot lacked.
            "eval": sorted(record.eval_keys),
            # This run's train side; then earlier runs' train sides of prompts it lacked.
            "train": sorted(record.trained_keys),
            "inherited_train": sorted(record.train_keys - record.trained_keys),
        }
        if rebuilt_from is not None:
            payload["rebuilt_from"] = rebuilt_from
        self._write_json(self._path(run_id, SPLIT_FILE), payload)
        if rebuilt_from is None:
            self._write_json(f"{self.base}/{LATEST_SPLIT_FILE}", {"run_id": run_id})
        return self.run_uri(run_id, SPLIT_FILE)

    def read_split(self, run_id: str) -> SplitRecord | None:
        """The run's split record; None without one (a run before them); :class:`RegistryError` when damaged."""
        path = self._path(run_id, SPLIT_FILE)
        if not self.fs.exists(path):
            return None
        try:
            stored = json.loads(self.fs.cat_file(path))
            trained = frozenset(stored["train"])
            return SplitRecord(
                run_id=run_id,
                eval_keys=frozenset(stored["eval"]),
                train_keys=trained | frozenset(stored["inherited_train"]),
                trained_keys=trained,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"{self.root} holds a damaged split record for {run_id}: {exc}") from exc

    def previous_splits(self, exclude: str, also: tuple[str, ...] = ()) -> PreviousSplits:
        """The recorded splits a new run (``exclude``: its own id) keeps, and the runs named without one.

        The runs :meth:`kept_runs` names; each record holds the sides of the records it kept in turn.
        A run named whose record is missing (written before split records, and not rebuilt) or
        damaged (logged) is listed as unrecorded: its sides are not kept, and the card says so.
        """
        records, unrecorded = [], []
        for run_id in self.kept_runs(exclude, also):
            try:
                record = self.read_split(run_id)
            except RegistryError as exc:
                log.warning("a split record is damaged: its sides are not kept", extra={"error": str(exc)})
                record = None
            if record is None:
                unrecorded.append(run_id)
            else:
                records.append(record)
        return PreviousSplits(records=tuple(records), unrecorded=tuple(unrecorded))

    def kept_runs(self, exclude: str, also: tuple[str, ...] = ()) -> list[str]:
        """The runs whose sides a new run (``exclude``) keeps: the alias's current and candidate, ``also``, latest."""
        try:
            latest = json.loads(self.fs.cat_file(f"{self.base}/{LATEST_SPLIT_FILE}")).get("run_id")
        except FileNotFoundError:
            latest = None
        except (ValueError, AttributeError):
            log.warning("the latest split pointer is damaged: not read", extra={"registry": self.root})
            latest = None
        if latest is not None and not _is_run_id(latest):
            log.warning("the latest split pointer names no run id: not read", extra={"run_id": str(latest)})
            latest = None
        named = [*self._alias_runs(), *also, latest]
        return list(dict.fromkeys(run for run in named if run is not None and run != exclude))

    def fetch_adapter(self, run_id: str, target: Path) -> Path:
        """Copy a run's adapter folder to the local ``target`` (PEFT loads local folders); returns it."""
        self.fs.get(self._path(run_id, "adapter") + "/", str(target), recursive=True)
        return target


class RunSummary(BaseModel):
    """One line of ``flywheel trainer runs``: enough to pick a run and load its adapter."""

    run_id: str
    trigger_id: str | None
    snapshot_id: int | None
    snapshot_tag: str | None
    status: str = Field(description="training (or died midway), promoted, rejected, failed")
    primary_before: float | None = Field(description="base model's mean similarity to users' corrections")
    primary_after: float | None = Field(description="candidate's mean similarity to users' corrections")
    closer: str | None = Field(description="held-out prompts where the candidate is closer, e.g. 41/60")
    adapter_uri: str | None = Field(description="peft.PeftModel.from_pretrained(base, adapter_uri) loads it")
    model_card_uri: str | None
    finished_at: str | None


def summarise(registry: Registry, run_id: str) -> RunSummary:
    """The summary of one run from its card (finished) or its status file (started, not finished)."""
    card = registry.read_card(run_id)
    if card is None:
        status = registry.read_status(run_id)
        return RunSummary(
            run_id=run_id,
            trigger_id=status.get("trigger_id"),
            snapshot_id=status.get("snapshot_id"),
            snapshot_tag=status.get("snapshot_tag"),
            status=str(status.get("state", "unknown")),
            primary_before=None,
            primary_after=None,
            closer=None,
            adapter_uri=None,
            model_card_uri=None,
            finished_at=None,
        )
    result = card.get("result", {})
    before, after = result.get("before") or {}, result.get("after") or {}
    comparison = result.get("comparison") or {}
    return RunSummary(
        run_id=run_id,
        trigger_id=result.get("trigger_id"),
        snapshot_id=result.get("snapshot_id"),
        snapshot_tag=result.get("snapshot_tag"),
        status=str(card.get("status")),
        primary_before=(before.get("similarity_to_users") or {}).get("value"),
        primary_after=(after.get("similarity_to_users") or {}).get("value"),
        closer=f"{comparison['closer']}/{comparison['prompts']}" if comparison else None,
        adapter_uri=result.get("adapter_uri"),
        model_card_uri=result.get("model_card_uri"),
        finished_at=result.get("finished_at"),
    )
