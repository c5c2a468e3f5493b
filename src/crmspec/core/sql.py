"""SQL text for values crmspec itself puts into statements: string literals, quoted
identifiers and file paths.

Values from YAML never reach SQL as text except through these (or as sqlglot literals,
`crmspec.compile.sql`); a user's own expressions go through `crmspec.safesql`. DuckDB
cannot bind a parameter as a `COPY ... TO` target on every version, hence `quote_path`.
"""

from __future__ import annotations

from pathlib import Path


def sql_str(value: object) -> str:
    """A string literal: 'it''s'."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted identifier: "name""s"."""
    return '"' + name.replace('"', '""') + '"'


def quote_path(path: Path | str) -> str:
    """A file path as a SQL string literal (DuckDB cannot bind COPY targets everywhere)."""
    return sql_str(path)
