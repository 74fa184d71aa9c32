"""The sink's Arrow frame, built column by column, equals the row-by-row build it replaced."""

from __future__ import annotations

import pyarrow as pa

from flywheel.flows.sink_state import arrow_frame
from flywheel.schemas.records import SourceCoordinates, TableRow
from flywheel.schemas.tables import DPO_PAIRS, contracts
from tests.support.synthetic import pair_rows

LINEAGE = ("source_topic", "source_partition", "source_offset")


def _row_by_row(rows: list[TableRow], schema: pa.Schema) -> pa.Table:
    """The previous build: one dict per row, lineage from the coordinates."""
    dicts = [
        {
            **row.values,
            "source_topic": row.coordinates.topic,
            "source_partition": row.coordinates.partition,
            "source_offset": row.coordinates.offset,
        }
        for row in rows
    ]
    return pa.Table.from_pylist(dicts, schema=schema)


def test_frame_equals_the_row_by_row_build() -> None:
    schema = contracts()[DPO_PAIRS].schema.as_arrow()
    rows = []
    for index, values in enumerate(pair_rows(7).to_pylist()):
        kept = {key: value for key, value in values.items() if key not in LINEAGE}
        if index == 2:
            kept.pop("similarity")  # a value the row lacks: null in both builds
        if index == 3:
            kept["not_a_column"] = "ignored"  # a value the schema lacks: left out by both
        rows.append(TableRow(DPO_PAIRS, SourceCoordinates(f"topic-{index % 2}", index % 3, 100 + index, 0), kept))
    frame = arrow_frame(rows, schema)
    assert frame.equals(_row_by_row(rows, schema))
    assert frame.column("similarity")[2].as_py() is None
    assert frame.column("source_offset").to_pylist() == [100 + index for index in range(7)]
    assert frame.column("source_topic").to_pylist()[:2] == ["topic-0", "topic-1"]


def test_frame_of_no_rows_has_the_schema() -> None:
    schema = contracts()[DPO_PAIRS].schema.as_arrow()
    assert arrow_frame([], schema).schema.equals(schema)
    assert arrow_frame([], schema).num_rows == 0
