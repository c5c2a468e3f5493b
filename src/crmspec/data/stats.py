"""What a Parquet file's own statistics prove about a column, without reading its rows.

Every row group of a Parquet file records, per column, how many of its values are NULL
and the smallest and largest of the others. When every row group has them, they bound
the whole column: no NULL when the counts are all 0, every value between the smallest
minimum and the largest maximum. The checking pass (`crmspec.data.cleaning`) uses this
to leave out the per-row tests the statistics rule out (no order without an amount, none
after the as-of date), so that a clean export is checked for what only its rows can
tell (unknown customers, statuses, the row hash).

These are the statistics DuckDB itself trusts to skip row groups when a build's query
filters a column (a date range, a status), so the checks trust them no more than every
read of the files already does. Only integer-coded columns are used (INT32 and INT64:
integers, dates, timestamps, decimals of up to 18 digits), whose minimum and maximum
Parquet defines as numbers; text and INT96 statistics have had writer-dependent orders.
A file without statistics, or with a row group lacking them, proves nothing: its rows
are tested as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crmspec.core.sql import sql_str


@dataclass(frozen=True)
class Bounds:
    """A column over every one of a file's `rows`: `nulls` of them NULL, the others
    between `lo` and `hi`, SQL literals of the column's type (None: not known, as when
    only the NULLs were asked for, or no value to bound when `nulls` == `rows`)."""

    rows: int
    nulls: int
    lo: str | None
    hi: str | None


def parquet_bounds(con, file: Path, columns: dict[str, str | None], cache=None
                   ) -> dict[str, Bounds]:
    """`columns`: source column -> the DuckDB type its values are read as (None: only
    its NULLs are asked for). Returns the columns every row group of `file` has complete
    statistics for (a column left out proves nothing).

    `cache`: the attach's `CheckCache`, keyed by every source file's identity: a re-run
    on the same files reads the footer's figures from it (at 100k customers the three
    files' metadata were 0.05-0.07 s of every build).

    One pass over the file's metadata for every column, each column's aggregates
    filtered to its rows: a `parquet_metadata()` per column re-read the footer each
    time (at 1M customers 13 of them were 0.25 s of every build, warm or cold)."""
    if not columns:
        return {}
    aggregates, params = ["count(DISTINCT row_group_id)"], []
    for i, (name, typ) in enumerate(columns.items()):
        mine = f"FILTER (WHERE path_in_schema = ${i + 1})"
        params.append(name)
        # One chunk per row group, each with a NULL count and, unless all its values are
        # NULL, both extremes; stored as integers.
        ok = ("stats_null_count IS NOT NULL AND type IN ('INT32', 'INT64') AND "
              "(stats_null_count = row_group_num_rows OR (stats_min_value IS NOT NULL "
              "AND stats_max_value IS NOT NULL))")
        if typ is not None:
            lo = f"TRY_CAST(stats_min_value AS {typ})"
            hi = f"TRY_CAST(stats_max_value AS {typ})"
            # The extremes as stored, not rounded (the latest order date is read from them).
            ok += (" AND coalesce(min_is_exact, true) AND coalesce(max_is_exact, true) AND "
                   f"(stats_min_value IS NULL OR {lo} IS NOT NULL) AND "
                   f"(stats_max_value IS NULL OR {hi} IS NOT NULL)")
            extremes = [f"CAST(min({lo}) {mine} AS VARCHAR)", f"CAST(max({hi}) {mine} AS VARCHAR)"]
        else:
            extremes = ["NULL", "NULL"]
        aggregates += [f"count(*) {mine}", f"count(DISTINCT row_group_id) {mine}",
                       f"bool_and({ok}) {mine}", f"sum(row_group_num_rows) {mine}",
                       f"sum(stats_null_count) {mine}", *extremes]
    sql = f"SELECT {', '.join(aggregates)} FROM parquet_metadata({sql_str(str(file))})"
    key = f"{sql} -- {params}"
    row = cache.get(key) if cache is not None else None
    if row is None or len(row) != 1 + 7 * len(columns):  # none, or not this query's
        row = list(con.execute(sql, params).fetchone())
        if cache is not None:
            cache.put(key, row)
    groups, out = row[0], {}
    for i, (name, typ) in enumerate(columns.items()):
        chunks, chunk_groups, ok, rows, nulls, lo, hi = row[1 + 7 * i: 8 + 7 * i]
        if chunks == groups and chunk_groups == groups and ok is True:
            out[name] = Bounds(int(rows), int(nulls), *(
                None if typ is None or v is None else f"CAST({sql_str(v)} AS {typ})"
                for v in (lo, hi)))
    return out
