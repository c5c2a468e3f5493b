"""What every importer shares: the shop's files read into one table of text rows (each
with its file and line), the SQL that cleans an export's text, and the rows an importer
rejects, named by file and line with contact details masked.

An importer (`taobao`, `shopify`, `csvexport`) turns `export_rows` into `staged_orders`,
`staged_customers` and/or `staged_events` (canonical columns, one row per order or
customer) and lists its rejected rows; `crmspec.data.importers.upsert` writes them.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field, replace
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
    the rows read and the rows the parser rejected (W408). A file that starts with
    UTF-8's byte-order mark is UTF-8, whatever `fmt` says (a report opened and saved
    again in Excel or WPS)."""
    parts, columns, rows, rejected = [], [], 0, []
    for i, (file, shown) in enumerate(files):
        with file.open("rb") as f:  # re-saved as UTF-8 with a BOM (Excel, WPS): read so
            bom = f.read(3) == codecs.BOM_UTF8
        read = read_delimited(con, file, shown, replace(fmt, encoding="utf-8") if bom else fmt,
                              f"export_{i}")
        rows += read.rows + len(read.rejected)
        rejected += [reject(shown, line, why) for line, why in read.rejected]
        columns += [c for c in read.columns if c not in columns]
        parts.append(f"SELECT {sql_str(shown)} AS {FILE}, {i} AS {FILE_NO}, * FROM export_{i}")
    # a view: the rows are read once by the importer's first statement, never copied
    con.execute("CREATE OR REPLACE TEMP VIEW export_rows AS "
                + " UNION ALL BY NAME ".join(parts))
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


def clean_export(con, columns: dict[str, str], roles) -> None:
    """The temp view `export_text`: `_file`, `_file_no`, `_line` and, per role, the
    export's text cleaned (NULL for a role the file has no column for): without the
    `="..."` Excel keeps ids with and a leading `'` (phone numbers), trimmed of blanks
    and tabs, empty as NULL. String functions on one trimmed value per field, not
    regular expressions: this runs on every field of a million rows."""
    trimmed = ", ".join(
        f"trim({sql_ident(columns[r])}, ' \t') AS {r}" if r in columns
        else f"CAST(NULL AS VARCHAR) AS {r}" for r in roles)
    stripped = ", ".join(
        f"nullif(CASE WHEN starts_with({r}, '=') THEN trim({r}[2:], '\"') WHEN "
        f"starts_with({r}, '''') THEN {r}[2:] ELSE {r} END, '') AS {r}" for r in roles)
    con.execute(f"CREATE OR REPLACE TEMP VIEW export_text AS SELECT {FILE}, {FILE_NO}, "
                f"{LINE}, {stripped} FROM (SELECT {FILE}, {FILE_NO}, {LINE}, {trimmed} "
                "FROM export_rows)")


def money(role: str) -> str:
    """An amount of a cleaned text column: thousands separators and currency signs
    dropped."""
    return f"TRY_CAST(regexp_replace({role}, '[,¥￥$ ]', '', 'g') AS DECIMAL(12,2))"


def local_time(role: str, formats: tuple[str, ...]) -> str:
    """A time of a cleaned text column, in the shop's local time (the connection's
    TimeZone): formats with %z are converted from their UTC offset."""
    fmts = "[" + ", ".join(map(sql_str, formats)) + "]"
    return f"CAST(try_strptime({role}, {fmts}) AS TIMESTAMP)"


def rejected_rows(con, reasons: str, table: str = "export_rows") -> list[Diagnostic]:
    """The rows whose `reasons` (a SQL expression: NULL when the row is fine, else why
    not) is set, as W408 diagnostics by file and line."""
    return [reject(f, line, why) for f, line, why in con.execute(
        f"SELECT {FILE}, {LINE}, r FROM (SELECT {FILE}, {LINE}, {reasons} AS r FROM {table}) "
        f"WHERE r IS NOT NULL ORDER BY {FILE}, {LINE}").fetchall()]
