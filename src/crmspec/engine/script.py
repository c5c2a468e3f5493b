"""The statements that prepare a connection, kept so that `crmspec compile` can print a
script that runs as printed.

The compiled plan reads the canonical tables (`customers`, `orders`, `events`), the
do-not-contact list and the ledger, which the session creates on the connection
(attachments, views over the shop's files, the checking pass). `RecordingConnection`
runs everything on a real DuckDB connection and keeps the statements that change it, in
order. Anything it cannot print as SQL (a statement with bound parameters, a Python
object registered as a table) is named instead, and the script then says on its first
line what it assumes rather than pretending to run.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

# Statements that change the connection (what a script must repeat); reads are not kept.
_CHANGES = re.compile(r"^\s*(CREATE|ATTACH|DETACH|SET|INSERT|DROP|ALTER|USE|INSTALL|LOAD)\b",
                      re.IGNORECASE)
# Connection methods that create objects from Python values: not printable as SQL.
_PYTHON_OBJECTS = ("register", "from_df", "from_arrow", "from_query", "read_csv",
                   "read_json", "read_parquet", "create_function")


class RecordingConnection:
    """A DuckDB connection (every attribute is the real one's) that keeps the statements
    changing it in `statements` and what it could not keep in `unprintable`."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self.statements: list[str] = []
        self.unprintable: list[str] = []

    def _keep(self, sql: str, params: Any) -> None:
        if not _CHANGES.match(sql):
            return
        if params:
            self.unprintable.append(f"a statement with bound parameters ({sql.split()[0]} "
                                    f"{' '.join(sql.split()[1:4])} ...)")
        else:
            self.statements.append(sql.strip().rstrip(";"))

    def execute(self, sql: str, parameters: Any = None):
        self._keep(sql, parameters)
        if parameters is None:
            return self._con.execute(sql)
        return self._con.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any = None):
        self._keep(sql, parameters if parameters is not None else [()])
        return self._con.executemany(sql, parameters)

    def not_printable(self, what: str) -> None:
        """A step the session took that its statements cannot repeat (a table read from
        a copy that only lives during the session): the script says what it assumes."""
        self.unprintable.append(what)

    def __getattr__(self, name: str):
        if name in _PYTHON_OBJECTS:
            self.unprintable.append(f"a table made from a Python object ({name})")
        return getattr(self._con, name)
