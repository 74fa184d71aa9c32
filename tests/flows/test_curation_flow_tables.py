"""The in-memory flow into the real exactly-once Iceberg sink, over pyiceberg's in-memory catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pyiceberg.catalog.memory import InMemoryCatalog
from pyiceberg.table import Table

from flywheel.config import CatalogSettings, SinkSettings
from flywheel.flows.iceberg_sink import IcebergSink, TableCommitter
from flywheel.infra.catalog import committed_offsets, ensure_tables, table_identifier
from flywheel.operators.rows import feedback_row
from flywheel.schemas.events import Signal
from flywheel.schemas.records import SourceCoordinates, SourcedEvent, SourceProgress, TableRow
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS, contracts
from tests.support.curation_events import make_event
from tests.support.curation_flow import TOPIC, run_curation

ANSWER = "To rotate a key, open the console, choose credentials, and press rotate."
GOOD_EDIT = "To rotate a key, open the admin console, choose credentials, rotate, then revoke the old key."


def test_rows_land_in_their_tables_with_offsets_in_every_snapshot(tmp_path: Path) -> None:
    catalog = InMemoryCatalog("flow", warehouse=f"file://{tmp_path}")
    settings = CatalogSettings()
    ensure_tables(catalog, settings)
    committers: list[TableCommitter] = []
    sink = IcebergSink(
        lambda name: catalog.load_table(table_identifier(settings, name)),
        contracts(),
        settings.branch,
        SinkSettings(),
        on_build=committers.append,
    )
    events = [
        make_event(Signal.EDIT, event_id="pair", response=ANSWER, final_user_edit=GOOD_EDIT),
        make_event(Signal.EDIT, event_id="rewrite", response=ANSWER, final_user_edit="No.", thread_id="t-2"),
        make_event(Signal.THUMBS_DOWN, event_id="down", thread_id="t-3"),
    ]

    run_curation(events, tables=sink)

    stored = {
        name: sorted(catalog.load_table(table_identifier(settings, name)).scan().to_arrow()["event_id"].to_pylist())
        for name in contracts()
    }
    assert stored == {DPO_PAIRS: ["pair"], REJECTIONS: ["rewrite"], FEEDBACK_SIGNALS: ["down"], POSITIVE_EXAMPLES: []}
    for name in contracts():
        # Every table, the empty one too, records how far the flow read.
        assert committed_offsets(catalog.load_table(table_identifier(settings, name))) == {(TOPIC, 0): 2}
    assert sum(report.rows for committer in committers for report in committer.reports) == 3


def test_building_a_committer_reads_nothing(tmp_path: Path) -> None:
    """Only ``TableCommitter.open`` and ``DecisionLedger.load`` reach the catalog; the constructors do not."""
    from flywheel.flows.ledger import DecisionLedger

    catalog = InMemoryCatalog("flow", warehouse=f"file://{tmp_path}")
    settings = CatalogSettings()
    ensure_tables(catalog, settings)
    table = catalog.load_table(table_identifier(settings, DPO_PAIRS))
    loads: list[str] = []

    def load_table(name: str):  # type: ignore[no-untyped-def]
        loads.append(name)
        return catalog.load_table(table_identifier(settings, name))

    contract = contracts()[DPO_PAIRS]
    names = list(contracts())
    ledger = DecisionLedger(load_table, names, settings.branch)
    TableCommitter(load_table, contract, table, ledger, settings.branch, SinkSettings())
    assert loads == []
    TableCommitter.open(load_table, contract, names, settings.branch, SinkSettings())
    assert sorted(loads) == sorted([contract.name, *names])


def test_main_keeps_committing_while_a_replay_commits_to_its_branch(tmp_path: Path) -> None:
    # Each committer keeps the table's metadata between commits; a replay's commits to its branch
    # move the table's sequence number past main's copy, which pyiceberg refuses as a ValueError
    # (not a CommitFailedException): before, the flow stopped with "cannot be retried".
    catalog = InMemoryCatalog("flow", warehouse=f"file://{tmp_path}")
    settings = CatalogSettings()
    ensure_tables(catalog, settings)

    def load_table(name: str) -> Table:
        return catalog.load_table(table_identifier(settings, name))

    def committer(branch: str) -> TableCommitter:
        return TableCommitter.open(load_table, contracts()[FEEDBACK_SIGNALS], list(contracts()), branch, SinkSettings())

    def rows(offsets: range) -> list[TableRow | SourceProgress]:
        """The rows of ``offsets`` and the progress marker that lets them commit."""
        made: list[TableRow | SourceProgress] = [
            feedback_row(
                SourcedEvent(SourceCoordinates(TOPIC, 0, offset, 0), make_event(Signal.COPY, event_id=f"e{offset}")),
                None,
                datetime.now(UTC),
            )
            for offset in offsets
        ]
        return [*made, SourceProgress(TOPIC, 0, offsets[-1])]

    main, replay = committer("main"), committer("replay-1")
    main.add(rows(range(0, 2)))
    main.commit()
    for offsets in (range(0, 1), range(1, 2)):
        replay.add(rows(offsets))
        replay.commit()
    main.add(rows(range(2, 4)))
    main.commit()

    assert not main.failed and [report.rows for report in main.reports] == [2, 2]
    table = load_table(FEEDBACK_SIGNALS)
    assert sorted(table.scan().to_arrow()["event_id"].to_pylist()) == ["e0", "e1", "e2", "e3"]
    assert committed_offsets(table) == {(TOPIC, 0): 3} and committed_offsets(table, "replay-1") == {(TOPIC, 0): 1}
