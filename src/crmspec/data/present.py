"""Which canonical tables a shop's data has, and where its files are, without reading them.

Apart from `crmspec.data.sources` (which attaches the data to DuckDB) because `crmspec
validate` asks this of every plan that reads intent events (`check_events_present`), and
importing `sources` loads DuckDB and sqlglot (about 0.1 s): here DuckDB is imported only
to look inside a shop whose data is a DuckDB file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crmspec.core.sql import sql_str
from crmspec.data.tables import TABLES

if TYPE_CHECKING:
    import duckdb

    from crmspec.data.settings import DataSource

SUFFIX = {"parquet": ".parquet", "csv": ".csv", "demo": ".parquet"}


def table_file(ds: DataSource, root: Path, table: str) -> Path:
    """The file of a canonical table in a file source (parquet, csv, demo)."""
    return (root / ds.path).resolve() / (ds.tables.get(table) or f"{table}{SUFFIX[ds.source]}")


def duckdb_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?",
        [catalog]).fetchall()}


def data_tables(ds: DataSource, root: Path) -> set[str] | None:
    """The canonical tables the shop's data has, without reading them; None when the data
    is not there to look at (a fresh clone: exports are not committed)."""
    if ds.source == "demo":
        return set(TABLES)
    if ds.source == "duckdb":
        db = (root / ds.path).resolve()
        if not db.is_file():
            return None
        import duckdb  # only a DuckDB file source needs it (see the module's docstring)

        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {sql_str(str(db))} AS shopdata (READ_ONLY)")
            names = duckdb_tables(con, "shopdata")
        except duckdb.Error:
            return None  # not a database: the build says so
        finally:
            con.close()
        return {t for t in TABLES if (ds.tables.get(t) or t) in names}
    if not (root / ds.path).is_dir():
        return None
    return {t for t in TABLES if table_file(ds, root, t).exists()}
