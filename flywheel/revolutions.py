"""``make run``: turn the whole wheel several times on the embedded stack, and measure each turn.

Revolution 0 serves the base model; simulated users ask, read and react through the gateway; the
flow curates; the threshold triggers; DPO trains; the gates decide; on a promotion the server
follows the results topic (alias moved, adapter loaded, routes swapped without a restart) and the
next revolution's users meet the new version. The last revolution only measures. In revolution 0 a
reviewer also answers one thumbs-down in the review app (``flywheel/review_demo.py``); after each
training run the demo checks the run's tagged snapshot for the trusted pair, until one holds it. Every figure is
printed and written to ``<directory>/report.json``; edit rates come from the Iceberg tables by
``model_version`` (``flywheel impact``), never from the simulator's own tally.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from flywheel.config import revised
from flywheel.console import quiet_model_libraries
from flywheel.errors import ServingError
from flywheel.flows.runner import run_until_drained
from flywheel.infra.broker import ensure_topics, free_port, start_broker
from flywheel.liked import liked_events
from flywheel.review_demo import REVIEW_KEY_ID, ReviewedPair, Writer, review_in_wheel, sample_correction, trained_line
from flywheel.sample import coding_events, coding_prompts, coding_task_prompts, keep_code_only, produce, sample_events
from flywheel.serving.app import create_app
from flywheel.serving.config import ServingConfig
from flywheel.serving.impact import Reaction, VersionImpact, read_impact, read_reactions
from flywheel.settings import Settings, local_settings
from flywheel.simulation import CorrectionPolicy, FunctionHabit, SimulatedUsers
from flywheel.trainer.verdict import detail_lines
from flywheel.wheel_figures import Revolution, arm_of, version_arms

KEEP_CODE_ONLY = FunctionHabit("keep-code-only", keep_code_only)


@dataclass
class WheelOptions:
    """What the multi-revolution demo does; the defaults are sized for a laptop.

    The live users ask the coding assistant's questions and keep only the code of an answer
    (:data:`KEEP_CODE_ONLY`), the habit of the ``history`` stream replayed before revolution 0:
    the traffic the assistant logged before the wheel started (``flywheel demo --revolutions 0``'s
    sample and coding streams). Without it, the first trigger would wait for hundreds of live
    answers, which cost seconds each on a CPU. The live users ask the other half of the coding
    tasks (``coding_prompts("live")``): no question they ask, nor its code, is in the history.
    """

    revolutions: int = 2
    directory: Path = Path(".flywheel/demo")
    users: int = 16
    prompts_per_user: int = 3
    threshold: int = 150
    max_new_tokens: int = 96
    # Questions in flight at once, and the server's batch: on 2 CPU cores a batch of 16 answers
    # about 1.5x as many tokens per second as two batches of 8.
    concurrency: int = 16
    policy: CorrectionPolicy = KEEP_CODE_ONLY
    prompts: tuple[str, ...] | None = None
    # Each revolution asks questions no earlier one asked (the coding set: of tasks none asked), so
    # a run is measured on questions it never trained on, not on the edits it learnt from.
    fresh_questions: bool = True
    # A promoted run answers this share of the users (a hash of user_id), the version before it the
    # others, side by side on the same questions: the impact table compares them concurrently.
    rollout_share: float = 0.5
    seed: int = 0
    # Events of logged history (general sample, coding assistant) produced before revolution 0.
    history_events: int = 600
    history_coding_events: int = 600
    # Questions about ideas whose prose answers users thumbed up as they were (flywheel/liked.py):
    # the only positives no pair holds, so the forgetting guard has evidence. At 0.6 thumbs up,
    # 200 events give about 120 positives beside the general stream's ~110 and the live ones.
    history_liked_events: int = 200
    # Trainer overrides (e.g. a tiny model and its hyper-parameters in the tests). The defaults are
    # the single-turn demo's budget: 16 optimizer steps at a higher learning rate, short sequences;
    # the loss, LoRA, beta, the split and every gate are the trainer's defaults.
    trainer: dict[str, Any] = field(
        default_factory=lambda: {
            "max_steps": 16,
            "learning_rate": 2e-4,
            "max_length": 160,
            "max_prompt_length": 96,
            "max_positives": 48,
            "eval_max_new_tokens": 64,
            "eval_batch_size": 16,
            # The held-out share of the pairs: its independent groups are what the intervals count
            # (min_eval_groups 20). At the default 0.2 this demo's few hundred pairs held out 18.
            "eval_fraction": 0.3,
        }
    )
    # A loadable base model reference for the server; None resolves the trainer's base model.
    base_reference: str | None = None


@dataclass
class WheelReview:
    """The review step: the review app's gateway key, and the reviewer pair once made (revolution 0)."""

    key: str
    pair: ReviewedPair | None = None
    attempted: bool = False  # the review step ran (on the logged history, or in revolution 0)


def wheel_settings(bootstrap: str, options: WheelOptions) -> Settings:
    """The embedded stack under the demo directory, curating every reaction the simulated users make."""
    root = options.directory
    return local_settings(
        bootstrap,
        root,
        trainer={"threshold": options.threshold, "registry_url": str((root / "registry").resolve()), **options.trainer},
        # Every positive is stored (rate 1) so impact counts are exact; one user may make many edits;
        # the band's ceiling is 0.99 (the default 1.0 has none): a near-identical edit is trivial.
        curation={
            "sampling": {"default_rate": 1.0},
            "quota": {"per_user_per_day": None},
            "distance": {"max_similarity": 0.99},
        },
        serving={
            "watch_interval_s": 0.2,
            "max_new_tokens": options.max_new_tokens,
            "max_batch_size": options.concurrency,
            "rollout": {"promotion_share": options.rollout_share},
        },
    )


def wheel_users(options: WheelOptions, prompts: tuple[str, ...] | None = None) -> SimulatedUsers:
    """The live simulated users: by default they ask the coding tasks the logged history never asked."""
    prompts = prompts or options.prompts or tuple(dict.fromkeys(prompt for prompt, _ in coding_prompts("live")))
    return SimulatedUsers(
        prompts=prompts,
        users=options.users,
        prompts_per_user=options.prompts_per_user,
        policy=options.policy,
        seed=options.seed,
        max_tokens=options.max_new_tokens,
        concurrency=options.concurrency,
    )


def revolution_prompts(options: WheelOptions) -> list[tuple[str, ...]]:
    """The questions each revolution asks: all of them in each, or (``fresh_questions``) a set of its own.

    Revolution 0 gets half (its edits train the first run); each later revolution an equal share
    of the rest. The coding set is cut by task, every phrasing of a task in one revolution: a
    rewording of a question a run trained on is no new question.
    """
    if options.prompts is not None:
        groups: list[tuple[str, ...]] = [(prompt,) for prompt in options.prompts]
    else:
        groups = coding_task_prompts("live")
    every = tuple(prompt for group in groups for prompt in group)
    if not options.fresh_questions or options.revolutions == 0:
        return [every] * (options.revolutions + 1)
    half = (len(groups) + 1) // 2
    share = (len(groups) - half) // options.revolutions
    if share == 0:
        raise ValueError(
            f"{len(groups)} questions (or tasks) cannot give {options.revolutions + 1} revolutions their own"
        )
    later = [groups[half + i * share : half + (i + 1) * share] for i in range(options.revolutions)]
    return [tuple(p for group in part for p in group) for part in (groups[:half], *later)]


@contextlib.contextmanager
def serving_in_thread(config: ServingConfig) -> Iterator[str]:
    """Run the model server (uvicorn) in a thread of this process on a free port; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="model-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 600
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServingError("the model server did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _wait_for_version(server_url: str, run_id: str, headers: dict[str, str], timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        routes = httpx.get(f"{server_url}/v1/flywheel/routes", headers=headers, timeout=10).json()
        if run_id in (routes["current"], routes.get("candidate")):  # everyone's, or a rollout's arm
            return
        time.sleep(0.2)
    raise ServingError(f"serving did not switch to promoted run {run_id} within {timeout_s:.0f}s")


def _pairs_of(settings: Settings, events: set[str]) -> int:
    """DPO pairs curated from this revolution's events."""
    from flywheel.infra.catalog import open_catalog, table_identifier

    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, "dpo_pairs"))
    stored = table.scan(selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist()
    return sum(1 for event_id in stored if event_id in events)


def _replay_history(
    console: Console, settings: Settings, options: WheelOptions, gateway: str, review: WheelReview
) -> None:
    """Produce the traffic logged before the wheel started; a reviewer answers one of its thumbs-downs.

    The general stream goes first and is curated, then the reviewer's correction, then the coding
    stream: the tracker cuts a trigger at the first snapshot that crosses the threshold, so the
    reviewer pair is committed before the history can cross it and is in the first run's data.
    """
    started = time.monotonic()
    general = produce(settings.kafka, settings.topics.interactions, sample_events(options.history_events))
    if general:
        run_until_drained(settings.flow_config())
        review.pair = review_in_wheel(console, settings, gateway, review.key, sample_correction)
        review.attempted = True
    coding = produce(settings.kafka, settings.topics.interactions, coding_events(options.history_coding_events))
    liked = produce(settings.kafka, settings.topics.interactions, liked_events(options.history_liked_events))
    if general or coding or liked:
        console.print(
            f"history: {general + coding + liked} logged events replayed into the topic before revolution 0"
            f" ({liked} of them reactions to answers about ideas, liked as they were)"
            f"  ({time.monotonic() - started:.0f}s, the review step included)"
        )


def run_revolutions(console: Console, options: WheelOptions) -> list[Revolution]:
    """Turn the wheel ``options.revolutions`` times (plus a last measurement); print and write the report."""
    from flywheel.gateway_process import running_gateway
    from flywheel.trainer.loop import turn_once
    from flywheel.trainer.models import resolve_base_model

    quiet_model_libraries()
    started = time.monotonic()
    shutil.rmtree(options.directory, ignore_errors=True)  # the broker is in memory: start from nothing
    options.directory.mkdir(parents=True)
    broker = start_broker(log_file=options.directory / "broker.log")
    revolutions: list[Revolution] = []
    try:
        settings = wheel_settings(broker.bootstrap_servers, options)
        ensure_topics(settings.kafka, settings.topics)
        reference = options.base_reference or resolve_base_model(settings.trainer)
        config = revised(settings.serving_config(), base_model=reference)
        questions = revolution_prompts(options)
        key, review = secrets.token_urlsafe(16), WheelReview(secrets.token_urlsafe(16))
        console.print(f"broker {broker.bootstrap_servers}; base model {reference}; registry {config.registry_url}")
        gateway_log = options.directory / "gateway.log"
        with (
            running_gateway(settings, {"wheel": key, REVIEW_KEY_ID: review.key}, log_file=gateway_log) as gateway,
            serving_in_thread(config) as server,
        ):
            _replay_history(console, settings, options, gateway, review)
            for number in range(options.revolutions + 1):
                users = wheel_users(options, questions[number])
                revolutions.append(
                    _revolution(console, settings, users, number, options, server, gateway, key, turn_once, review)
                )
        figures = read_impact(settings.catalog, config.registry_url, settings.serving.impact_planned_reactions)
    finally:
        broker.stop()
    _print_impact(console, figures)
    report = options.directory / "report.json"
    payload = {
        "revolutions": [asdict(r) for r in revolutions],
        "impact": [asdict(v) for v in figures],
        "review": asdict(review.pair) if review.pair else None,
    }
    report.write_text(json.dumps(payload, indent=2, default=str))
    console.print(f"report: {report}; the wheel took {time.monotonic() - started:.0f}s")
    return revolutions


def _revolution(
    console: Console,
    settings: Settings,
    users: SimulatedUsers,
    number: int,
    options: WheelOptions,
    server: str,
    gateway: str,
    key: str,
    turn_once: Any,
    review: WheelReview | None = None,
) -> Revolution:
    """Users react to the current version, the flow curates, and (but for the last turn) the trainer turns."""
    started = time.monotonic()
    # Progress while the slow parts run (on a CPU, minutes each): answers, then training.
    console.print(f"revolution {number}: {users.users * users.prompts_per_user} questions to the model server ...")
    session = users.run(server, gateway, key, f"rev{number}", settings.serving.client_headers())
    versions = {answer.model_version for answer in session.answers}
    version = versions.pop() if len(versions) == 1 else "mixed"
    run_until_drained(settings.flow_config())
    if review is not None and number == 0 and not review.attempted:  # no history: a live thumbs-down
        review.pair = review_in_wheel(console, settings, gateway, review.key, _reviewer_writes(options.policy))
    # This revolution's figures: its own events as the tables hold them (a version served in two
    # revolutions is measured in each separately; the impact table at the end pools them).
    sent = {event["event_id"] for event in session.events}
    # Pooled over every version that answered this revolution (one, unless a rollout split it):
    # each event once, as the impact table counts it.
    mine: dict[str, Reaction] = {}
    for reaction in read_reactions(settings.catalog):
        if reaction.event_id in sent:
            mine.setdefault(reaction.event_id, reaction)
    pooled = arm_of(version, len(session.answers), list(mine.values()))
    arms = version_arms(session.answers, list(mine.values()))
    decision, run_id, reasons, snapshot_tag = "measured only (last revolution)", None, [], None
    evidence: list[str] = []
    training: dict[str, Any] | None = None
    if number < options.revolutions:
        console.print(f"revolution {number}: curated; checking the training threshold (training may take minutes) ...")
        turn = turn_once(settings.trainer_config())
        if not turn.results:
            decision = f"no trigger ({turn.pairs_since_trigger}/{turn.threshold} pairs)"
        else:
            result = turn.results[-1]
            run_id, reasons, snapshot_tag = result.run_id, list(result.reasons), result.snapshot_tag
            evidence, training = detail_lines(result), result.model_dump(mode="json")
            decision = f"{result.status} {result.run_id}"
            if result.status == "promoted":
                _wait_for_version(server, result.run_id, settings.serving.client_headers())
                decision += " -> serving switched"
            else:
                decision += " -> serving keeps " + version
    record = Revolution(
        revolution=number,
        model_version=version,
        answers=pooled.answers,
        interactions=pooled.interactions,
        edit_rate=pooled.edit_rate,
        edit_rate_low=pooled.edit_rate_low,
        edit_rate_high=pooled.edit_rate_high,
        pairs=_pairs_of(settings, sent),
        decision=decision,
        run_id=run_id,
        reasons=reasons,
        duration_s=round(time.monotonic() - started, 1),
        training=training,
        arms=arms,
    )
    console.print(record.line())
    # The run's evidence in words: closer share, guards, samples, the decision and every reason.
    for line in evidence or [f"  reason: {reason}" for reason in reasons]:
        console.print(line, markup=False, highlight=False)
    pair = review.pair if review is not None else None
    if pair is not None and pair.trained_by is None and number < options.revolutions:
        console.print("  " + trained_line(settings, pair, run_id, snapshot_tag), markup=False, highlight=False)
    return record


def _reviewer_writes(policy: CorrectionPolicy) -> Writer:
    """The demo reviewer writes what the users' own habit says the answer should have been."""
    return lambda item: policy.correct(item.prompt, item.response)


def _print_impact(console: Console, figures: list[VersionImpact]) -> None:
    from flywheel.impact_report import impact_report

    console.rule("[bold]impact by model version (Iceberg tables)")
    console.print(impact_report(console, figures))
