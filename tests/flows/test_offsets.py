"""Offset ledger encoding and start-position parsing."""

from __future__ import annotations

import pytest

from flywheel.errors import ConfigError
from flywheel.flows.positions import parse_offsets
from flywheel.infra.catalog import decode_offsets, encode_offsets, merge_offsets


def test_offsets_round_trip_through_the_snapshot_summary_text() -> None:
    offsets = {("interactions", 0): 41, ("interactions", 2): 7, ("other", 1): 0}
    assert decode_offsets(encode_offsets(offsets)) == offsets


def test_merge_takes_the_per_partition_maximum() -> None:
    assert merge_offsets({("t", 0): 5, ("t", 1): 9}, {("t", 0): 7}, {("t", 2): 1}) == {
        ("t", 0): 7,
        ("t", 1): 9,
        ("t", 2): 1,
    }


def test_parse_offsets_per_partition_and_for_all() -> None:
    assert parse_offsets("0:120,2:98", [0, 1, 2]) == {0: 120, 1: 0, 2: 98}
    assert parse_offsets("15", [0, 1]) == {0: 15, 1: 15}


@pytest.mark.parametrize("spec", ["0-120", "9:1", "0:-1", "a:b"])
def test_parse_offsets_rejects_bad_specs_clearly(spec: str) -> None:
    # A ConfigError: the CLI prints it as one line and exits 2.
    with pytest.raises(ConfigError, match=r"offset|partition"):
        parse_offsets(spec, [0, 1, 2])
