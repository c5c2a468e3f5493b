"""Run a compiled plan on DuckDB: facts, features, then every activity's audience.

All activities land in one `candidates` table (one row per activity and qualifying
customer, with the channel's verdict in `status`) in a single set-based statement; the
contact plan (`crmspec.contact`) then decides who is contacted, and counts are read
from its `sends`. No Python touches individual customers.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import duckdb

from crmspec.compile import CompiledPlan
from crmspec.core.diagnostics import PlanError
from crmspec.core.mask import mask_text
from crmspec.core.sql import Runner, execute_all
from crmspec.plan.model import Plan


@dataclass
class ActivityCounts:
    activity_id: str
    eligible: int
    suppressed: dict[str, int]  # reason -> customers not contacted (control excluded)
    sent: int
    control: int = 0


@dataclass
class RunResult:
    activities: list[ActivityCounts]  # filled by count_activities once decided
    stages: dict[str, int]
    customer_types: dict[str, int]
    tiers: dict[str, int]
    segments: dict[str, int]


def _histogram(con, column: str, keys: list[str]) -> dict[str, int]:
    """Counts per value, every expected key present (zeros are news too), in plan order."""
    found = dict(con.execute(
        f'SELECT coalesce(CAST("{column}" AS VARCHAR), \'none\'), count(*) FROM facts '
        f"GROUP BY 1"
    ).fetchall())
    out = {k: found.pop(k, 0) for k in keys}
    out.update(sorted(found.items()))
    return out


def run_plan(con: duckdb.DuckDBPyConnection, compiled: CompiledPlan, plan: Plan,
             runner: Runner | None = None) -> RunResult:
    """Facts, features and the `candidates` of every activity (run by `runner`, default
    DuckDB); counts per stage/segment."""
    with user_sql_errors(con, compiled):
        (runner or execute_all)(con, plan_statements(compiled))
    return count_facts(con, compiled, plan)


def plan_statements(compiled: CompiledPlan) -> list[str]:
    """Every statement of a run in order: the plan's facts and features, then
    `candidates`."""
    return [sql for _, sql in compiled.statements] + [candidates_sql(compiled)]


def run_facts(con: duckdb.DuckDBPyConnection, compiled: CompiledPlan) -> None:
    """The plan's statements: the facts and features of every customer."""
    execute_all(con, [sql for _, sql in compiled.statements])


def run_candidates(con: duckdb.DuckDBPyConnection, compiled: CompiledPlan) -> None:
    """`candidates`: every activity's audience with the channel's verdict, over the
    `features` on the connection."""
    with user_sql_errors(con, compiled):
        con.execute(candidates_sql(compiled))


def candidates_sql(compiled: CompiledPlan) -> str:
    """The statement creating `candidates` (one row per activity and qualifying customer,
    with the channel's verdict in `status`)."""
    if compiled.activities:
        union = "\nUNION ALL\n".join(ca.audience_sql for ca in compiled.activities)
        return f"CREATE OR REPLACE TEMP TABLE candidates AS {union}"
    # the columns of audience_select: a plan that only measures has no activities
    return ("CREATE OR REPLACE TEMP TABLE candidates AS SELECT NULL::VARCHAR AS "
            "customer_id, NULL::VARCHAR AS activity_id, NULL::VARCHAR AS channel, "
            "NULL::VARCHAR AS address, NULL::VARCHAR AS segment, NULL::VARCHAR AS "
            "stage, NULL::VARCHAR AS status WHERE false")


@contextmanager
def user_sql_errors(con: duckdb.DuckDBPyConnection, compiled: CompiledPlan) -> Iterator[None]:
    """A statement over `features` that fails on the shop's data (a value that overflows,
    a division by a zero in the data) because of a `sql:` filter becomes E313 at that
    filter: each filter is run alone to find the one that fails. Any other failure is
    raised as it is (a bug)."""
    try:
        yield
    except duckdb.Error as error:
        try:
            con.execute("SELECT * FROM features LIMIT 0")
        except duckdb.Error:
            raise error from None  # failed before the features: not a filter's doing
        for uc in compiled.user_conditions:
            try:
                con.execute(f"SELECT count(*) FROM features WHERE coalesce(({uc.sql}), false)"
                            ).fetchone()
            except duckdb.Error as own:
                # DuckDB suggests TRY() and settings a filter cannot use: left out
                first = mask_text(str(own).splitlines()[0].split(". Use TRY(")[0])[:300]
                raise PlanError([uc.src.diag(
                    "E313", f"segment '{uc.segment_id}': the SQL filter fails on the shop's "
                    f"data ({first})",
                    "guard it against the values that break it: NULLIF(x, 0) for a "
                    "divisor, CAST(x AS BIGINT) before multiplying")]) from None
        raise error


def count_facts(con: duckdb.DuckDBPyConnection, compiled: CompiledPlan, plan: Plan
                ) -> RunResult:
    """Customers per stage, type, tier and segment (the activities' counts come later,
    from `count_activities`)."""
    seg_counts: dict[str, int] = {}
    if compiled.segments:
        items = list(compiled.segments.items())
        select = ", ".join(f"count(*) FILTER (WHERE coalesce(({cond}), false))"
                           for _, cond in items)
        with user_sql_errors(con, compiled):
            values = con.execute(f"SELECT {select} FROM features").fetchone()
        seg_counts = {sid: n for (sid, _), n in zip(items, values)}
    return RunResult(
        activities=[],
        stages=_histogram(con, "stage", [s.id for s in plan.stages]),
        customer_types=_histogram(con, "customer_type",
                                  ["potential", "new", "returning", "fans"]),
        tiers=_histogram(con, "tier", ["none"] + [t.id for t in plan.tiers]),
        segments=seg_counts,
    )


def count_activities(con: duckdb.DuckDBPyConnection, compiled: CompiledPlan
                     ) -> list[ActivityCounts]:
    """Per activity from `sends`: qualified, why not contacted, contacted, held out."""
    counts = {
        (a, s): n
        for a, s, n in con.execute(
            "SELECT activity_id, status, count(*) FROM sends GROUP BY 1, 2"
        ).fetchall()
    }
    out = []
    for ca in compiled.activities:
        aid = ca.activity.id
        by_status = {s: n for (a, s), n in counts.items() if a == aid}
        suppressed = {s: n for s, n in sorted(by_status.items())
                      if s not in ("send", "control")}
        out.append(ActivityCounts(aid, sum(by_status.values()), suppressed,
                                  by_status.get("send", 0), by_status.get("control", 0)))
    return out
