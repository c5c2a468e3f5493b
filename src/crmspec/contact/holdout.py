"""Control groups: which customers an activity holds out, decided by a stable hash of
(salt, activity, customer) so that the same customer is in or out on every run and
every engine."""

from __future__ import annotations

import hashlib

from crmspec.core.sql import sql_str


def bucket_sql(key_sql: str, salt: str) -> str:
    """A stable number in [0, 1) from md5(salt:key), in SQL DuckDB and Spark both run.

    Spark: conv(substr(md5(x), 1, 8), 16, 10) / 4294967296 gives the same value.
    """
    return (f"(CAST(('0x' || substr(md5({sql_str(salt)} || ':' || {key_sql}), 1, 8)) AS BIGINT) "
            f"/ 4294967296.0)")


def bucket(salt: str, key: str) -> float:
    """The Python twin of bucket_sql, for tests and `crmspec explain`."""
    return int(hashlib.md5(f"{salt}:{key}".encode()).hexdigest()[:8], 16) / 4294967296
