"""`crmspec import csv`: any other delimited export, described in shop.yaml `import`.

The description has the keys of shop.yaml `data` (docs/data.md): the file format
(`import.csv`: encoding, delimiter including `whitespace`, header), the column mapping,
value maps, date/time formats, constants and derived columns (checked by
`crmspec.safesql`). The files are read as the table `--table` names (orders by default)
through the same mapping a build applies to a csv source (`crmspec.data.mapping`), so a
description means the same in both. Imported orders bring their customers as a build
derives them from orders (`crmspec.data.sources.derived_customers`).
"""

from __future__ import annotations

from pathlib import Path

from crmspec.core.sql import sql_ident
from crmspec.data.delimited import LINE
from crmspec.data.importers.staging import FILE, FILE_NO, Staged, read_exports, rejected_rows
from crmspec.data.mapping import canonical_selects
from crmspec.data.settings import DataSource
from crmspec.data.sources import derived_customers
from crmspec.data.tables import ORDER_STATUSES, TABLES

# Why a row cannot be imported, per table: (condition on the canonical row, reason).
REQUIRED = {
    "orders": (("order_id IS NULL", "'no order id'"),
               ("customer_id IS NULL", "'order ' || order_id || ': no customer id'"),
               ("created_at IS NULL", "'order ' || order_id || ': no creation time'"),
               ("amount IS NULL", "'order ' || order_id || ': no readable amount'"),
               ("amount < 0", "'order ' || order_id || ': negative amount'"),
               ("status IS NULL OR status NOT IN ("
                + ", ".join(f"'{s}'" for s in ORDER_STATUSES) + ")",
                "'order ' || order_id || ': status ''' || coalesce(status, '') || ''' is not "
                + "/".join(ORDER_STATUSES) + " (map it in import.values.orders.status)'")),
    "customers": (("customer_id IS NULL", "'no customer id'"),),
    "events": (("customer_id IS NULL", "'no customer id'"),
               ("event_type IS NULL", "'no event type'"),
               ("event_at IS NULL", "'no event time'")),
}
KEYS = {"orders": "order_id", "customers": "customer_id"}


def stage(con, files: list[tuple[Path, str]], source: DataSource, table: str = "orders"
          ) -> Staged:
    """The files as rows of the canonical `table`, mapped as shop.yaml `import` says."""
    _, rows_read, rejected = read_exports(con, files, source.csv)
    selects, problems = canonical_selects(con, table, TABLES[table], "export_rows",
                                          source.mapping(table), source.src, {}, "import")
    body = ", ".join(f"{sql} AS {name}" for name, sql in selects.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE mapped AS SELECT {FILE}, {FILE_NO}, {LINE}, "
                f"{body} FROM export_rows AS src")
    checks = REQUIRED[table]
    rejected += rejected_rows(con, "CASE " + " ".join(
        f"WHEN {cond} THEN {why}" for cond, why in checks) + " END", "mapped")
    ok = " AND ".join(f"NOT coalesce({cond}, false)" for cond, _ in checks)
    key = KEYS.get(table)
    latest = (f" QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {FILE_NO} DESC, "
              f"{LINE} DESC) = 1" if key else "")
    cols = ", ".join(c.name for c in TABLES[table])
    staged = f"staged_{table}"
    last = ", CAST(NULL AS TIMESTAMP) AS last_order_at" if table == "customers" else ""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {sql_ident(staged)} AS SELECT {cols}{last} "
                f"FROM mapped WHERE {ok}{latest}")
    tables: tuple[str, ...] = (table,)
    notes = [f"{p.count} {p.message}" + (f" (e.g. {', '.join(p.examples)})" if p.examples
                                          else "") for p in problems]
    if table == "orders":
        relation, _ = derived_customers(con, source, "export_rows", selects)
        customers, _ = canonical_selects(con, "customers", TABLES["customers"], relation,
                                         source.mapping("customers"), source.src, {},
                                         "import")
        first = selects["created_at"]
        con.execute(f"""CREATE OR REPLACE TEMP TABLE staged_customers AS
            SELECT {', '.join(f'{sql} AS {name}' for name, sql in customers.items())},
              last_order_at FROM {relation} AS src
            JOIN (SELECT {selects['customer_id']} AS id, max({first}) AS last_order_at
                  FROM export_rows AS src GROUP BY 1) AS l
              ON l.id = {customers['customer_id']}
            WHERE {customers['customer_id']} IN (SELECT customer_id FROM staged_orders)""")
        tables = ("orders", "customers")
    return Staged(rows_read, tables, rejected, notes)
