"""Checks shared by the PII audits' tests: the product scan and the reference scan decide alike."""

from __future__ import annotations

from flywheel.benchmarks.pii_reference import reference_scan
from flywheel.operators.pii import scan


def assert_masked(text: str, scrubbed: str, kind: str) -> None:
    """``text`` scrubs to ``scrubbed``, every mask of ``kind``, by both scans."""
    found = scan(text)
    assert found == (scrubbed, {kind: scrubbed.count("[")}), text
    assert reference_scan(text) == found, text


def assert_clean(text: str) -> None:
    """Neither scan finds anything in ``text``."""
    assert scan(text) == (text, {}), text
    assert reference_scan(text) == (text, {}), text
