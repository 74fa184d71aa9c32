"""The Iceberg catalog: open it from settings and create the namespace and tables idempotently."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from urllib.parse import urlparse

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.table import Table

from flywheel.config import CatalogSettings
from flywheel.schemas.tables import TableContract, contracts

log = logging.getLogger(__name__)

# The sink retries commits itself after re-reading the committed offsets; pyiceberg's own
# retry would re-apply a snapshot whose offsets were computed before the conflict.
NO_AUTOMATIC_RETRY = {"commit.retry.num-retries": "0"}
TABLE_PROPERTIES = {
    **NO_AUTOMATIC_RETRY,
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
}


def open_catalog(settings: CatalogSettings) -> Catalog:
    """Open the configured catalog (SQLite SqlCatalog by default, REST or SQL by config).

    A local SQLite file and a local warehouse folder are created here, on first use,
    never when settings are built.
    """
    properties = settings.catalog_properties()
    uri, warehouse = properties.get("uri", ""), properties.get("warehouse", "")
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if warehouse.startswith("file://"):
        Path(urlparse(warehouse).path).mkdir(parents=True, exist_ok=True)
    return load_catalog(settings.name, **properties)


def table_identifier(settings: CatalogSettings, name: str) -> str:
    """``namespace.table`` for a table name."""
    return f"{settings.namespace}.{name}"


def ensure_tables(catalog: Catalog, settings: CatalogSettings) -> dict[str, Table]:
    """Create the namespace and every table if missing; returns the tables by name."""
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(settings.namespace)
    return {name: _ensure_table(catalog, settings, contract) for name, contract in contracts().items()}


def _ensure_table(catalog: Catalog, settings: CatalogSettings, contract: TableContract) -> Table:
    identifier = table_identifier(settings, contract.name)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            table = catalog.create_table(
                identifier,
                schema=contract.schema,
                partition_spec=contract.partition_spec,
                properties=TABLE_PROPERTIES,
            )
            log.info("created table", extra={"table": identifier})
        except TableAlreadyExistsError:
            table = catalog.load_table(identifier)
    if table.properties.get("commit.retry.num-retries") != "0":
        with table.transaction() as transaction:
            transaction.set_properties(NO_AUTOMATIC_RETRY)
        table = catalog.load_table(identifier)
    return table


def load_tables(catalog: Catalog, settings: CatalogSettings) -> dict[str, Table]:
    """Load every flywheel table by name; raises NoSuchTableError with the identifier if missing."""
    return {name: catalog.load_table(table_identifier(settings, name)) for name in contracts()}
