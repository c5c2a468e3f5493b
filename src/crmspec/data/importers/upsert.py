"""The staged rows of an import written into the shop's DuckDB file, in one transaction.

Orders are upserted by order id, so importing the same export twice, or exports that
overlap (this month's and last month's), counts nothing twice. A stored order takes what
a later export knows without forgetting what an earlier one knew: times are kept once
known (a later export fills in the payment, shipment or signature), and the status only
moves forward in an order's life (unpaid -> paid -> closed or refunded), so importing an
old export after a newer one does not turn a refunded order back into a paid one. The
order of imports therefore does not matter.

Customers are upserted by id: `registered_at` is the earliest first order seen, contact
details (phone, name, province...) come from the customer's latest order, kept in the
file as `last_order_at` (a column builds do not read). Events are appended, leaving out
rows already there.

Everything happens in one transaction on the database file: an import that fails, at
any point, leaves the file as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from crmspec.core.sql import sql_str
from crmspec.data.tables import TABLES

STATUS_RANK = "CASE {} WHEN 'unpaid' THEN 0 WHEN 'paid' THEN 1 ELSE 2 END"
TIMES = ("paid_at", "shipped_at", "signed_at")


@dataclass
class Counts:
    orders_new: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    customers_new: int = 0
    customers_updated: int = 0
    events_new: int = 0


def _columns(table: str) -> list[str]:
    return [c.name for c in TABLES[table]]


def _create(con, table: str) -> None:
    cols = [f"{c.name} {c.type}" for c in TABLES[table]]
    if table == "customers":
        cols += ["last_order_at TIMESTAMP", "PRIMARY KEY (customer_id)"]
    elif table == "orders":
        cols.append("PRIMARY KEY (order_id)")
    con.execute(f"CREATE TABLE IF NOT EXISTS shop.{table} ({', '.join(cols)})")


def _merge(con, table: str, key: str, cols: list[str], merged) -> tuple[int, int, int]:
    """Upsert staged_<table> into shop.<table> by `key`, each column's stored value being
    `merged(column)` (SQL over the staged row `s` and the stored one `o`); returns the
    rows new, changed and unchanged."""
    values = [merged(c) for c in cols]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE merged_{table} AS
        SELECT {', '.join(f'{v} AS {c}' for v, c in zip(values, cols))},
               o.{key} IS NULL AS is_new,
               o.{key} IS NOT NULL AND ({', '.join(values)})
                 IS DISTINCT FROM ({', '.join(f'o.{c}' for c in cols)}) AS is_changed
        FROM staged_{table} s LEFT JOIN shop.{table} o USING ({key})""")
    counts = con.execute(
        "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE is_changed), "
        f"count(*) FILTER (WHERE NOT is_new AND NOT is_changed) FROM merged_{table}"
    ).fetchone()
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
    con.execute(f"INSERT INTO shop.{table} SELECT {', '.join(cols)} FROM merged_{table} "
                f"WHERE is_new OR is_changed ON CONFLICT ({key}) DO UPDATE SET {updates}")
    return counts


def _orders(con) -> tuple[int, int, int]:
    newer = f"{STATUS_RANK.format('s.status')} >= {STATUS_RANK.format('o.status')}"

    def merged(c: str) -> str:
        if c in TIMES:
            return f"coalesce(s.{c}, o.{c})"
        if c in ("status", "amount"):  # the later state of the order and its amount
            return f"CASE WHEN o.order_id IS NULL OR {newer} THEN s.{c} ELSE o.{c} END"
        if c == "source":
            return "coalesce(s.source, o.source)"
        return f"s.{c}"

    return _merge(con, "orders", "order_id", _columns("orders"), merged)


def _customers(con) -> tuple[int, int]:
    # contact details of the latest order win; a customers export (no order time) is
    # the shop's current list and wins too
    later = ("o.customer_id IS NULL OR s.last_order_at IS NULL "
             "OR s.last_order_at >= o.last_order_at")

    def merged(c: str) -> str:
        if c == "customer_id":
            return "s.customer_id"
        if c == "registered_at":
            return "least(s.registered_at, o.registered_at)"
        if c == "last_order_at":
            return "greatest(s.last_order_at, o.last_order_at)"
        return f"CASE WHEN {later} THEN coalesce(s.{c}, o.{c}) ELSE coalesce(o.{c}, s.{c}) END"

    new, changed, _ = _merge(con, "customers", "customer_id",
                             _columns("customers") + ["last_order_at"], merged)
    return new, changed


def _events(con) -> int:
    cols = ", ".join(_columns("events"))
    con.execute(f"CREATE OR REPLACE TEMP TABLE new_events AS SELECT DISTINCT {cols} "
                f"FROM staged_events EXCEPT SELECT {cols} FROM shop.events")
    con.execute(f"INSERT INTO shop.events SELECT {cols} FROM new_events")
    return con.execute("SELECT count(*) FROM new_events").fetchone()[0]


def upsert(con: duckdb.DuckDBPyConnection, target: Path, tables: tuple[str, ...],
           log: dict) -> Counts:
    """Write the staged tables into the DuckDB file `target` (created if absent) in one
    transaction, with a row in its `imports` table (`log`: format, files, rows...)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"ATTACH {sql_str(str(target))} AS shop")
    counts = Counts()
    try:
        con.execute("BEGIN TRANSACTION")
        for table in ("customers", "orders") + (("events",) if "events" in tables else ()):
            _create(con, table)
        if "orders" in tables:
            counts.orders_new, counts.orders_updated, counts.orders_unchanged = _orders(con)
        if "customers" in tables:
            counts.customers_new, counts.customers_updated = _customers(con)
        if "events" in tables:
            counts.events_new = _events(con)
        con.execute("CREATE TABLE IF NOT EXISTS shop.imports (imported_at TIMESTAMP, "
                    "format VARCHAR, files VARCHAR, rows_read BIGINT, rejected BIGINT, "
                    "orders_new BIGINT, orders_updated BIGINT, customers_new BIGINT)")
        con.execute("INSERT INTO shop.imports VALUES (current_localtimestamp(), ?, ?, ?, ?, "
                    "?, ?, ?)", [log["format"], log["files"], log["rows_read"],
                                 log["rejected"], counts.orders_new, counts.orders_updated,
                                 counts.customers_new])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DETACH shop")
    return counts
