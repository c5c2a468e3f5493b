"""sqlglot building blocks the compiler uses: quoted columns, literals, and the
conjunctions that keep NULL from leaking into a condition. Everything from YAML becomes
one of these (never text), in the dialect `DIALECT` the statements are generated in."""

from __future__ import annotations

from datetime import date

from sqlglot import exp

DIALECT = "duckdb"


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def lit(value) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def date_lit(d: date) -> exp.Expression:
    return exp.cast(exp.Literal.string(d.isoformat()), "DATE")


def conjunction(parts: list[exp.Expression]) -> exp.Expression:
    if not parts:
        return exp.true()
    return exp.and_(*[exp.paren(p) if isinstance(p, exp.Or) else p for p in parts])


def disjunction(parts: list[exp.Expression]) -> exp.Expression:
    return exp.paren(exp.or_(*parts)) if len(parts) > 1 else parts[0]


def false_if_null(e: exp.Expression) -> exp.Expression:
    return exp.func("coalesce", exp.paren(e), exp.false())


def range_condition(column: str, r: dict) -> exp.Expression:
    parts = []
    if r.get("min") is not None:
        parts.append(col(column) >= lit(r["min"]))
    if r.get("max") is not None:
        parts.append(col(column) <= lit(r["max"]))
    return conjunction(parts)


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]
