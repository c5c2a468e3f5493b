"""What every importer shares: the shop's files read into one table of text rows (each
with its file and line), the SQL that cleans an export's text, and the rows an importer
rejects, named by file and line with contact details masked.

An importer (`taobao`, `shopify`, `csvexport`) turns `export_rows` into `staged_orders`,
`staged_customers` and/or `staged_events` (canonical columns, one row per order or
customer) and lists its rejected rows; `crmspec.data.importers.upsert` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.core.mask import mask_text
from crmspec.core.sql import sql_ident, sql_str
from crmspec.data.delimited import LINE, file_error, read_delimited
from crmspec.data.settings import CsvFormat

FILE = "_file"  # the column holding each row's file, as shown to the user
FILE_NO = "_file_no"  # its place on the command line: a later file wins


@dataclass
class Staged:
    """An importer's result: the staged tables it made and what it rejected."""

    rows_read: int
    tables: tuple[str, ...]  # of "orders", "customers", "events"
    rejected: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_exports(con: duckdb.DuckDBPyConnection, files: list[tuple[Path, str]],
                 fmt: CsvFormat) -> tuple[list[str], int, list[Diagnostic]]:
    """Every file into the temp table `export_rows` (`_file`, `_file_no`, `_line` and the
    columns, by name across files: a newer export may add columns). Returns the columns,
    the rows read and the rows the parser rejected (W408)."""
    parts, columns, rows, rejected = [], [], 0, []
    for i, (file, shown) in enumerate(files):
        read = read_delimited(con, file, shown, fmt, f"export_{i}")
        rows += read.rows + len(read.rejected)
        rejected += [reject(shown, line, why) for line, why in read.rejected]
        columns += [c for c in read.columns if c not in columns]
        parts.append(f"SELECT {sql_str(shown)} AS {FILE}, {i} AS {FILE_NO}, * FROM export_{i}")
    con.execute("CREATE OR REPLACE TEMP TABLE export_rows AS "
                + " UNION ALL BY NAME ".join(parts))
    for i in range(len(files)):
        con.execute(f"DROP TABLE export_{i}")
    return columns, rows, rejected


def reject(shown: str, line: int, why: str) -> Diagnostic:
    return Diagnostic(shown, line, 1, "W408", mask_text(why))


def pick(columns: list[str], files: list[tuple[Path, str]], names: dict[str, tuple[str, ...]],
         required: tuple[str, ...], what: str) -> dict[str, str]:
    """The file's column for each role (the first known alias present); a required role
    without one is an error at the header of the first file."""
    found = {role: next((a for a in aliases if a in columns), None)
             for role, aliases in names.items()}
    missing = [role for role in required if found[role] is None]
    if missing:
        raise PlanError([file_error(
            files[0][1], 1, 1, f"not {what}: no column "
            + ", ".join(f"{names[r][0]}" + (f" (or {', '.join(names[r][1:])})"
                                               if len(names[r]) > 1 else "") for r in missing),
            "columns there: " + ", ".join(columns[:40])).diagnostics[0]])
    return {role: name for role, name in found.items() if name is not None}


def text(column: str | None) -> str:
    """An export's text value, cleaned: the `="..."` Excel keeps ids with, a leading `'`
    (phone numbers), surrounding blanks and tabs; empty is NULL."""
    if column is None:
        return "CAST(NULL AS VARCHAR)"
    # DuckDB's reader already drops the quotes of `="..."` (a field may hold quotes mid-way)
    return (f"nullif(regexp_replace(regexp_replace({sql_ident(column)}, "
            "'^[\\s]*=\"?(.*?)\"?[\\s]*$', '\\1'), '^[\\s'']+|[\\s]+$', '', 'g'), '')")


def money(column: str | None) -> str:
    """An amount: thousands separators and currency signs dropped."""
    if column is None:
        return "CAST(NULL AS DECIMAL(12,2))"
    return (f"TRY_CAST(regexp_replace({text(column)}, '[,¥￥$ ]', '', 'g') "
            "AS DECIMAL(12,2))")


def local_time(column: str | None, formats: tuple[str, ...]) -> str:
    """A time in the shop's local time (the connection's TimeZone): formats with %z are
    converted from their UTC offset."""
    if column is None:
        return "CAST(NULL AS TIMESTAMP)"
    fmts = "[" + ", ".join(map(sql_str, formats)) + "]"
    return f"CAST(try_strptime({text(column)}, {fmts}) AS TIMESTAMP)"


def rejected_rows(con, reasons: str, table: str = "export_rows") -> list[Diagnostic]:
    """The rows whose `reasons` (a SQL expression: NULL when the row is fine, else why
    not) is set, as W408 diagnostics by file and line."""
    return [reject(f, line, why) for f, line, why in con.execute(
        f"SELECT {FILE}, {LINE}, r FROM (SELECT {FILE}, {LINE}, {reasons} AS r FROM {table}) "
        f"WHERE r IS NOT NULL ORDER BY {FILE}, {LINE}").fetchall()]
