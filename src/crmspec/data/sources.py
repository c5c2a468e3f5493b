"""Attach a shop's data to DuckDB as the canonical tables.

A shop's export is used as is: `shop.yaml` says where it is and how its columns are
named. This module builds the views `customers`, `orders` and `events` with canonical
names and types and checks that every column the plan needs exists (naming the plan
line that needs it); `crmspec.data.cleaning` then leaves out and counts what would
poison a build.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from crmspec.core.diagnostics import Diagnostic, PlanError, Src
from crmspec.core.sql import sql_ident, sql_str
from crmspec.data.cleaning import DataProblem, clean, value_examples
from crmspec.data.settings import DataSource
from crmspec.data.tables import TABLES

SUFFIX = {"parquet": ".parquet", "csv": ".csv", "demo": ".parquet"}


@dataclass
class AttachedData:
    problems: list[DataProblem]
    fingerprint: str
    rows: dict[str, int]
    last_order_date: date | None
    as_of: date


def _relation(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path, table: str) -> str:
    """FROM-clause text reading one source table; raises PlanError when it is missing."""
    name = ds.tables.get(table)
    where = ds.src.at("tables", table) if name else ds.src.at("path")
    base = (root / ds.path).resolve()
    if ds.source == "duckdb":
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'shopdata'"
        ).fetchall()}
        name = name or table
        if name not in tables:
            raise PlanError([where.diag(
                "E402", f"table '{name}' ({table}) not found in {ds.path}",
                "tables there: " + (", ".join(sorted(tables)) or "none")
                + f"; map it with data.tables.{table}")])
        return f"shopdata.main.{sql_ident(name)}"
    file = base / (name or f"{table}{SUFFIX[ds.source]}")
    if not file.exists():
        raise PlanError([where.diag(
            "E402", f"{table} data not found: "
            f"{file.relative_to(root) if file.is_relative_to(root) else file}",
            f"put the {table} export there or set data.tables.{table} to its file name")])
    if ds.source == "csv":
        return f"read_csv({sql_str(str(file))}, header = true, auto_detect = true)"
    return f"read_parquet({sql_str(str(file))})"


def _map_columns(con, ds: DataSource, table: str, relation: str, needs: dict[str, Src]
                 ) -> tuple[str, list[DataProblem]]:
    """The select list renaming and casting the source columns to the canonical ones."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    present = [r[0] for r in described]
    types = {r[0]: r[1] for r in described}
    mapping = ds.columns.get(table, {})
    known = {c.name for c in TABLES[table]}
    bad_keys = [k for k in mapping if k not in known]
    if bad_keys:
        raise PlanError([ds.src.at("columns", table, bad_keys[0]).diag(
            "E301", f"'{bad_keys[0]}' is not a column of the canonical {table} table",
            "canonical columns: " + ", ".join(sorted(known)), key=True)])
    selects, missing, to_check = [], [], []
    for c in TABLES[table]:
        src_name = mapping.get(c.name, c.name)
        # The plan line to blame: the mapping if there is one, else the line using it.
        where = (ds.src.at("columns", table, c.name) if c.name in mapping
                 else needs.get(c.name, ds.src))
        if src_name in present:
            selects.append(f"TRY_CAST({sql_ident(src_name)} AS {c.type}) AS {c.name}")
            if c.type != "VARCHAR" and types[src_name] != c.type:
                to_check.append((c, src_name, where))
            continue
        if c.required or c.name in needs:
            needed = ("the canonical table requires it" if c.required else "the plan uses it"
                      + ("" if c.name in mapping else " here"))
            missing.append(where.diag(
                "E403", f"column '{src_name}' ({table}.{c.name}) not found in the {table} data; "
                f"{needed}",
                f"columns there: {', '.join(present)}; map it with "
                f"data.columns.{table}.{c.name}"))
            continue
        selects.append(f"CAST(NULL AS {c.type}) AS {c.name}")
    if missing:
        raise PlanError(missing)
    problems = _unreadable_values(con, table, relation, to_check)
    return ", ".join(selects), problems


def _unreadable_values(con, table: str, relation: str, columns: list) -> list[DataProblem]:
    """Values that do not cast to the canonical type (they would silently read as empty).

    A column none of whose values can be read is the wrong column or the wrong format:
    E405. A few unreadable values are a data problem like any other.
    """
    if not columns:
        return []
    counts = con.execute("SELECT " + ", ".join(
        f"count({sql_ident(name)}), count(TRY_CAST({sql_ident(name)} AS {c.type}))"
        for c, name, _ in columns) + f" FROM {relation}").fetchone()
    errors, problems = [], []
    for i, (c, name, where) in enumerate(columns):
        values, readable = counts[2 * i], counts[2 * i + 1]
        if values == readable:
            continue
        examples = value_examples(con, f"SELECT DISTINCT CAST({sql_ident(name)} AS VARCHAR) FROM "
                                  f"{relation} WHERE {sql_ident(name)} IS NOT NULL AND "
                                  f"TRY_CAST({sql_ident(name)} AS {c.type}) IS NULL ORDER BY 1")
        if readable == 0:
            errors.append(where.diag(
                "E405", f"column '{name}' ({table}.{c.name}) cannot be read as {c.type}: none "
                f"of its {values} values can (e.g. {', '.join(examples)})",
                f"fix the export, or map data.columns.{table}.{c.name} to the right column"))
        else:
            problems.append(DataProblem(
                f"{table}_bad_{c.name}", table, values - readable,
                f"{c.name} values that are not {c.type} (read as empty)", examples))
    if errors:
        raise PlanError(errors)
    return problems


def attach(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path, as_of: date | None,
           needs: dict[str, Src]) -> AttachedData:
    """Create the canonical tables on `con` as of a date (None: the day after the last order).

    Rows dated after the as-of date are left out: as of that day they had not happened.

    `customers`, `orders` and `events` are views over Parquet and DuckDB sources: a
    build reads a few columns of them a few times, which costs less than copying 10M
    orders and 20M events into memory (and under the build's memory cap, spilling them
    to disk); `crmspec kpi` never reads the events. CSV sources are parsed once into
    tables.
    Each table is checked in one pass that also takes its fingerprint.
    """
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
    errors: list[Diagnostic] = []
    for table in TABLES:
        try:
            relations[table] = _relation(con, ds, root, table)
        except PlanError as exc:
            errors += exc.diagnostics
    if errors:
        raise PlanError(errors)
    problems: list[DataProblem] = []
    selects: dict[str, str] = {}
    for table, rel in relations.items():
        if ds.source == "csv":  # parse once, not on every read
            con.execute(f"CREATE OR REPLACE TEMP TABLE src_{table} AS SELECT * FROM {rel}")
            relations[table] = rel = f"src_{table}"
        try:
            selects[table], found = _map_columns(con, ds, table, rel,
                                                 needs if table == "customers" else {})
        except PlanError as exc:
            errors += exc.diagnostics
            continue
        problems += found
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw_{table} AS SELECT {selects[table]} "
                    f"FROM {rel}")
    if errors:
        raise PlanError(errors)
    last = con.execute("SELECT max(CAST(created_at AS DATE)) FROM raw_orders").fetchone()[0]
    if as_of is None:
        if last is None:
            raise PlanError([ds.src.diag(
                "E402", "the orders data is empty, so there is no latest date to build as of",
                "pass --as-of DATE or set as_of in shop.yaml")])
        as_of = last + timedelta(days=1)
    cleaned = clean(con, relations, selects, f"TIMESTAMP '{as_of.isoformat()} 23:59:59.999999'",
                    "TABLE" if ds.source == "csv" else "VIEW")
    problems += cleaned.problems
    return AttachedData(problems, cleaned.fingerprint, cleaned.rows, last, as_of)


