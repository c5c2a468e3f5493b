"""User-written SQL conditions, made safe: the `sql:` escape hatch of a segment.

Plans are edited by many people, so a segment's `sql:` text is untrusted input that ends up
inside queries run against the shop's data. It therefore never reaches an engine as text:
it is parsed with sqlglot, every node of the tree is checked against an explicit allowlist
(anything not listed is refused, so new sqlglot node types or DuckDB features fail closed),
every column must be one the caller declared, and the SQL that is run is generated again
from the checked tree. Regenerating also lets the same filter run on Spark.

Errors carry a character offset so the YAML validator can point at the exact spot in the
plan; all failures, including sqlglot's own exceptions, surface as `SqlFilterError` so a bad
plan is reported rather than crashing a build.

Modules: `vocabulary` (what a filter may say), `checker` (checking a text against it),
`checked` (the result: `SafeFilter`, rendered per engine, or `SqlFilterError`).
May import: nothing of crmspec (sqlglot only), so that any layer can check a user's
expression the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from crmspec.safesql.checked import SafeFilter, SqlFilterError
from crmspec.safesql.checker import Checker
from crmspec.safesql.vocabulary import ALLOWED_FUNCTIONS, CONDITION_HINT, MAX_FILTER_LENGTH

__all__ = ["ALLOWED_FUNCTIONS", "MAX_FILTER_LENGTH", "SafeFilter", "SqlFilterError",
           "parse_filter", "parse_value"]

def parse_filter(text: str, columns: Mapping[str, str]) -> SafeFilter:
    """Check a segment's `sql:` condition and return it in a form that is safe to run.

    `columns` maps each column the filter may read to its DuckDB type; the types tell which
    bare columns are already conditions (BOOLEAN ones).
    """
    return _checked(text, columns, True)


def parse_value(text: str, columns: Mapping[str, str]) -> SafeFilter:
    """Check an expression computing a value (a derived column of a shop's export, e.g.
    `单价 * 数量`) with the same vocabulary as a filter; it need not be a condition."""
    return _checked(text, columns, False)


def _checked(text: str, columns: Mapping[str, str], condition: bool) -> SafeFilter:
    """The checked filter; a plan's filters are checked by validate and compiled twice by
    a build, with the same columns: checked once (`_cached`), each caller gets its own
    copy of the tree. A filter that fails is checked again (the error is not kept)."""
    if not isinstance(text, str):
        return _check(text, columns, condition)
    safe = _cached(text, tuple(sorted((str(k), str(v)) for k, v in columns.items())),
                   condition)
    return SafeFilter(expression=safe.expression.copy(), columns=safe.columns)


@functools.lru_cache(maxsize=4096)
def _cached(text: str, columns: tuple[tuple[str, str], ...], condition: bool) -> SafeFilter:
    return _check(text, dict(columns), condition)


def _check(text, columns: Mapping[str, str], condition: bool) -> SafeFilter:
    try:
        return Checker(text, columns, condition).run()
    except SqlFilterError:
        raise
    except RecursionError as error:
        raise SqlFilterError(
            "the filter is nested too deeply; simplify it or split it into several segments",
            None,
        ) from error
    except Exception as error:  # never let a plan crash the build
        raise SqlFilterError(
            f"could not check the filter ({type(error).__name__}: {error}); "
            f"write a plain condition {CONDITION_HINT}",
            None,
        ) from error


