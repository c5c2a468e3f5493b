"""The do-not-contact list: customers (on one channel or all) that no activity may
contact, whatever the plan says."""

from __future__ import annotations

from pathlib import Path

import duckdb

from crmspec.core.diagnostics import PlanError
from crmspec.core.sql import sql_ident, sql_str
from crmspec.data.settings import DataSource
from crmspec.data.sources import SUFFIX, shop_id_type


def attach_suppressions(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path) -> int:
    """`suppressions` (customer_id, channel, reason): the do-not-contact list.

    Optional: a `suppressions` table in the DuckDB file or a suppressions.parquet/.csv in
    the data folder (data.tables.suppressions names another). A row with an empty channel
    suppresses the customer on every channel. Absent: an empty list. Its ids are of the
    shop's id type (`shop_id_type`): a list of text ids for an integer-id shop keeps the
    ids that read as integers (the others name no customer of the shop).
    """
    ids = shop_id_type(con)
    name = ds.tables.get("suppressions")
    relation = None
    if ds.source == "duckdb":
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'shopdata'"
        ).fetchall()}
        if (name or "suppressions") in tables:
            relation = f"shopdata.main.{sql_ident(name or 'suppressions')}"
    else:
        file = (root / ds.path).resolve() / (name or f"suppressions{SUFFIX[ds.source]}")
        if file.exists():
            relation = (f"read_csv({sql_str(str(file))}, header = true, auto_detect = true, "
                        "all_varchar = true)" if ds.source == "csv"
                        else f"read_parquet({sql_str(str(file))})")
    if relation is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE suppressions (customer_id {ids}, "
                    "channel VARCHAR, reason VARCHAR)")
        return 0
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
    if "customer_id" not in present:
        raise PlanError([ds.src.diag(
            "E403", "column 'customer_id' not found in the suppressions data",
            "a suppressions list has customer_id and optionally channel and reason")])
    channel = "NULLIF(TRIM(CAST(channel AS VARCHAR)), '')" if "channel" in present else "NULL"
    reason = "CAST(reason AS VARCHAR)" if "reason" in present else "NULL"
    con.execute(f"CREATE OR REPLACE TEMP TABLE suppressions AS SELECT DISTINCT * FROM ("
                f"SELECT TRY_CAST(CAST(customer_id AS VARCHAR) AS {ids}) AS customer_id, "
                f"{channel} AS channel, {reason} AS reason FROM {relation}) "
                "WHERE customer_id IS NOT NULL")
    return con.execute("SELECT count(*) FROM suppressions").fetchone()[0]
