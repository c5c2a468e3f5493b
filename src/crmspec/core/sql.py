"""SQL text for values crmspec itself puts into statements: string literals, quoted
identifiers and file paths.

Values from YAML never reach SQL as text except through these (or as sqlglot literals,
`crmspec.compile.sql`); a user's own expressions go through `crmspec.safesql`. DuckDB
cannot bind a parameter as a `COPY ... TO` target on every version, hence `quote_path`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


def sql_str(value: object) -> str:
    """A string literal: 'it''s'."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted identifier: "name""s"."""
    return '"' + name.replace('"', '""') + '"'


def quote_path(path: Path | str) -> str:
    """A file path as a SQL string literal (DuckDB cannot bind COPY targets everywhere)."""
    return sql_str(path)


# Runs statements (each a CREATE TABLE|VIEW name AS query) in order on a connection (the
# default: each one on the connection itself), or elsewhere, leaving the tables they
# create on the connection (crmspec.engine.spark.run.SparkRunner). The plan's statements
# (crmspec.engine.run) and the contact plan's (crmspec.contact) go through one.
Runner = Callable[[Any, list[str]], None]


def execute_all(con: Any, statements: list[str]) -> None:
    """The default runner: every statement on the connection, in order."""
    for sql in statements:
        con.execute(sql)
