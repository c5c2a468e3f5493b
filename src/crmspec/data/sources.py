"""Attach a shop's data to DuckDB as the canonical tables.

A shop's export is used as is: `shop.yaml` says where it is, how its files are written
and how its columns map (`crmspec.data.mapping`). This module builds the views
`customers`, `orders` and `events` with canonical names and types and checks that every
column the plan needs exists (naming the plan line that needs it); `crmspec.data.cleaning`
then leaves out and counts what would poison a build.

Only the orders are required. Without a customers table the customers are derived from
the orders (`derived_customers`); without events the events table is empty, and a plan
whose segments read events is refused by `crmspec validate` (`crmspec.data.present`
tells it which tables the shop has).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import duckdb

from crmspec.core.diagnostics import Diagnostic, PlanError, Src
from crmspec.core.sql import sql_ident, sql_str
from crmspec.data.checkcache import CheckCache
from crmspec.data.cleaning import DataProblem, clean
from crmspec.data.delimited import LINE, read_delimited
from crmspec.data.mapping import canonical_selects
from crmspec.data.present import (
    SUFFIX,  # noqa: F401 - data.suppressions reads it here
    duckdb_tables,
)
from crmspec.data.present import table_file as _file  # the name this module always used
from crmspec.data.settings import DataSource
from crmspec.data.stats import Bounds, parquet_bounds
from crmspec.data.tables import TABLES

OPTIONAL_TABLES = ("customers", "events")


@dataclass
class AttachedData:
    problems: list[DataProblem]
    fingerprint: str
    rows: dict[str, int]
    last_order_date: date | None
    as_of: date
    notes: list[str] = field(default_factory=list)  # e.g. customers derived from the orders


def _shown(root: Path, file: Path) -> str:
    return file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)


def _relation(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path, table: str
              ) -> tuple[str | None, list[DataProblem]]:
    """FROM-clause text reading one source table (None: an optional table the shop does
    not have) and the rows a text file's parser could not take; raises PlanError when a
    required table, or one shop.yaml names, is missing."""
    name = ds.tables.get(table)
    where = ds.src.at("tables", table) if name else ds.src.at("path")
    optional = table in OPTIONAL_TABLES and not name
    if ds.source == "duckdb":
        tables = duckdb_tables(con, "shopdata")
        name = name or table
        if name not in tables:
            if optional:
                return None, []
            raise PlanError([where.diag(
                "E402", f"table '{name}' ({table}) not found in {ds.path}",
                "tables there: " + (", ".join(sorted(tables)) or "none")
                + f"; map it with data.tables.{table}")])
        return f"shopdata.main.{sql_ident(name)}", []
    file = _file(ds, root, table)
    if not file.exists():
        if optional:
            return None, []
        raise PlanError([where.diag(
            "E402", f"{table} data not found: {_shown(root, file)}",
            f"put the {table} export there or set data.tables.{table} to its file name")])
    if ds.source == "csv":  # parsed once, not on every read
        read = read_delimited(con, file, _shown(root, file), ds.csv, f"src_{table}")
        problems = [DataProblem(
            f"{table}_unreadable_rows", table, len(read.rejected),
            "rows the file's delimiter and quotes do not split into its columns (ignored)",
            [f"line {line}: {why}" for line, why in read.rejected[:3]])] if read.rejected else []
        return f"(SELECT * EXCLUDE ({LINE}) FROM src_{table})", problems
    try:  # the footer: an empty, truncated or not-Parquet file fails here
        con.execute(f"SELECT num_rows FROM parquet_file_metadata({sql_str(str(file))})"
                    ).fetchall()
    except duckdb.Error as exc:
        raise PlanError([_parquet_error(root, file, exc)]) from None
    return f"read_parquet({sql_str(str(file))})", []


def _parquet_error(root: Path, file: Path, exc: duckdb.Error) -> Diagnostic:
    first = str(exc).splitlines()[0][:200]
    empty = file.stat().st_size == 0
    return Diagnostic(_shown(root, file), 1, 1, "E407",
                      "the file is empty" if empty else
                      f"the file cannot be read as Parquet ({first}): truncated or corrupt?",
                      "export the file again (or copy it again: compare its size)")


def _unreadable_parquet(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path) -> None:
    """After a read failed: raise E407 naming the Parquet file whose pages are corrupt
    (every column of every row read); return when all of them read (another cause)."""
    if ds.source not in ("parquet", "demo"):
        return
    for table in TABLES:
        file = _file(ds, root, table)
        if not file.is_file():
            continue
        try:
            con.execute(f"SELECT max(hash(t)) FROM read_parquet("
                        f"{sql_str(str(file))}) AS t").fetchall()
        except duckdb.Error as exc:
            raise PlanError([_parquet_error(root, file, exc)]) from None


_NO_EVENTS = ("(SELECT CAST(NULL AS {id_type}) AS customer_id, CAST(NULL AS VARCHAR) AS "
              "event_type, CAST(NULL AS TIMESTAMP) AS event_at, CAST(NULL AS VARCHAR) AS "
              "item_id WHERE false)")

# Source column types read as integer customer ids (kept as BIGINT, see `id_type`).
INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT",
                           "USMALLINT", "UINTEGER"})


def id_type(con: duckdb.DuckDBPyConnection, ds: DataSource, relations: dict[str, str]
            ) -> str:
    """The canonical type of `customer_id` for this shop: BIGINT when every table's
    customer id column is an integer column of the source (as most exports have them),
    VARCHAR otherwise (text ids, CSV files, value maps, constants, derived ids).

    Kept as the shop has it because every per-customer step groups or joins on it:
    grouping 10M orders by customer costs 2.5 CPU s on integers against 4.2 on the same
    ids cast to text. Text is made only where a file is written.
    """
    if ds.source == "csv":
        return "VARCHAR"  # every column of a delimited file is read as text
    for table, rel in relations.items():
        if table not in ("customers", "orders", "events"):
            continue
        mapping = ds.mapping(table)
        if any("customer_id" in m for m in (mapping.constants, mapping.derived,
                                            mapping.values, mapping.formats)):
            return "VARCHAR"
        name = mapping.columns.get("customer_id", "customer_id")
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
        if types.get(name) not in INTEGER_TYPES:
            return "VARCHAR"
    return "BIGINT"


def source_keys(con: duckdb.DuckDBPyConnection, ds: DataSource, relations: dict[str, str]
                ) -> dict[str, str]:
    """Per table with an id (`customers`, `orders`), the source's id column when the
    canonical id is that integer column as is (cast to BIGINT or text, which keeps
    distinct values distinct): `clean` proves the ids distinct by their order, and
    integers ordered as numbers are out of order as text ("9" > "10"). Not for a
    mapped, derived or constant id, nor a customers table derived from the orders."""
    out = {}
    for table, column in (("customers", "customer_id"), ("orders", "order_id")):
        mapping = ds.mapping(table)
        if table not in relations or any(column in m for m in (
                mapping.constants, mapping.derived, mapping.values, mapping.formats)):
            continue
        if table == "customers" and relations[table].startswith("(SELECT "):
            continue  # derived from the orders (or a CSV table: text, no integers)
        name = mapping.columns.get(column, column)
        types = {r[0]: r[1] for r in con.execute(
            f"DESCRIBE SELECT * FROM {relations[table]}").fetchall()}
        if types.get(name) in INTEGER_TYPES:
            out[table] = f"src.{sql_ident(name)}"
    return out


# The columns whose statistics the checks use (`clean`: NULLs, negative amounts, dates
# after the as-of date, customer ids inside the customers' range).
BOUNDED = {"customers": ("customer_id",),
           "orders": ("order_id", "customer_id", "created_at", "paid_at", "shipped_at",
                      "signed_at", "amount"),
           "events": ("customer_id", "event_at")}


def file_bounds(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path,
                relations: dict[str, str], columns: dict[str, dict[str, str]], ids: str,
                cache: CheckCache | None = None) -> dict[str, dict[str, Bounds]]:
    """Per table read from a Parquet file, what the file's statistics prove about the
    canonical columns that are a file column as it is (`crmspec.data.stats`): the same
    type or an integer column read as BIGINT (the same values), or (for the NULLs only)
    an integer column read as text, which turns no value into NULL. Not for a mapped,
    formatted, derived or constant column."""
    out: dict[str, dict[str, Bounds]] = {}
    if ds.source not in ("parquet", "demo"):
        return out
    for table, wanted in BOUNDED.items():
        if not relations.get(table, "").startswith("read_parquet("):
            continue  # none (no events), or derived customers
        mapping = ds.mapping(table)
        types = {r[0]: r[1] for r in con.execute(
            f"DESCRIBE SELECT * FROM {relations[table]}").fetchall()}
        asked: dict[str, str | None] = {}
        canonical: dict[str, str] = {}
        for c in canonical_columns(table, ids):
            name = mapping.columns.get(c.name, c.name)
            if c.name not in wanted or any(c.name in m for m in (
                    mapping.constants, mapping.derived, mapping.values, mapping.formats)) \
                    or columns[table].get(c.name) != f"TRY_CAST({sql_ident(name)} AS {c.type})":
                continue
            if types.get(name) == c.type or (types.get(name) in INTEGER_TYPES
                                              and c.type == "BIGINT"):
                asked[name] = c.type  # the same values
            elif types.get(name) in INTEGER_TYPES and c.type == "VARCHAR":
                asked[name] = None  # the same NULLs
            else:
                continue
            canonical[name] = c.name
        found = parquet_bounds(con, _file(ds, root, table), asked, cache)
        out[table] = {canonical[name]: b for name, b in found.items()}
    return out


def shop_id_type(con: duckdb.DuckDBPyConnection) -> str:
    """The type of the attached `customers.customer_id` (BIGINT or VARCHAR, `id_type`):
    what the ledger's and the do-not-contact list's text ids are cast to where they meet
    the shop's tables."""
    row = con.execute("SELECT data_type FROM duckdb_columns() WHERE table_name = 'customers' "
                      "AND column_name = 'customer_id' AND database_name = 'temp'").fetchone()
    return "BIGINT" if row and row[0] == "BIGINT" else "VARCHAR"


def canonical_columns(table: str, id_type: str) -> tuple:
    """TABLES[table] with `customer_id` of the shop's id type (`id_type`)."""
    return tuple(replace(c, type=id_type) if c.name == "customer_id" else c
                 for c in TABLES[table])


def derived_customers(con, ds: DataSource, orders: str, selects: dict[str, str]
                      ) -> tuple[str, list[str]]:
    """A customers relation made from the orders, for a shop without a customers table:
    one row per buyer with the first order's time as `registered_at`, and each customer
    column the orders carry (data.columns.customers may name an orders column, e.g. the
    phone of the order's contact) from the buyer's latest order that has it. Columns are
    named as data.columns.customers says, so the customers mapping reads it as it would
    a file. Returns the relation and the carried columns."""
    mapping = ds.columns.get("customers", {})
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {orders}").fetchall()}
    order_columns = {c.name for c in TABLES["orders"]}
    carried = [c.name for c in TABLES["customers"]
               if c.name not in ("customer_id", "registered_at")
               and mapping.get(c.name, c.name) in present
               and (c.name in mapping or c.name not in order_columns)]
    created = selects["created_at"]
    cols = [f"{selects['customer_id']} AS {sql_ident(mapping.get('customer_id', 'customer_id'))}",
            f"min({created}) AS {sql_ident(mapping.get('registered_at', 'registered_at'))}"]
    for c in carried:
        name = sql_ident(mapping.get(c, c))
        cols.append(f"arg_max({name}, {created}) FILTER (WHERE {name} IS NOT NULL) AS {name}")
    return (f"(SELECT {', '.join(cols)} FROM {orders} AS src "
            f"WHERE {selects['customer_id']} IS NOT NULL GROUP BY 1)", carried)


def source_files(ds: DataSource, root: Path) -> list[Path]:
    """The files the canonical tables are read from (for the checks' cache)."""
    if ds.source == "duckdb":
        db = (root / ds.path).resolve()
        wal = db.with_name(db.name + ".wal")
        return [db, wal] if wal.exists() else [db]
    return [f for f in (_file(ds, root, t) for t in TABLES) if f.exists()]


def attach(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path, as_of: date | None,
           needs: dict[str, Src], cache_path: Path | None = None, record: bool = False,
           relations: dict[str, str] | None = None) -> AttachedData:
    """Create the canonical tables on `con` as of a date (None: the day after the last order).

    Rows dated after the as-of date are left out: as of that day they had not happened.

    `customers`, `orders` and `events` are views over Parquet and DuckDB sources: a
    build reads a few columns of them a few times, which costs less than copying 10M
    orders and 20M events into memory (and under the build's memory cap, spilling them
    to disk); `crmspec kpi` never reads the events. CSV sources are parsed once into
    tables.
    Each table is checked in one pass that also takes its fingerprint; with
    `cache_path`, the passes' results of an earlier run on the same files are reused
    (`crmspec.data.checkcache`), and new ones stored there when `record`.

    `relations`: the source tables as already readable relations (table -> FROM text;
    an optional table left out is absent), read on `con` as they are: Spark's data, with
    `con` the `crmspec.engine.spark.data.SparkSQL` seam running this SQL on Spark.
    """
    if relations is not None:
        return _attach(con, ds, root, as_of, needs, None, False, dict(relations),
                       [t for t in TABLES if t not in relations], [])
    if ds.source == "duckdb":
        db = (root / ds.path).resolve()
        if not db.exists():
            raise PlanError([ds.src.at("path").diag(
                "E401", f"database file {ds.path} not found", "check data.path in shop.yaml")])
        con.execute(f"ATTACH {sql_str(str(db))} AS shopdata (READ_ONLY)")
    elif not (root / ds.path).is_dir():
        raise PlanError([ds.src.at("path").diag(
            "E401", f"data folder {ds.path} not found", "check data.path in shop.yaml")])
    # Every missing table and column at once, not one per build attempt.
    relations: dict[str, str] = {}
    absent: list[str] = []
    errors: list[Diagnostic] = []
    problems: list[DataProblem] = []
    for table in TABLES:
        try:
            rel, found = _relation(con, ds, root, table)
        except PlanError as exc:
            errors += exc.diagnostics
            continue
        problems += found
        if rel is None:
            absent.append(table)
        else:
            relations[table] = rel
    if errors:
        raise PlanError(errors)
    return _attach(con, ds, root, as_of, needs, cache_path, record, relations, absent,
                   problems)


def _attach(con, ds: DataSource, root: Path, as_of: date | None, needs: dict[str, Src],
            cache_path: Path | None, record: bool, relations: dict[str, str],
            absent: list[str], problems: list[DataProblem]) -> AttachedData:
    """`attach` once the source tables are relations: map, check, clean."""
    errors: list[Diagnostic] = []
    notes: list[str] = []
    ids = id_type(con, ds, relations)
    selects: dict[str, str] = {}
    columns: dict[str, dict[str, str]] = {}
    # orders first: customers may be derived from them
    for table in ("orders", "customers", "events"):
        if table == "events" and "events" in absent:
            relations["events"] = _NO_EVENTS.format(id_type=ids)
            notes.append("events: none in the data (segments cannot use intent signals)")
        if table == "customers" and "customers" in absent and "orders" not in columns:
            continue  # the orders could not be read: their errors say why
        try:
            if table == "customers" and "customers" in absent:
                relations["customers"], carried = derived_customers(
                    con, ds, relations["orders"], columns["orders"])
                notes.append("customers: none in the data, derived from the orders (id, "
                             "first order as registered_at"
                             + "".join(f", {c}" for c in carried) + ")")
            columns[table], found = canonical_selects(
                con, table, canonical_columns(table, ids), relations[table], ds.mapping(table),
                ds.src,
                needs if table == "customers" else {})
        except PlanError as exc:
            errors += exc.diagnostics
            continue
        except duckdb.Error:
            _unreadable_parquet(con, ds, root)
            raise
        problems += found
        selects[table] = ", ".join(f"{sql} AS {name}" for name, sql in columns[table].items())
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw_{table} AS SELECT {selects[table]} "
                    f"FROM {relations[table]} AS src")
    if errors:
        raise PlanError(errors)
    cache = (CheckCache(cache_path, source_files(ds, root), repr(ds.csv), record)
             if cache_path is not None else None)
    bounds = file_bounds(con, ds, root, relations, columns, ids, cache)
    created = bounds.get("orders", {}).get("created_at")
    # The latest order from the file's statistics when they bound every row (exact
    # for a timestamp stored as an integer), else from the rows.
    last = con.execute(f"SELECT CAST({created.hi} AS DATE)" if created and created.hi else
                       "SELECT max(CAST(created_at AS DATE)) FROM raw_orders").fetchone()[0]
    if as_of is None:
        if last is None:
            raise PlanError([ds.src.diag(
                "E402", "the orders data is empty, so there is no latest date to build as of",
                "pass --as-of DATE or set as_of in shop.yaml")])
        if last >= date.max:
            (order_id,) = con.execute(
                "SELECT min(order_id) FROM raw_orders WHERE CAST(created_at AS DATE) = ?",
                [last]).fetchone()
            raise PlanError([ds.src.at("path").diag(
                "E402", f"order {order_id} is dated {last.isoformat()} (an export's "
                "placeholder?), so there is no day after the last order to build as of",
                "pass --as-of DATE or set as_of in shop.yaml: orders after it are left out "
                "and counted (W404)")])
        as_of = last + timedelta(days=1)
    try:
        cleaned = clean(con, relations, selects,
                        f"TIMESTAMP '{as_of.isoformat()} 23:59:59.999999'",
                        "TABLE" if ds.source == "csv" else "VIEW", cache,
                        source_keys(con, ds, relations), bounds)
    except duckdb.Error:
        _unreadable_parquet(con, ds, root)
        raise
    if cache is not None:
        cache.save()
    problems += cleaned.problems
    return AttachedData(problems, cleaned.fingerprint, cleaned.rows, last, as_of, notes)
