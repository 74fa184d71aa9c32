"""Simulated users: they ask the model server, read the answer, and react through the gateway.

Deterministic and configurable. Each user asks prompts from a prompt set; the answer comes from
``POST /v1/chat/completions`` (carrying ``request_id`` and ``model_version``); the reaction is an
interaction event posted to the gateway with both ids, so the flow and the impact report attribute
it to the version that produced the answer.

**The correction policy** is the user's consistent habit: a function of the answer that returns
the user's edit, or None when the answer needs none. It is pluggable (:class:`CorrectionPolicy`);
the default, :data:`HOUSE_STYLE`, deletes a chatty opening sentence ("Sure! ...", "Certainly!",
"Great question!", ...), deletes a closing pleasantry ("I hope this helps...", "Let me know if..."),
and replaces ``print(`` with ``logger.info(``.

**Reactions.** A broken answer (empty, or a word repeated three times in a row) is regenerated:
no one edits gibberish into shape. So a collapsed model shows as regenerations, not edits (its
edit rate falls too: read it beside regenerations and thumbs, as the impact table shows them). An answer that
needs a correction is edited (``edit_share``), thumbed down,
regenerated, or abandoned; one that does not is thumbed up (``thumbs_up_share``) or just read
(a ``view``). Which questions a user asks in a session comes from a hash of (seed, session, user); which
reaction they pick comes from a hash of (seed, user, prompt): the same user meeting the same prompt
reacts the same way to an equally good answer, in every revolution, so the edit rate moves only
when the answers change. No wall clock and no global random state decide.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx


class CorrectionPolicy(Protocol):
    """A user's consistent correction habit."""

    @property
    def name(self) -> str:
        """The policy's name, recorded in each event's metadata."""

    def correct(self, prompt: str, answer: str) -> str | None:
        """The user's edit of ``answer``, or None when it needs none."""


@dataclass(frozen=True)
class RegexHabit:
    """Rewrite rules (regex, replacement) applied in order; an answer they change is edited."""

    name: str
    rules: tuple[tuple[str, str], ...]

    def correct(self, prompt: str, answer: str) -> str | None:
        """Apply every rule; None when nothing changed, or nothing would be left."""
        edited = answer
        for pattern, replacement in self.rules:
            edited = re.sub(pattern, replacement, edited, flags=re.IGNORECASE | re.MULTILINE)
        # Only the ends are trimmed: indentation inside an answer is code, and a user who removes a
        # sentence does not re-indent the rest.
        edited = edited.strip()
        return edited if edited and edited != answer.strip() else None


@dataclass(frozen=True)
class FunctionHabit:
    """A habit given as a function of the answer (its edit); an answer it changes is edited."""

    name: str
    edit: Callable[[str], str]

    def correct(self, prompt: str, answer: str) -> str | None:
        """The edit, or None when it leaves the answer as it was (or leaves nothing)."""
        edited = self.edit(answer).strip()
        return edited if edited and edited != answer.strip() else None


HOUSE_STYLE = RegexHabit(
    "house-style",
    (
        (
            r"\A\s*(sure|certainly|of course|absolutely|great question|good question|happy to help)"
            r"\b[^.!?\n]*[.!?:]\s*",
            "",
        ),
        (r"\s*(i hope (this|that) helps|let me know if)[^\n]*\Z", ""),
        (r"\bprint\(", "logger.info("),
    ),
)
POLICIES: dict[str, CorrectionPolicy] = {HOUSE_STYLE.name: HOUSE_STYLE}

_TASKS = ("Explain", "Write a short Python example of", "Summarise in two sentences", "Give one tip about", "Compare")
_SUBJECTS = (
    "reading a CSV file",
    "retrying an HTTP request",
    "Kafka consumer groups",
    "git rebase",
    "unit tests",
    "list comprehensions",
    "SQL joins",
    "HTTP caching",
    "logging in Python",
    "environment variables",
    "Python dataclasses",
    "async functions",
    "JSON parsing",
    "regular expressions",
    "Docker volumes",
    "database indexes",
    "rate limiting",
    "command-line arguments",
    "type hints",
    "context managers",
)
DEFAULT_PROMPTS = tuple(f"{task} {subject}." for subject in _SUBJECTS for task in _TASKS)


@dataclass(frozen=True)
class Behaviour:
    """How users react; the shares are fixed for a whole simulation (the habit never drifts)."""

    edit_share: float = 0.8  # of answers that need a correction; the rest: thumbs-down, regenerate, abandon
    thumbs_down_share: float = 0.1
    regenerate_share: float = 0.05
    thumbs_up_share: float = 0.6  # of answers that need none; the rest are read (a view)
    regenerate_broken: bool = True  # empty or repetitive answers are regenerated, never edited


_REPEATED_WORD = re.compile(r"\b(\w+)(?:\s+\1\b){2,}", re.IGNORECASE)


def broken(answer: str) -> bool:
    """Whether an answer is empty or repeats a word three times in a row."""
    return not answer.strip() or _REPEATED_WORD.search(answer) is not None


@dataclass(frozen=True)
class Answer:
    """What the server answered one user."""

    user_id: str
    prompt: str
    text: str
    request_id: str
    model_version: str


@dataclass
class SessionReport:
    """What one session of simulated users did, by model version."""

    answers: list[Answer] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, Counter[str]] = field(default_factory=dict)

    def edit_rate(self, version: str) -> float:
        """Share of the version's answers the users edited (the simulator's own tally)."""
        counts = self.signals.get(version, Counter())
        total = sum(counts.values())
        return counts["edit"] / total if total else 0.0


def _draw(*parts: object) -> float:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class SimulatedUsers:
    """``users`` users, each asking ``prompts_per_user`` prompts of the prompt set, reacting by ``policy``."""

    prompts: Sequence[str] = DEFAULT_PROMPTS
    users: int = 20
    prompts_per_user: int = 5
    policy: CorrectionPolicy = HOUSE_STYLE
    behaviour: Behaviour = field(default_factory=Behaviour)
    seed: int = 0
    segments: tuple[str, ...] = ("free", "pro")
    max_tokens: int = 96
    concurrency: int = 8
    # A CPU answering under load can queue a question for minutes: users wait rather than fail the run.
    answer_timeout_s: float = 1800.0

    def asks(self, session: str = "") -> list[tuple[str, str]]:
        """Every (user_id, prompt) of one session, in a fixed order; each session draws new questions."""
        pairs: list[tuple[str, str]] = []
        for index in range(self.users):
            user = f"sim-user-{self.seed}-{index}"
            ranked = sorted(range(len(self.prompts)), key=lambda p: _draw(self.seed, session, user, "prompt", p))
            pairs.extend((user, self.prompts[p]) for p in ranked[: self.prompts_per_user])
        return pairs

    def react(self, answer: Answer, session: str) -> dict[str, Any]:
        """The interaction event a user sends about ``answer``."""
        draw = _draw(self.seed, answer.user_id, answer.prompt, "reaction")
        behaviour = self.behaviour
        edit = self.policy.correct(answer.prompt, answer.text)
        final_edit = None
        if behaviour.regenerate_broken and broken(answer.text):
            signal = "regenerate"
        elif edit is not None:
            if draw < behaviour.edit_share:
                signal, final_edit = "edit", edit
            elif draw < behaviour.edit_share + behaviour.thumbs_down_share:
                signal = "thumbs_down"
            elif draw < behaviour.edit_share + behaviour.thumbs_down_share + behaviour.regenerate_share:
                signal = "regenerate"
            else:
                signal = "abandon"
        else:
            signal = "thumbs_up" if draw < behaviour.thumbs_up_share else "view"
        user_index = int(answer.user_id.rsplit("-", 1)[1])
        return {
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"flywheel-sim/{session}/{answer.request_id}")),
            "signal": signal,
            "occurred_at": datetime.now(UTC).isoformat(),
            "thread_id": f"{session}-{answer.request_id}",
            "request_id": answer.request_id,
            "user_id": answer.user_id,
            "segment": self.segments[user_index % len(self.segments)],
            "model_id": "flywheel",
            "model_version": answer.model_version,
            "prompt": answer.prompt,
            "response": answer.text,
            "final_user_edit": final_edit,
            "metadata": {"simulated": True, "policy": self.policy.name, "session": session},
        }

    def ask(self, client: httpx.Client, user_id: str, prompt: str) -> Answer:
        """One question to the model server."""
        response = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": prompt}], "max_tokens": self.max_tokens, "user": user_id},
        )
        response.raise_for_status()
        body = response.json()
        return Answer(
            user_id, prompt, body["choices"][0]["message"]["content"], body["request_id"], body["model_version"]
        )

    def run(
        self,
        server_url: str,
        gateway_url: str,
        api_key: str,
        session: str,
        server_headers: dict[str, str] | None = None,
    ) -> SessionReport:
        """Ask every question (``concurrency`` at a time), then post every reaction to the gateway.

        ``server_headers``: sent with every question (the model server's API key, when it has keys).
        """
        report = SessionReport()
        with (
            httpx.Client(base_url=server_url, headers=server_headers, timeout=self.answer_timeout_s) as server,
            ThreadPoolExecutor(self.concurrency) as pool,
        ):
            report.answers = list(pool.map(lambda ask: self.ask(server, *ask), self.asks(session)))
        report.events = [self.react(answer, session) for answer in report.answers]
        for event in report.events:
            report.signals.setdefault(event["model_version"], Counter())[event["signal"]] += 1
        with httpx.Client(base_url=gateway_url, headers={"X-API-Key": api_key}, timeout=60) as gateway:
            for start in range(0, len(report.events), 200):
                gateway.post("/v1/events", json={"events": report.events[start : start + 200]}).raise_for_status()
        return report
