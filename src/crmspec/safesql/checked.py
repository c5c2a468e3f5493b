"""What checking a filter yields: a `SafeFilter` (only its regenerated SQL ever reaches
an engine) or a `SqlFilterError` saying where and why."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel


class SqlFilterError(Exception):
    """A `sql:` filter that cannot be used, with where and why, for the plan author.

    `offset` is a 0-based character offset into the filter text, or None when the problem
    has no single place (so the validator can still report the message).
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        if self.offset is None:
            return self.message
        return f"{self.message} (at character {self.offset})"


@dataclass(frozen=True)
class SafeFilter:
    """A checked filter; only its regenerated SQL is ever given to an engine.

    `expression` holds unqualified, quoted column references under their canonical names
    (as keys of the `columns` mapping given to `parse_filter`).
    """

    expression: exp.Expression
    columns: frozenset[str]

    def sql(self, dialect: str = "duckdb", table_alias: str | None = None) -> str:
        """Render for an engine; quoting every column keeps names that are keywords working.

        `table_alias` qualifies the columns so the filter can be dropped into a join.
        Constructs the target dialect cannot express raise `SqlFilterError` rather than
        being emitted half-translated.
        """
        target = Dialect.get_or_raise(dialect)
        tree = self.expression.copy()
        for column in list(tree.find_all(exp.Column)):
            column.set("this", exp.to_identifier(column.name, quoted=True))
            if table_alias:
                column.set("table", exp.to_identifier(table_alias, quoted=True))
        if _is_spark(target):
            tree = _spark_day_of_week(tree)
        try:
            return tree.sql(dialect=target, unsupported_level=ErrorLevel.RAISE, comments=False)
        except Exception as error:  # every failure must be a SqlFilterError
            raise SqlFilterError(f"cannot render the filter for {dialect}: {error}") from error


def _is_spark(dialect: Dialect) -> bool:
    """Whether `dialect` is Spark's (Spark2 or a subclass), without importing it: a Spark
    dialect object exists only once sqlglot.dialects.spark2 is loaded, and importing it
    for the test (Hive's and Spark's generators, 0.03 s) cost every DuckDB render, so
    `crmspec validate`, a third of its time in sqlglot."""
    spark2 = sys.modules.get("sqlglot.dialects.spark2")
    return spark2 is not None and isinstance(dialect, spark2.Spark2)


def _spark_day_of_week(tree: exp.Expression) -> exp.Expression:
    # DuckDB numbers weekdays Sunday=0..Saturday=6, Spark Sunday=1..Saturday=7, and sqlglot
    # maps one onto the other unchanged; shift so a filter selects the same customers.
    # Deepest first, so a nested call is shifted before its parent is copied.
    for node in reversed(list(tree.find_all(exp.DayOfWeek))):
        node.replace(exp.paren(exp.Sub(this=node.copy(), expression=exp.Literal.number(1))))
    return tree
