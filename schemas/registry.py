"""The model registry's shared names: the server's alias file and what a version may be called.

The trainer writes runs (``trainer/registry.py``); the model server adds the alias naming the
version that answers users (``serving/registry.py``), and the trainer reads it to measure a
candidate against the version users get.
"""

from __future__ import annotations

import re

# The version that is the base model itself, no adapter.
BASE = "base"
# ``<root>/current.json``: ``current`` (a run id or ``base``), an optional candidate, the history.
ALIAS_FILE = "current.json"
# The trainer names runs ``r<12 hex>`` (``trainer/events.py`` ``run_id_for``); hand-made runs may use
# letters, digits, ``.``, ``_`` and ``-``. One path component: no ``/``, no ``..``, no leading dot.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
