"""What the server reads from the trainer's registry, and the ``current`` alias it follows.

The registry layout is the trainer's (``trainer/registry.py``): ``<root>/runs/<run_id>/adapter/``
(PEFT ``save_pretrained``) and ``model_card.json`` (written last: a run with a card is complete).
The server adds one file, ``<root>/current.json``: which version answers users (``current``: a
run id, or ``base``), an optional ``candidate`` with its traffic share, and the history of every
change. It is written whole (a rename on local disks, a single object put on object stores), so
a reader sees the old alias or the new one, never half of one. Two writers racing: the last
write wins, and both changes stay visible as the history of the file each of them read.

A version is ``base`` or a run id. Run ids come from messages and files (a promotion notice, the
alias) and become folder names, so every id is checked against :data:`RUN_ID_PATTERN` before it
is joined into a path: ``../x`` or ``a/b`` is refused, never read, copied or removed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from flywheel.errors import AliasError, RegistryError
from flywheel.schemas.registry import ALIAS_FILE, BASE, RUN_ID_PATTERN

Action = Literal["promote", "rollback", "set", "rollout", "rollout_off"]
# The card status the trainer's gates give a run they let through (the other one is ``rejected``).
SERVABLE_STATUS = "promoted"


class NotServable(AliasError):
    """A version the alias cannot point at: malformed id, missing or unreadable card, no adapter, not promoted.

    Retrying does not change the answer, so the promotion follower skips such a notice.
    """


def checked_version(version: str) -> str:
    """``version`` itself if it is ``base`` or a well-formed run id; :class:`NotServable` otherwise."""
    if version != BASE and (not RUN_ID_PATTERN.fullmatch(version) or ".." in version):
        raise NotServable(f"{version!r} is not a valid run id (letters, digits, '.', '_' and '-'; no '/' or '..')")
    return version


def _valid_version(version: str) -> str:
    try:
        return checked_version(version)
    except NotServable as exc:
        raise ValueError(str(exc)) from exc


Version = Annotated[str, AfterValidator(_valid_version)]


class AliasChange(BaseModel):
    """One move of the alias, kept in its history."""

    model_config = ConfigDict(frozen=True)

    action: Action
    current: str
    candidate: str | None = None
    candidate_share: float = 0.0
    trigger_id: str | None = None
    note: str = ""
    at: datetime


class Alias(BaseModel):
    """Which model versions answer users: everyone gets ``current`` except ``candidate``'s share."""

    model_config = ConfigDict(frozen=True)

    current: Version = BASE
    candidate: Version | None = None
    candidate_share: float = Field(default=0.0, ge=0.0, le=1.0)
    history: list[AliasChange] = Field(default_factory=list)

    def versions(self) -> list[str]:
        """The versions users can be routed to now."""
        return [self.current] + ([self.candidate] if self.candidate and self.candidate_share > 0 else [])

    def previous(self) -> str | None:
        """The version that was current before the present one, if any."""
        currents = [BASE] + [change.current for change in self.history]  # before any change: base
        while currents and currents[-1] == self.current:
            currents.pop()
        return currents[-1] if currents else None

    def candidate_since(self) -> datetime | None:
        """When the running rollout of ``candidate`` began (a share changed since does not restart it)."""
        if self.candidate is None:
            return None
        since = None
        for change in reversed(self.history):
            if change.candidate != self.candidate or change.candidate_share <= 0:
                break
            since = change.at
        return since

    def applied(self, trigger_id: str) -> bool:
        """Whether a promotion of this trigger was already applied (results can be redelivered)."""
        return any(change.trigger_id == trigger_id for change in self.history)

    def moved(
        self,
        action: Action,
        *,
        current: str,
        candidate: str | None = None,
        share: float = 0.0,
        trigger_id: str | None = None,
        note: str = "",
    ) -> Alias:
        """A new alias with the change appended to the history."""
        change = AliasChange(
            action=action,
            current=current,
            candidate=candidate,
            candidate_share=share,
            trigger_id=trigger_id,
            note=note,
            at=datetime.now(UTC),
        )
        return Alias(
            current=current,
            candidate=candidate,
            candidate_share=share if candidate else 0.0,
            history=[*self.history, change],
        )


class RegistryView:
    """Reads runs and adapters, reads and moves the alias, through fsspec (local path or any URL)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        try:
            self.fs, self.base = url_to_fs(self.root)
        except (ValueError, ImportError) as exc:
            raise RegistryError(f"registry location {root!r} is not usable: {exc}") from exc

    def _path(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def _json_if_present(self, *parts: str) -> dict[str, object] | None:
        path = self._path(*parts)
        if not self.fs.exists(path):
            return None
        document = json.loads(self.fs.cat_file(path))
        if not isinstance(document, dict):
            raise ValueError(f"{path} holds {type(document).__name__}, not a JSON object")
        return document

    def card(self, run_id: str) -> dict[str, object] | None:
        """The run's model card, or None when the run does not exist or never completed.

        :class:`NotServable` when the id is malformed or the card is not a JSON object (retrying
        will not fix a damaged card; an :class:`OSError` reading it might pass and propagates).
        """
        try:
            card = self._json_if_present("runs", checked_version(run_id), "model_card.json")
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError: a damaged card stays damaged
            raise NotServable(f"run {run_id!r} has an unreadable model card in {self.root}: {exc}") from exc
        return card

    def adapter_config(self, version: str) -> dict[str, object] | None:
        """The run's PEFT ``adapter_config.json`` (rank, targets), or None when it has no adapter."""
        return self._json_if_present("runs", checked_version(version), "adapter", "adapter_config.json")

    def runs(self) -> list[str]:
        """Every completed run (one with a model card) with a well-formed id, sorted by id."""
        cards = self.fs.glob(self._path("runs", "*", "model_card.json"))
        ids = (str(card).rstrip("/").split("/")[-2] for card in cards)
        return sorted(run for run in ids if RUN_ID_PATTERN.fullmatch(run) and ".." not in run)

    def check_servable(self, version: str, force: bool = False) -> None:
        """Raise :class:`NotServable` unless ``version`` is ``base`` or a completed, promoted run with an adapter.

        A card whose ``status`` is not ``promoted`` (the trainer writes ``promoted`` or ``rejected``)
        is refused unless ``force``: a person may serve a rejected run on purpose, never by a typo.
        A card without a ``status`` (not written by the trainer) is not judged. ``force`` does not
        skip the other checks: a run without a card or an adapter cannot be served at all.
        """
        if checked_version(version) == BASE:
            return
        card = self.card(version)
        if card is None:
            raise NotServable(f"run {version!r} has no model card in {self.root}: not a completed run")
        status = card.get("status", SERVABLE_STATUS)
        if status != SERVABLE_STATUS and not force:
            raise NotServable(
                f"run {version!r} has status {status!r} in its model card, not {SERVABLE_STATUS!r}: "
                "the trainer's gates did not promote it (use --force to serve it anyway)"
            )
        if not self.fs.exists(self._path("runs", version, "adapter", "adapter_config.json")):
            raise NotServable(f"run {version!r} has no adapter in {self.root}")

    def local_adapter(self, version: str, cache_dir: Path) -> Path:
        """A local folder holding the run's adapter (copied from a remote registry once)."""
        source = self._path("runs", checked_version(version), "adapter")
        if isinstance(self.fs, LocalFileSystem):
            return Path(source)
        target = cache_dir / "adapters" / version
        if not (target / "adapter_config.json").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
            self.fs.get(source + "/", str(staging), recursive=True)
            shutil.rmtree(target, ignore_errors=True)  # a copy an earlier crash left half-done
            staging.rename(target)
        return target

    def read_alias(self) -> Alias:
        """The current alias; ``base`` for everyone when none was ever written."""
        path = self._path(ALIAS_FILE)
        try:
            raw = self.fs.cat_file(path)
        except FileNotFoundError:
            return Alias()
        try:
            return Alias.model_validate_json(raw)
        except ValidationError as exc:
            raise AliasError(f"{self.root}/{ALIAS_FILE} is not a valid alias: {exc}") from exc

    def write_alias(self, alias: Alias) -> None:
        """Replace the alias as a whole (readers never see a partial file)."""
        path = self._path(ALIAS_FILE)
        data = alias.model_dump_json(indent=2).encode()
        self.fs.makedirs(self.base, exist_ok=True)
        if isinstance(self.fs, LocalFileSystem):
            staging = f"{path}.{uuid.uuid4().hex}.partial"
            self.fs.pipe_file(staging, data)
            self.fs.mv(staging, path)
        else:  # object stores put whole objects atomically
            self.fs.pipe_file(path, data)

    def promote(self, run_id: str, trigger_id: str | None = None, share: float = 0.0) -> Alias | None:
        """Make a promoted run current (or the candidate for ``share`` of users); None if already applied.

        The run's card must say ``promoted`` (there is no ``force`` here: this is the follower's path).
        """
        alias = self.read_alias()
        if trigger_id is not None and alias.applied(trigger_id):
            return None
        self.check_servable(run_id)
        if share > 0:
            moved = alias.moved("promote", current=alias.current, candidate=run_id, share=share, trigger_id=trigger_id)
        else:
            moved = alias.moved("promote", current=run_id, trigger_id=trigger_id)
        self.write_alias(moved)
        return moved

    def set_current(self, version: str, note: str = "", force: bool = False) -> Alias:
        """Make ``version`` current for everyone (clears any candidate); ``force`` serves a rejected run."""
        self.check_servable(version, force)
        moved = self.read_alias().moved("set", current=version, note=note)
        self.write_alias(moved)
        return moved

    def rollback(self, to: str | None = None, force: bool = False) -> Alias:
        """Serve ``to`` (default: the version current before this one) to everyone, clearing any candidate.

        ``force`` serves a run whose card is not ``promoted``.
        """
        alias = self.read_alias()
        target = alias.previous() if to is None else to  # an empty --to is refused, not 'previous'
        if target is None:
            raise AliasError(f"nothing to roll back to: {alias.current!r} is the first version served")
        self.check_servable(target, force)
        moved = alias.moved("rollback", current=target, note=f"from {alias.current}")
        self.write_alias(moved)
        return moved

    def rollout(self, candidate: str | None, share: float, force: bool = False, note: str = "") -> Alias:
        """Route ``share`` of users to ``candidate`` (``previous`` = the version current before); None stops it.

        ``force`` routes users to a run whose card is not ``promoted``.
        """
        alias = self.read_alias()
        if candidate is None or share == 0:
            moved = alias.moved("rollout_off", current=alias.current, note=note)
        else:
            target = alias.previous() if candidate == "previous" else candidate
            if target is None:
                raise AliasError("there is no previous version to compare with")
            self.check_servable(target, force)
            moved = alias.moved("rollout", current=alias.current, candidate=target, share=share, note=note)
        self.write_alias(moved)
        return moved
