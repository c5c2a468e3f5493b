"""Control groups: which customers an activity holds out, decided by a stable hash of
(salt, activity, customer) so that the same customer is in or out on every run and
every engine."""

from __future__ import annotations

import hashlib

from crmspec.core.sql import sql_str


def bucket_sql(key_sql: str, salt: str) -> str:
    """A stable number in [0, 1) from md5(salt:key): its first 32 bits over 2^32.

    A DOUBLE divided by a power of two, exact on both engines (a BIGINT over the
    decimal literal is a DECIMAL quotient on Spark, rounded); the hexadecimal cast
    becomes CONV(digits, 16, 10) on Spark (crmspec.engine.spark.dialect)."""
    return (f"(CAST(CAST(('0x' || substr(md5({sql_str(salt)} || ':' || {key_sql}), 1, 8)) "
            f"AS BIGINT) AS DOUBLE) / 4294967296.0)")


def bucket(salt: str, key: str) -> float:
    """The Python twin of bucket_sql, for tests and `crmspec explain`."""
    return int(hashlib.md5(f"{salt}:{key}".encode()).hexdigest()[:8], 16) / 4294967296
