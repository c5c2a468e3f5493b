"""A source table's columns as the canonical table's: the select list that renames,
value-maps, parses and casts them, and the check that they can be read.

Used wherever a shop's own table is read (a build's sources, `crmspec import csv`), so
that a mapping means the same in both. Per canonical column, in this order: a constant
(`constants`), else a checked expression over the source's columns (`derived`, through
`crmspec.safesql`: never raw SQL), else the source column (`columns`, default the
canonical name); its text then goes through the value map (`values`, e.g. 交易成功 ->
paid; unmapped values pass unchanged), then the date/time format (`formats`, strptime
codes such as %Y%m%d), then the cast to the canonical type. Every value from the plan
reaches SQL as a quoted literal (`crmspec.core.sql`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crmspec.core.diagnostics import Diagnostic, PlanError, Src
from crmspec.core.sql import sql_ident, sql_str
from crmspec.data.cleaning import DataProblem, value_examples
from crmspec.data.settings import DataSource, TableMapping
from crmspec.data.tables import TABLES, Column

if TYPE_CHECKING:
    from sqlglot import exp

    from crmspec.safesql import SafeFilter


@dataclass
class _Read:
    column: Column
    text: str  # the value before the cast (or a format's parse)
    final: str  # the canonical value
    where: Src
    checked: bool  # may hold values that do not read as the canonical type
    label: str  # how the message names it


def literal(value: object) -> str:
    """A constant of shop.yaml as SQL: numbers and booleans as such, the rest as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_str(value)


def _value_map(text: str, values: dict) -> str:
    def as_text(v: object) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    cases = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(as_text(v))}" for k, v in values.items())
    return f"(CASE CAST({text} AS VARCHAR) {cases} ELSE CAST({text} AS VARCHAR) END)"


def _formatted(text: str, fmt: str, typ: str) -> str:
    parsed = f"try_strptime(CAST({text} AS VARCHAR), {sql_str(fmt)})"
    return f"CAST({parsed} AS DATE)" if typ == "DATE" else parsed


def _never_failing(safe: SafeFilter) -> SafeFilter:
    """A derived expression whose casts cannot fail: the file's columns are text, and one
    bad value (`12,3x`) would otherwise stop the whole read; it reads as empty instead
    (counted like any unreadable value)."""
    from sqlglot import exp  # only for a derived column (see canonical_selects)

    from crmspec.safesql import SafeFilter

    def soften(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
            return exp.TryCast(this=node.this, to=node.args["to"])
        return node

    return SafeFilter(safe.expression.copy().transform(soften), safe.columns)


def canonical_selects(con, table: str, columns: tuple[Column, ...], relation: str,
                      mapping: TableMapping, src: Src, needs: dict[str, Src],
                      setting: str = "data") -> tuple[dict[str, str], list[DataProblem]]:
    """Canonical column -> its SQL over `relation`, and the data problems of values that
    do not read as their type. Raises PlanError (E403 a missing column, E405 a column none
    of whose values read, E309 a derived expression that does not check).

    `src` is the mapping's section of shop.yaml (diagnostics point at `columns.<table>.
    <column>` there); `needs`: columns the plan reads, with the line that reads them;
    `setting`: the section's name for hints ("data", "import")."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    present = [r[0] for r in described]
    types = {r[0]: r[1] for r in described}
    errors: list[Diagnostic] = []
    reads: list[_Read] = []
    selects: dict[str, str] = {}
    table_like = any(mapping.columns.get(c.name, c.name) in present for c in columns)
    for c in columns:
        name = mapping.columns.get(c.name, c.name)
        where = (src.at("columns", table, c.name) if c.name in mapping.columns
                 else needs.get(c.name, src))
        if c.name in mapping.constants:
            selects[c.name] = f"CAST({literal(mapping.constants[c.name])} AS {c.type})"
            continue
        if c.name in mapping.derived:
            where = src.at("derived", table, c.name)
            # sqlglot only for a derived column: `crmspec validate` imports this module
            # for `unknown_columns`, and a plan without sql: filters needs no sqlglot
            from crmspec.safesql import SqlFilterError, parse_value

            try:
                safe = parse_value(mapping.derived[c.name], types)
            except SqlFilterError as exc:
                errors.append(where.diag("E309", f"derived {table}.{c.name}: {exc.message}",
                                         "an expression over the file's columns, with the "
                                         "functions of a segment's sql: filter"))
                continue
            text, source_type = f"({_never_failing(safe).sql()})", None
            label = f"derived {table}.{c.name}"
        elif name in present:
            text, source_type = sql_ident(name), types[name]
            label = f"column '{name}' ({table}.{c.name})"
        elif c.required or c.name in needs:
            needed = ("the canonical table requires it" if c.required else "the plan uses it"
                      + ("" if c.name in mapping.columns else " here"))
            # A file sharing no column with the table is not its export (a plan pointing
            # at /etc/passwd): its "header" is its first line, not shown.
            shown = (f"columns there: {', '.join(present)}" if table_like else
                     f"none of the {table} table's columns is in the file (its first line is "
                     "not shown: is this the right file?)")
            errors.append(where.diag(
                "E403", f"column '{name}' ({table}.{c.name}) not found in the {table} data; "
                f"{needed}",
                f"{shown}; map it with {setting}.columns.{table}.{c.name}"))
            continue
        else:
            selects[c.name] = f"CAST(NULL AS {c.type})"
            continue
        if c.name in mapping.values:
            text, source_type = _value_map(text, mapping.values[c.name]), "VARCHAR"
        if c.name in mapping.formats:
            where = src.at("formats", table, c.name)
            final = _formatted(text, mapping.formats[c.name], c.type)
        else:
            final = f"TRY_CAST({text} AS {c.type})"
        selects[c.name] = final
        checked = c.type != "VARCHAR" and (source_type != c.type or c.name in mapping.formats)
        reads.append(_Read(c, text, final, where, checked, label))
    if errors:
        raise PlanError(errors)
    return selects, _unreadable(con, table, relation, [r for r in reads if r.checked], setting)


def _unreadable(con, table: str, relation: str, reads: list[_Read], setting: str
                ) -> list[DataProblem]:
    """Values that do not read as the canonical type (they would silently read as empty).

    A column none of whose values can be read is the wrong column or the wrong format:
    E405. A few unreadable values are a data problem like any other.
    """
    if not reads:
        return []
    counts = con.execute("SELECT " + ", ".join(
        f"count({r.text}), count({r.final})" for r in reads) + f" FROM {relation}").fetchone()
    errors, problems = [], []
    for i, r in enumerate(reads):
        values, readable = counts[2 * i], counts[2 * i + 1]
        if values == readable:
            continue
        examples = value_examples(con, f"SELECT DISTINCT CAST({r.text} AS VARCHAR) FROM "
                                  f"{relation} WHERE {r.text} IS NOT NULL AND {r.final} IS NULL "
                                  "ORDER BY 1")
        c = r.column
        if readable == 0:
            fmt = ("" if c.type not in ("DATE", "TIMESTAMP") else
                   f", or give its format in {setting}.formats.{table}.{c.name} (e.g. %Y%m%d)")
            errors.append(r.where.diag(
                "E405", f"{r.label} cannot be read as {c.type}: none of its {values} "
                f"values can (e.g. {', '.join(examples)})",
                f"fix the export, or map {setting}.columns.{table}.{c.name} to the right "
                f"column{fmt}"))
        else:
            problems.append(DataProblem(
                f"{table}_bad_{c.name}", table, values - readable,
                f"{c.name} values that are not {c.type} (read as empty)", examples))
    if errors:
        raise PlanError(errors)
    return problems


def unknown_columns(ds: DataSource) -> list[Diagnostic]:
    """Keys of a mapping (columns, values, formats, constants, derived) that are not
    canonical columns: a typo would otherwise be silently ignored. At the key, with the
    closest canonical column as the hint."""
    out = []
    for kind in ("columns", "values", "formats", "constants", "derived"):
        for table, mapping in getattr(ds, kind).items():
            known = sorted(c.name for c in TABLES[table])
            for name in mapping:
                if name in known:
                    continue
                close = difflib.get_close_matches(name, known, n=1)
                out.append(ds.src.at(kind, table, name).diag(
                    "E301", f"'{name}' is not a column of the canonical {table} table",
                    f"did you mean '{close[0]}'?" if close
                    else "known columns: " + ", ".join(known), key=True))
    return out
