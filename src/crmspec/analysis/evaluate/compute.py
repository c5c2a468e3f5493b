"""The evaluation computed: contacts joined to purchases per activity and run in one
query, then the statistics, power, pooling and the total per row."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import duckdb

from crmspec.analysis.evaluate.results import (
    ACTIVITY,
    NO_CONTACTS,
    NO_CONTROL,
    NO_TREATMENT,
    NOT_SIGNIFICANT,
    NOTHING,
    PENDING,
    RUN,
    SIGNIFICANT,
    SUM,
    TOTAL,
    TOTAL_ID,
    UNDERPOWERED,
    EvalRow,
)
from crmspec.analysis.evaluate.stats import compare
from crmspec.compile.facts import purchase_orders_sql
from crmspec.core.sql import sql_str
from crmspec.plan.model import Plan


def response_sql(plan: Plan, as_of: date, window_days: int, activities: list[str] | None
                 ) -> str:
    """Per activity and run: group sizes, responders, responders' revenue, cost, send time.

    Set-based: the ledger's contacts left-joined to the purchases of their customers
    within each contact's window, one row per contact, then one GROUP BY."""
    where = ""
    if activities is not None:
        where = "WHERE activity_id IN (" + ", ".join(sql_str(a) for a in activities) + ")"
    return f"""
WITH contacts AS (
  SELECT as_of AS run, activity_id, customer_id, grp, CAST(cost AS DOUBLE) AS cost,
         coalesce(scheduled_at, CAST(as_of AS TIMESTAMP)) AS sent_at
  FROM ledger.contacts {where}
), purchases AS (
  {purchase_orders_sql(plan.shop, as_of)}
), responses AS (
  SELECT c.run, c.activity_id, c.customer_id, c.grp, c.cost, c.sent_at,
         count(p.paid_at) AS orders, coalesce(sum(p.amount), 0) AS revenue
  FROM contacts c LEFT JOIN purchases p ON p.customer_id = c.customer_id
   AND p.paid_at >= c.sent_at AND p.paid_at < c.sent_at + INTERVAL ({int(window_days)}) DAY
  GROUP BY ALL
)
SELECT activity_id, run, min(sent_at) AS sent_at,
  max(sent_at) + INTERVAL ({int(window_days)}) DAY AS window_closes,
  count(*) FILTER (WHERE grp = 'treatment') AS treatment,
  count(*) FILTER (WHERE grp = 'control') AS control,
  count(*) FILTER (WHERE grp = 'treatment' AND orders > 0) AS treatment_responders,
  count(*) FILTER (WHERE grp = 'control' AND orders > 0) AS control_responders,
  coalesce(sum(revenue) FILTER (WHERE grp = 'treatment'), 0) AS treatment_revenue,
  coalesce(sum(cost) FILTER (WHERE grp = 'treatment'), 0) AS cost
FROM responses GROUP BY activity_id, run ORDER BY activity_id, run"""


def _fill(row: EvalRow, alpha: float, power_target: float, baseline: float,
          min_effect: float | None) -> EvalRow:
    """Status, statistics, money and power of a row whose counts are set."""
    from crmspec.contact.power import check_groups

    nt, nc = row.treatment, row.control
    if row.status == PENDING:
        return row
    if nt == 0 and nc == 0:
        row.status = NO_CONTACTS
        return row
    if nc == 0:
        row.status = NO_CONTROL
        row.note = row.note or "nobody was held out: there is nothing to compare with"
    elif nt == 0:
        row.status = NO_TREATMENT
        row.note = row.note or "everybody was held out"
    if nt:
        row.treatment_rate = row.treatment_responders / nt
        row.revenue_per_responder = (row.treatment_revenue / row.treatment_responders
                                     if row.treatment_responders else None)
    if nc:
        row.control_rate = row.control_responders / nc
    if nt and nc:
        s = compare(row.treatment_responders, nt, row.control_responders, nc, alpha)
        row.uplift, row.uplift_low, row.uplift_high = s.uplift, s.uplift_low, s.uplift_high
        row.relative_uplift, row.relative_low, row.relative_high = (
            s.relative_uplift, s.relative_low, s.relative_high)
        row.p_value = s.p_value
        row.status = SIGNIFICANT if s.p_value < alpha else NOT_SIGNIFICANT
        row.incremental_orders = nt * s.uplift
        row.incremental_revenue = row.incremental_orders * (row.revenue_per_responder or 0.0)
        row.roi = row.incremental_revenue / row.cost if row.cost > 0 else None
        check = check_groups(nt, nc, row.treatment_responders + row.control_responders,
                             baseline, min_effect, alpha, power_target)
        row.power, row.underpowered = check.power, not check.enough
        if row.underpowered:  # no verdict from groups this small, whatever the p-value
            row.status = UNDERPOWERED
            row.needed_audience = check.needed_audience
            if check.needed_audience:
                per_run = (nt + nc) / max(row.runs, 1)
                row.runs_needed = math.ceil(check.needed_audience / per_run)
            row.note = "; ".join(n for n in (row.note, _underpowered_note(row, check, min_effect))
                                 if n)
    return row


def _underpowered_note(row: EvalRow, check, min_effect: float | None) -> str:
    """Why a result is underpowered and how many runs must be pooled."""
    if check.rule == "power":
        why = (f"{row.power * 100:.0f}% power to show the plan's minimum effect "
               f"(+{min_effect * 100:g} pp)")
    else:
        why = ("fewer than 5 expected responders or non-responders in a group, the "
               "z-test's minimum (no min_effect to check power against)")
    if not check.needed_audience:
        return f"underpowered: {why}; no audience size is enough at this response rate"
    like = "this one" if row.level == RUN else f"these ({row.runs} so far)"
    return (f"underpowered: {why}; about {check.needed_audience:,} customers (treated + "
            f"held out) are needed at this hold-out share: pool about "
            f"{row.runs_needed:,} runs like {like}")


def _false_discovery_rate(rows: list[EvalRow], alpha: float) -> None:
    """Benjamini-Hochberg across the activity rows with a p-value: with twenty activities
    judged at once, about one is 'significant' at 0.05 by chance alone. Every tested
    activity is in the family, underpowered ones too (they were tested); the verdict
    stays underpowered for them."""
    from statsmodels.stats.multitest import multipletests

    tested = [r for r in rows if r.level == ACTIVITY and r.p_value is not None]
    if not tested:
        return
    reject, q, _, _ = multipletests([r.p_value for r in tested], alpha=alpha,
                                    method="fdr_bh")
    for r, rejected, qv in zip(tested, reject, q):
        r.q_value = float(qv)
        r.fdr_status = (UNDERPOWERED if r.underpowered
                        else SIGNIFICANT if rejected else NOT_SIGNIFICANT)


def _pool(activity: str, runs: list[EvalRow], window: int) -> EvalRow:
    """An activity's closed runs as one sample (each contact one observation)."""
    closed = [r for r in runs if r.status != PENDING]
    pending = len(runs) - len(closed)
    row = EvalRow(ACTIVITY, activity, None, len(closed), window,
                  min((r.sent_at for r in closed if r.sent_at), default=None),
                  max((r.window_closes for r in closed if r.window_closes), default=None),
                  PENDING if runs and not closed else "")
    row.treatment = sum(r.treatment for r in closed)
    row.control = sum(r.control for r in closed)
    row.treatment_responders = sum(r.treatment_responders or 0 for r in closed)
    row.control_responders = sum(r.control_responders or 0 for r in closed)
    row.treatment_revenue = sum(r.treatment_revenue or 0.0 for r in closed)
    row.cost = sum(r.cost for r in closed)
    if pending:
        closes = max(r.window_closes for r in runs if r.status == PENDING)
        row.note = (f"{pending} run(s) pending (the last window closes "
                    f"{closes:%Y-%m-%d %H:%M}); not included")
        if not closed:
            row.treatment_responders = row.control_responders = row.treatment_revenue = None
            row.window_closes = closes
    return row


def pool_runs(plan: Plan, activity: str, runs: list[EvalRow], window_days: int) -> EvalRow:
    """Some runs of one activity (run rows of `compute`) pooled and evaluated like an
    activity's row: the SOP site's battle record before and after a revision."""
    ev = plan.shop.evaluation
    effect = next((a.min_effect for a in plan.activities if a.id == activity), None)
    return _fill(_pool(activity, runs, window_days), ev.alpha, ev.power,
                 ev.baseline_response, effect or ev.min_effect)


def _total(rows: list[EvalRow], window: int) -> EvalRow:
    """The activities with a measured uplift, added up: sizes, cost, incremental orders and
    revenue, ROI. No pooled rate or test: the activities' audiences differ."""
    measured = [r for r in rows if r.uplift is not None]
    row = EvalRow(TOTAL, TOTAL_ID, None, sum(r.runs for r in measured), window, None, None,
                  SUM if measured else NOTHING)
    row.treatment = sum(r.treatment for r in measured)
    row.control = sum(r.control for r in measured)
    row.treatment_responders = sum(r.treatment_responders for r in measured)
    row.control_responders = sum(r.control_responders for r in measured)
    row.treatment_revenue = sum(r.treatment_revenue for r in measured)
    row.cost = sum(r.cost for r in measured)
    row.incremental_orders = sum(r.incremental_orders for r in measured)
    row.incremental_revenue = sum(r.incremental_revenue for r in measured)
    row.roi = row.incremental_revenue / row.cost if row.cost > 0 else None
    others = len(rows) - len(measured)
    row.note = (f"{len(measured)} {'activity' if len(measured) == 1 else 'activities'} "
                "with a measured uplift"
                + (f"; {others} without (no control group, no closed run)" if others else ""))
    return row


def compute(con: duckdb.DuckDBPyConnection, plan: Plan, as_of: date, window_days: int,
            activities: list[str] | None = None) -> list[EvalRow]:
    """Rows per activity and run, per activity, and the total, on a connection holding the
    canonical tables as of `as_of` and the ledger (`build.prepare`)."""
    ev = plan.shop.evaluation
    alpha, target, baseline = ev.alpha, ev.power, ev.baseline_response
    effects = {a.id: a.min_effect or ev.min_effect for a in plan.activities}
    data_end = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    found = con.execute(response_sql(plan, as_of, window_days, activities)).fetchall()
    truth = _truth(con)
    expected = _expected(con, plan, as_of, window_days, activities) if truth else {}
    by_activity: dict[str, list[EvalRow]] = {}
    for (aid, run, sent_at, closes, nt, nc, rt, rc, revenue, cost) in found:
        row = EvalRow(RUN, aid, run, 1, window_days, sent_at, closes, "", int(nt), int(nc),
                      int(rt), int(rc), cost=float(cost), treatment_revenue=float(revenue))
        if closes > data_end:
            row.status = PENDING
            row.treatment_responders = row.control_responders = None
            row.treatment_revenue = None
            row.note = (f"the window closes {closes:%Y-%m-%d %H:%M}; the data ends "
                        f"{as_of.isoformat()}")
        by_activity.setdefault(aid, []).append(row)
    for aid in activities or []:
        by_activity.setdefault(aid, [])
    out: list[EvalRow] = []
    totals: list[EvalRow] = []
    for aid in sorted(by_activity):
        effect = effects.get(aid, ev.min_effect)
        runs = [_fill(r, alpha, target, baseline, effect) for r in by_activity[aid]]
        pooled = _fill(_pool(aid, runs, window_days), alpha, target, baseline, effect)
        if not runs:
            pooled.note = "the ledger holds no contact of this activity"
        for r in runs + [pooled]:
            r.true_uplift = truth.get(aid)
            if r.status in (PENDING, NO_CONTACTS) or not (r.treatment and r.control):
                continue
            keys = [(aid, r.run)] if r.level == RUN else [
                (aid, x.run) for x in runs if x.status != PENDING]
            t = [expected.get(k + ("treatment",), (0, 0.0)) for k in keys]
            c = [expected.get(k + ("control",), (0, 0.0)) for k in keys]
            nt, st = sum(n for n, _ in t), sum(v for _, v in t)
            nc, sc = sum(n for n, _ in c), sum(v for _, v in c)
            if truth and nt and nc:
                r.expected_uplift = st / nt - sc / nc
        out += runs + [pooled]
        totals.append(pooled)
    _false_discovery_rate(out, alpha)
    if activities is None and totals:
        out.append(_total(totals, window_days))
    return out


def _expected(con: duckdb.DuckDBPyConnection, plan: Plan, as_of: date, window_days: int,
              activities: list[str] | None) -> dict[tuple, tuple[int, float]]:
    """(activity, run, grp) -> (contacts, expected responders) under the simulation."""
    from crmspec.analysis.simulate import expected_sql

    return {(a, run, grp): (int(n), float(v)) for a, run, grp, n, v in con.execute(
        expected_sql(plan, as_of, window_days, activities)).fetchall()}


def _truth(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """The uplift per activity a demo simulation (crmspec.analysis.simulate) put in, if any."""
    has = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'ledger' "
                      "AND table_name = 'simulation'").fetchone()[0]
    if not has:
        return {}
    return {a: float(u) for a, u in con.execute(
        "SELECT activity_id, uplift FROM ledger.simulation").fetchall()}
