"""Each KPI metric as one query over all periods at once (docs/kpis.md defines them)."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable

import duckdb

from crmspec.analysis.kpi.periods import PERIODS, Period
from crmspec.analysis.kpi.results import (
    LEDGER_NOTE,
    NEEDS_LEDGER,
    NO_DATA,
    PENDING,
    KpiRow,
    target_status,
)
from crmspec.analysis.kpi.tables import (
    Recency,
    band_condition,
    create_customer_periods,
    create_periods,
    create_purchases,
    date_sql,
    period_index_sql,
    sweep,
    tier_intervals,
    type_filter,
)
from crmspec.compile.facts import purchase_orders_sql
from crmspec.plan.kpis import COUNT, SLEEPING_DEFAULT, UNITS
from crmspec.plan.model import Kpi, Plan


# Metrics computed from kpi_cp: (filter on the customer-period, numerator, denominator).
def _cp_metric(k: Kpi) -> tuple[str, str, str | None]:
    p, m = k.params, k.metric
    customers = p.get("customers", "all")
    buyers = type_filter("n_before", customers, 0)  # new: first purchase in the period
    n = p.get("within_days")
    if m in ("repeat_purchasers", "repeat_purchase_rate"):
        repeat = "purchases >= 2" if n is None else f"min_gap <= {int(n)}"
        num = f"count(*) FILTER (WHERE {repeat})"
        return buyers, num, (None if m == "repeat_purchasers" else "count(*)")
    if m == "purchasers":
        return buyers, "count(*)", None
    if m == "active_arpu":
        return buyers, "sum(spend)", "count(*)"
    if m == "aov":
        return buyers, "sum(spend)", "sum(purchases)"
    if m == "retention":
        return buyers, f"count(*) FILTER (WHERE next_after - last_in <= {int(n)})", "count(*)"
    if m == "second_purchase_rate":
        return "n_before = 0", f"count(*) FILTER (WHERE second_gap <= {int(n)})", "count(*)"
    # stage_purchase_rate (numerator only) and cohort_order_value: customers in the band
    # at the start of the period (as of the day before it) who purchased during it.
    if m == "stage_purchase_rate":
        lo, hi = p["from_days"], p.get("to_days")
    else:
        lo, hi = 0, n
    days = "(start - 1 - last_before)"
    band = f"last_before IS NOT NULL AND {band_condition(days, lo, hi)} AND " \
           f"{type_filter('n_before', customers, 1)}"
    if m == "stage_purchase_rate":
        return band, "count(*)", None
    return band, "sum(spend)", "sum(purchases)"


def _cp_query(con, where: str, num: str, den: str | None) -> dict[date, tuple]:
    den_sql = den or "NULL"
    rows = con.execute(f"""
SELECT p.start, coalesce(c.num, 0), c.den FROM kpi_periods p LEFT JOIN (
  SELECT start, {num} AS num, {den_sql} AS den FROM kpi_cp WHERE {where} GROUP BY start
) c USING (start)""").fetchall()
    return {s: (num_v, den_v) for s, num_v, den_v in rows}


def _has_ledger_runs(con: duckdb.DuckDBPyConnection) -> bool:
    attached = con.execute("SELECT count(*) FROM duckdb_databases() "
                           "WHERE database_name = 'ledger'").fetchone()[0]
    return bool(attached) and con.execute("SELECT count(*) FROM ledger.runs").fetchone()[0] > 0


def _contact_response(con, plan: Plan, as_of: date, unit: str, k: Kpi
                      ) -> dict[date, tuple[int, int, datetime | None]] | None:
    """reactivation_rate / activation_rate per period: (customers contacted by the
    activity (treatment group, runs dated in the period) who bought within the response
    window after a send, customers contacted, when the last window closes); None when the
    ledger holds no run. The window and the purchase are those of `crmspec evaluate`:
    send time <= paid_at < send time + evaluation.window_days days."""
    if not _has_ledger_runs(con):
        return None
    window = int(plan.shop.evaluation.window_days)
    customers = k.params.get("customers", "all")
    activity = str(k.params["activity"]).replace("'", "''")
    # new / returning: purchases before the send (same_day once: distinct days)
    counted = "count(DISTINCT b.purchase_date)" if plan.shop.same_day == "once" else \
        "count(b.paid_at)"
    rows = con.execute(f"""
WITH purchases AS ({purchase_orders_sql(plan.shop, as_of)}
), contacts AS (
  SELECT c.as_of, c.customer_id, coalesce(c.scheduled_at, CAST(c.as_of AS TIMESTAMP)) AS sent_at
  FROM ledger.contacts c
  WHERE c.activity_id = '{activity}' AND c.grp = 'treatment' AND c.as_of <= {date_sql(as_of)}
), typed AS (
  SELECT c.as_of, c.customer_id, c.sent_at, {counted} AS purchases_before
  FROM contacts c LEFT JOIN purchases b ON b.customer_id = c.customer_id
   AND b.paid_at < c.sent_at
  GROUP BY ALL
), responses AS (
  SELECT c.as_of, c.customer_id, c.sent_at, count(p.paid_at) > 0 AS bought
  FROM typed c LEFT JOIN purchases p ON p.customer_id = c.customer_id
   AND p.paid_at >= c.sent_at AND p.paid_at < c.sent_at + INTERVAL ({window}) DAY
  WHERE {type_filter("c.purchases_before", customers, 1)}
  GROUP BY ALL
)
SELECT p.start, count(DISTINCT r.customer_id) FILTER (WHERE r.bought),
       count(DISTINCT r.customer_id), max(r.sent_at) + INTERVAL ({window}) DAY
FROM kpi_periods p JOIN responses r ON {period_index_sql("r.as_of", unit)} = p.idx
GROUP BY p.start""").fetchall()
    return {s: (int(n), int(d), closes) for s, n, d, closes in rows}


def _num(v):
    if isinstance(v, Decimal):
        return float(v) if v != v.to_integral_value() else int(v)
    return v


def compute(con: duckdb.DuckDBPyConnection, plan: Plan, as_of: date, unit: str,
            periods: list[Period], kpis: Iterable[Kpi] | None = None,
            timings: dict[str, float] | None = None) -> list[KpiRow]:
    """Every KPI for `periods` (consecutive, complete by `as_of`) on a connection holding
    the canonical tables as of `as_of` (`build.prepare`). The first period only provides
    the previous values of the second; it is not returned. `timings`, if given, receives
    the seconds spent per step (the benchmark reads them)."""
    if unit not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}")
    kpis = list(plan.kpis if kpis is None else kpis)
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        if timings is not None:
            now = time.perf_counter()
            timings[name] = timings.get(name, 0.0) + now - clock
            clock = now

    tiers = any(k.metric == "members_per_tier" for k in kpis) and not plan.tier_window_days
    create_purchases(con, plan, as_of, running_spend=tiers)
    lap("purchases")
    create_periods(con, periods, unit)
    create_customer_periods(con, unit, periods[0].start, periods[-1].end)
    lap("customer_periods")
    rows: list[KpiRow] = []
    recency = Recency(con, unit)
    for k in kpis:
        rows += _compute_one(con, plan, as_of, unit, periods, k, recency)
        lap(f"kpi:{k.id}")
    order = {k.id: i for i, k in enumerate(kpis)}
    rows.sort(key=lambda r: (r.start, order[r.kpi], _group_rank(plan, r.group)))
    return [r for r in rows if r.start != periods[0].start]


def _compute_one(con, plan: Plan, as_of: date, unit: str, periods: list[Period],
                 k: Kpi, recency: Recency) -> list[KpiRow]:
    p, m = k.params, k.metric
    customers = p.get("customers", "all")
    kind = UNITS[m]
    # (period start, group) -> (numerator, denominator or None for counts)
    values: dict[tuple[date, str | None], tuple] = {}
    notes: dict[date, str] = {}
    statuses: dict[date, str] = {}
    if m in ("reactivation_rate", "activation_rate"):
        found = _contact_response(con, plan, as_of, unit, k)
        for per in periods:
            if found is None:
                values[(per.start, None)] = (None, None)
                statuses[per.start], notes[per.start] = NEEDS_LEDGER, LEDGER_NOTE
                continue
            numv, denv, closes = found.get(per.start, (0, 0, None))
            values[(per.start, None)] = (int(numv), int(denv))
            if closes is not None and closes > datetime.combine(
                    as_of + timedelta(days=1), datetime.min.time()):
                statuses[per.start] = PENDING
                notes[per.start] = (f"the {plan.shop.evaluation.window_days}-day response "
                                    f"windows of the period's contacts close on "
                                    f"{closes:%Y-%m-%d %H:%M}")
    elif m == "members_per_tier":
        counts = sweep(con, tier_intervals(plan, customers, as_of), unit, at_start=False)
        for per in periods:
            for t in plan.tiers:
                values[(per.start, t.id)] = (counts.get((per.start, t.id), 0), None)
    elif m == "sleeping_members":
        lo = p.get("from_days", SLEEPING_DEFAULT[0])
        hi = p.get("to_days", SLEEPING_DEFAULT[1] if "from_days" not in p else None)
        counts = recency.band(lo, hi, customers, at_start=False)
        for per in periods:
            values[(per.start, None)] = (counts.get(per.start, 0), None)
    else:
        where, num, den = _cp_metric(k)
        found = _cp_query(con, where, num, den)
        if m == "stage_purchase_rate":
            base = recency.band(p["from_days"], p.get("to_days"), customers, at_start=True)
            found = {s: (v[0], base.get(s, 0)) for s, v in found.items()}
        for per in periods:
            numv, denv = found[per.start]
            if den is None and m != "stage_purchase_rate":
                denv = None
            values[(per.start, None)] = (_num(numv), int(denv) if denv is not None else None)
            if m in ("second_purchase_rate", "retention"):
                closes = per.end + timedelta(days=int(p["within_days"]))
                if closes > as_of:
                    statuses[per.start] = PENDING
                    notes[per.start] = (f"the {p['within_days']}-day window of the period's "
                                        f"customers closes on {closes.isoformat()}")
    out = []
    by_start = {per.start: per for per in periods}
    prev: dict[str | None, float | int | None] = {}
    for (start, group), (numv, denv) in sorted(values.items(), key=lambda kv: (
            kv[0][0], _group_rank(plan, kv[0][1]))):
        per = by_start[start]
        row = KpiRow(per.label, per.start, per.end, k.id, k.name, m, group, kind, None,
                     note=notes.get(start))
        if statuses.get(start) in (PENDING, NEEDS_LEDGER):
            row.status = statuses[start]
            row.denominator = denv if statuses[start] == PENDING else None
        elif kind == COUNT:
            row.value = row.numerator = int(numv)
        else:
            row.numerator, row.denominator = numv, denv
            if denv:
                row.value = numv / denv
            else:
                row.status = NO_DATA
        if row.value is not None:
            row.status = target_status(row.value, p.get("target"), unit)
        before = prev.get(group)
        row.previous = before
        if row.value is not None and before is not None:
            row.change = row.value - before
            row.ratio = row.value / before if before else None
        prev[group] = row.value
        out.append(row)
    return out


def _group_rank(plan: Plan, group: str | None) -> int:
    return next((t.rank for t in plan.tiers if t.id == group), 0)
