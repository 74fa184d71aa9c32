"""The in-memory flow into the real exactly-once Iceberg sink, over pyiceberg's in-memory catalog."""

from __future__ import annotations

from pathlib import Path

from pyiceberg.catalog.memory import InMemoryCatalog

from flywheel.config import CatalogSettings, SinkSettings
from flywheel.flows.iceberg_sink import IcebergSink, TableCommitter
from flywheel.infra.catalog import committed_offsets, ensure_tables, table_identifier
from flywheel.schemas.events import Signal
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
