"""KPIs of plans/kpis.yaml per week or month, computed set-based in DuckDB (`crmspec kpi`).

Every definition (period boundaries, "at the start of the period", denominators, the
day-N boundaries, targets) is in docs/kpis.md; this module follows it line by line.

How it is computed, so that three years of weekly KPIs of a shop with millions of orders
take seconds:

- `kpi_purchases`: one row per purchase (shop.yaml `purchase`: the orders of
  `compile.purchase_orders_sql`, several orders of one day merged when `same_day: once`),
  with the customer's purchase number `n` and the dates of the previous and next purchase.
- `kpi_cp`: one row per customer and period with a purchase (what the customer did in
  the period, the last purchase before it, the next one after it). Every metric about
  the period's purchasers is one GROUP BY over this table.
- Metrics about everyone in a recency band at a point in time (the denominators of the
  stage purchase rates, sleeping members, members per tier) never join customers to
  periods: each purchase opens an interval of days during which it is the customer's
  last purchase and the customer is in the band; the intervals become +1/-1 events at
  period starts and a running sum counts, per period, the customers in the band.

One query per KPI covers all periods at once; Python only loops over KPIs and formats.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable

import duckdb

# _rank_case: the tier rule of the build's facts, reused so the two cannot disagree
from crmspec.compile import _rank_case, purchase_orders_sql
from crmspec.diagnostics import Diagnostic, PlanError
from crmspec.model import Kpi, Plan, Src
from crmspec.tabular import csv_text

PERIODS = ("week", "month")
FORMATS = ("table", "csv", "json", "markdown")
DEFAULT_PERIODS = 12  # periods shown when --from is not given

RATE, MONEY, COUNT = "rate", "money", "count"
UNITS = {
    "repeat_purchase_rate": RATE,
    "second_purchase_rate": RATE,
    "stage_purchase_rate": RATE,
    "cohort_order_value": MONEY,
    "retention": RATE,
    "reactivation_rate": RATE,
    "activation_rate": RATE,
    "active_arpu": MONEY,
    "aov": MONEY,
    "members_per_tier": COUNT,
    "sleeping_members": COUNT,
    "purchasers": COUNT,
    "repeat_purchasers": COUNT,
}

# Parameters each metric kind reads (besides description and target). Any other given
# parameter is an error rather than silently ignored.
PARAMS = {
    "repeat_purchase_rate": {"within_days", "customers"},
    "repeat_purchasers": {"within_days", "customers"},
    "second_purchase_rate": {"within_days", "customers"},
    "stage_purchase_rate": {"from_days", "to_days", "customers"},
    "cohort_order_value": {"within_days", "customers"},
    "retention": {"within_days", "customers"},
    "reactivation_rate": {"activity", "customers"},
    "activation_rate": {"activity", "customers"},
    "active_arpu": {"customers"},
    "aov": {"customers"},
    "purchasers": {"customers"},
    "members_per_tier": {"customers"},
    "sleeping_members": {"from_days", "to_days", "customers"},
}
SLEEPING_DEFAULT = (90, 365)  # 沉睡会员: last purchase 3 months to a year ago

# Statuses besides the target ones (good / watch / bad).
NO_DATA = "no_data"  # nobody to measure (denominator 0)
PENDING = "pending"  # the metric's look-ahead window has not closed by the as-of date
NEEDS_LEDGER = "needs_ledger"  # the contact ledger holds no run yet
LEDGER_NOTE = ("the contact ledger holds no run yet: crmspec build records whom the "
               "activity contacted")


# ---------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # last day, inclusive
    label: str


def period_start(d: date, unit: str) -> date:
    """First day of the week (ISO: Monday) or month containing d."""
    return d - timedelta(days=d.weekday()) if unit == "week" else d.replace(day=1)


def shift(start: date, unit: str, k: int) -> date:
    """The start of the period k periods after the one starting on `start`."""
    if unit == "week":
        return start + timedelta(weeks=k)
    m = start.year * 12 + start.month - 1 + k
    return date(m // 12, m % 12 + 1, 1)


def make_period(start: date, unit: str) -> Period:
    end = shift(start, unit, 1) - timedelta(days=1)
    if unit == "week":
        y, w, _ = start.isocalendar()
        label = f"{y}-W{w:02d}"
    else:
        label = f"{start.year}-{start.month:02d}"
    return Period(start, end, label)


def report_periods(unit: str, as_of: date, date_from: date | None,
                   date_to: date | None = None, count: int = DEFAULT_PERIODS) -> list[Period]:
    """The complete periods to report: from the one containing `date_from` to the last
    one that ends on or before `date_to` (default: the as-of date). Without `date_from`,
    the last `count` complete periods."""
    to = date_to or as_of
    last = period_start(to, unit)
    if make_period(last, unit).end > to:  # the period of `to` is not over yet
        last = shift(last, unit, -1)
    first = period_start(date_from, unit) if date_from else shift(last, unit, -(count - 1))
    out = []
    s = first
    while s <= last:
        out.append(make_period(s, unit))
        s = shift(s, unit, 1)
    return out


# ---------------------------------------------------------------------------- checks


def check_kpis(plan: Plan) -> list[Diagnostic]:
    """What the schema cannot say: parameters that fit the metric kind, bands that end
    after they start, targets whose watch threshold lies on the bad side of good, and
    monitoring changes that are columns of the monitoring table."""
    out = []
    for k in plan.kpis:
        p = k.params
        allowed = PARAMS[k.metric] | {"description", "target"}
        for key in sorted(set(p) - allowed):
            out.append(k.src.at(key).diag(
                "E201", f"'{key}' has no meaning for metric {k.metric}",
                "this metric reads: " + ", ".join(sorted(PARAMS[k.metric])), key=True))
        lo, hi = p.get("from_days"), p.get("to_days")
        if k.metric == "sleeping_members":
            lo = SLEEPING_DEFAULT[0] if lo is None else lo
            hi = SLEEPING_DEFAULT[1] if hi is None and "from_days" not in p else hi
        if lo is not None and hi is not None and hi <= lo and "to_days" in p:
            out.append(k.src.at("to_days").diag(
                "E201", f"the band [{lo}, {hi}) is empty: to_days must be above from_days"))
        if k.metric == "second_purchase_rate" and p.get("customers") == "returning":
            out.append(k.src.at("customers").diag(
                "E201", "a second-purchase rate measures first-time buyers: "
                "customers: returning has no meaning here", "use all or new"))
        t = p.get("target", {})
        good, watch = t.get("good"), t.get("watch")
        if good is not None and watch is not None:
            low = t.get("lower_is_better", False)
            if (watch < good) if low else (watch > good):
                side = "above" if low else "below"
                out.append(k.src.at("target", "watch").diag(
                    "E201", f"watch ({watch:g}) must be {side} or equal to good ({good:g})"
                    + (" when lower_is_better" if low else ""),
                    "watch is where the bad zone starts, on the far side of good"))
    doc = plan.files.documents.get("kpis")
    if doc is not None:
        mon = doc.data.get("monitoring", {})
        for i, kid in enumerate(mon.get("changes", [])):
            if kid not in plan.monitoring:
                out.append(Src(doc, ("monitoring", "changes", i)).diag(
                    "E301", f"'{kid}' is not a column of the monitoring table",
                    "monitoring.changes lists KPIs of monitoring.kpis: "
                    + ", ".join(plan.monitoring)))
    return out


# ---------------------------------------------------------------------------- results


@dataclass
class KpiRow:
    period: str
    start: date
    end: date
    kpi: str
    name: str
    metric: str
    group: str | None  # the tier, for members_per_tier
    unit: str  # rate | money | count
    value: float | int | None
    previous: float | int | None = None
    change: float | int | None = None  # value - previous
    ratio: float | None = None  # value / previous (环比)
    status: str | None = None
    numerator: float | int | None = None
    denominator: int | None = None
    note: str | None = None


@dataclass
class KpiReport:
    shop: str
    as_of: date
    unit: str  # week | month
    periods: list[Period]
    rows: list[KpiRow]
    monitoring: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------- SQL


# Periods are numbered: weeks since Monday 1900-01-01, months since January 1900, so
# that SQL finds a day's period with integer arithmetic (period_index is the same in
# Python).
ORIGIN = date(1900, 1, 1)  # a Monday


def period_index(d: date, unit: str) -> int:
    if unit == "week":
        return (d - ORIGIN).days // 7
    return (d.year - 1900) * 12 + d.month - 1


def _index(expr: str, unit: str) -> str:
    """SQL: the index of the period holding the DATE `expr`."""
    if unit == "week":
        return f"(({expr}) - DATE '1900-01-01') // 7"
    return f"((year({expr}) - 1900) * 12 + month({expr}) - 1)"


def _start_of(idx: str, unit: str) -> str:
    """SQL: the first day of period `idx`."""
    if unit == "week":
        return f"(DATE '1900-01-01' + CAST(7 * {idx} AS INTEGER))"
    return f"make_date(CAST(1900 + {idx} // 12 AS INTEGER), CAST({idx} % 12 + 1 AS INTEGER), 1)"


def _date(d: date) -> str:
    return f"DATE '{d.isoformat()}'"


def create_purchases(con: duckdb.DuckDBPyConnection, plan: Plan, as_of: date,
                     running_spend: bool = False) -> None:
    """`kpi_purchases`: one row per purchase, numbered per customer, with its neighbours
    (and the customer's spend up to it, for all-time tiers, when `running_spend`).

    same_day once: the orders of one customer and day are one purchase (amounts added);
    each: every order is a purchase (ties broken by payment time)."""
    orders = purchase_orders_sql(plan.shop, as_of)
    if plan.shop.same_day == "once":
        base = (f"SELECT customer_id, purchase_date AS d, sum(amount) AS amount "
                f"FROM ({orders}) GROUP BY customer_id, purchase_date")
        order = "d"
    else:
        base = f"SELECT customer_id, purchase_date AS d, amount, paid_at FROM ({orders})"
        order = "d, paid_at, amount"
    cum = (",\n  sum(amount) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
           "AS cum_spend" if running_spend else "")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE kpi_purchases AS
SELECT customer_id, d, amount,
  row_number() OVER w AS n,
  lag(d) OVER w AS prev_d,
  lead(d) OVER w AS next_d{cum}
FROM ({base})
WINDOW w AS (PARTITION BY customer_id ORDER BY {order})""")


def create_periods(con: duckdb.DuckDBPyConnection, periods: list[Period], unit: str) -> None:
    values = ", ".join(f"({period_index(p.start, unit)}, {_date(p.start)}, {_date(p.end)})"
                       for p in periods)
    con.execute(f"CREATE OR REPLACE TEMP TABLE kpi_periods AS SELECT * FROM (VALUES {values}) "
                f't(idx, start, "end")')


def create_customer_periods(con: duckdb.DuckDBPyConnection, unit: str, first: date,
                            last: date) -> None:
    """`kpi_cp`: one row per customer and period in which the customer purchased.

    Purchase dates, and so prev_d and next_d, never decrease with n: the previous
    purchase of the period's first purchase is the smallest prev_d, the next purchase
    after its last one the largest next_d (unless the customer's very last purchase is in
    the period: then there is none), and the first purchase ever is in the period when
    min(n) = 1."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE kpi_cp AS
SELECT {_start_of("idx", unit)} AS start, * FROM (
  SELECT idx, customer_id,
    count(*) AS purchases,
    sum(amount) AS spend,
    min(n) - 1 AS n_before,
    CASE WHEN min(n) > 1 THEN min(prev_d) END AS last_before,
    max(d) AS last_in,
    CASE WHEN count(next_d) = count(*) THEN max(next_d) END AS next_after,
    min(d - prev_d) AS min_gap,
    CASE WHEN min(n) = 1 THEN min(next_d) - min(d) END AS second_gap
  FROM (SELECT *, {_index("d", unit)} AS idx FROM kpi_purchases
        WHERE d BETWEEN {_date(first)} AND {_date(last)})
  GROUP BY idx, customer_id)""")


def _band(days: str, lo: int, hi: int | None) -> str:
    cond = f"{days} >= {int(lo)}"
    return cond if hi is None else f"{cond} AND {days} < {int(hi)}"


def _sweep(con, intervals: str, unit: str, at_start: bool) -> dict[tuple[date, str], int]:
    """Per period and group: how many intervals [lo, hi] of days (hi NULL: open) contain
    the period's last day (at_start False) or the day before its first day (at_start
    True: the state at the start of the period). `intervals` selects grp, lo, hi."""
    k = 1 if at_start else 0
    rows = con.execute(f"""
WITH iv AS ({intervals}),
ev AS (
  SELECT grp, {_index("lo", unit)} + {k} AS key, 1 AS delta FROM iv
  WHERE hi IS NULL OR lo <= hi
  UNION ALL
  SELECT grp, {_index("hi + 1", unit)} + {k} AS key, -1 AS delta FROM iv
  WHERE hi IS NOT NULL AND lo <= hi
), agg AS (SELECT grp, key, sum(delta) AS delta FROM ev GROUP BY grp, key)
SELECT p.start, agg.grp, sum(agg.delta) FROM kpi_periods p JOIN agg ON agg.key <= p.idx
GROUP BY p.start, agg.grp""").fetchall()
    return {(s, g): int(n) for s, g, n in rows}


def _type_filter(column: str, customers: str, new: int) -> str:
    """new: exactly `new` purchases (1 for a state, 0 for first-time buyers)."""
    if customers == "new":
        return f"{column} = {new}"
    if customers == "returning":
        return f"{column} >= {new + 1}"
    return "true"


def _last_of_day(extra: str) -> str:
    # With same_day: each, only the last purchase of a day ends the day's state.
    return f"(next_d IS NULL OR next_d > d) AND {extra}"


class Recency:
    """Customers by days since their last purchase, per period: those in a band [lo, hi)
    are those at lo days or more minus those at hi days or more, so every band of every
    KPI comes from one sweep per distinct boundary (and point in time), split by type:
    new (1 purchase) or returning (2+), as of that point."""

    def __init__(self, con: duckdb.DuckDBPyConnection, unit: str):
        self.con, self.unit = con, unit
        self._cache: dict[tuple[int, bool], dict[tuple[date, str], int]] = {}

    def _at_least(self, days: int, at_start: bool) -> dict[tuple[date, str], int]:
        key = (int(days), at_start)
        if key not in self._cache:
            # a purchase is the customer's last from its day to the day before the next
            # one; the customer has been `days` days or more without buying from d + days
            intervals = (f"SELECT CASE WHEN n = 1 THEN 'new' ELSE 'returning' END AS grp, "
                         f"d + {int(days)} AS lo, next_d - 1 AS hi FROM kpi_purchases "
                         f"WHERE {_last_of_day('true')}")
            self._cache[key] = _sweep(self.con, intervals, self.unit, at_start)
        return self._cache[key]

    def band(self, lo: int, hi: int | None, customers: str, at_start: bool
             ) -> dict[date, int]:
        """Per period start: customers (all/new/returning) in [lo, hi) at the start of the
        period (at_start) or at its end."""
        types = ("new", "returning") if customers == "all" else (customers,)
        out: dict[date, int] = {}
        for bound, sign in ((lo, 1), (hi, -1)):
            if bound is None:
                continue
            for (start, grp), n in self._at_least(bound, at_start).items():
                if grp in types:
                    out[start] = out.get(start, 0) + sign * n
        return out


def _tier_intervals(plan: Plan, customers: str, last_day: date | None = None) -> str:
    """Days on which a customer holds each tier: spend (over the tier window) and
    purchases as of each day, assigned to tiers by the build's own rule — including,
    with a window and a review date, that a tier reached is kept until the next review
    (compile._facts_sql: the higher of the tier now and the one at the last review)."""
    tier = _rank_case(plan, "spend", "purchases", ids=True)
    window = plan.tier_window_days
    if not window:
        states = (f"SELECT d AS lo, next_d - 1 AS hi, cum_spend AS spend, n AS purchases "
                  f"FROM kpi_purchases WHERE {_last_of_day('true')}")
        return (f"SELECT grp, lo, hi FROM (SELECT {tier} AS grp, lo, hi, purchases "
                f"FROM ({states})) "
                f"WHERE grp IS NOT NULL AND {_type_filter('purchases', customers, 1)}")
    # Spend of the last W days changes when a purchase enters (its day) and when it
    # leaves the window (W days later): one state per change point.
    states = f"""WITH ev AS (
  SELECT customer_id, d AS t, amount AS ds, 1 AS dn FROM kpi_purchases
  UNION ALL
  SELECT customer_id, d + {int(window)} AS t, -amount AS ds, 0 AS dn FROM kpi_purchases
), pts AS (SELECT customer_id, t, sum(ds) AS ds, sum(dn) AS dn FROM ev GROUP BY customer_id, t)
SELECT customer_id, t AS lo, lead(t) OVER (PARTITION BY customer_id ORDER BY t) - 1 AS hi,
  sum(ds) OVER c AS spend, sum(dn) OVER c AS purchases
FROM pts WINDOW c AS (PARTITION BY customer_id ORDER BY t
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"""
    rank = _rank_case(plan, "spend", "purchases")
    reviews = _review_periods(plan.tier_review_date, last_day)
    if not reviews:
        return (f"SELECT grp, lo, hi FROM (SELECT {tier} AS grp, lo, hi, purchases "
                f"FROM ({states})) "
                f"WHERE grp IS NOT NULL AND {_type_filter('purchases', customers, 1)}")
    values = ", ".join(f"({_date(a)}, {_date(b) if b else 'NULL::DATE'})" for a, b in reviews)
    ids = " ".join(f"WHEN {t.rank} THEN '{t.id}'" for t in plan.tiers)
    return f"""WITH st AS (SELECT *, {rank} AS r FROM ({states})),
rv AS (SELECT * FROM (VALUES {values}) v(r_lo, r_hi)),
kept AS (  -- the rank each customer had on each review date
  SELECT st.customer_id, rv.r_lo, rv.r_hi, st.r AS kept_r FROM st JOIN rv
    ON st.lo <= rv.r_lo AND (st.hi IS NULL OR rv.r_lo <= st.hi)
), parts AS (
  SELECT greatest(st.lo, rv.r_lo) AS lo,
    CASE WHEN st.hi IS NULL THEN rv.r_hi WHEN rv.r_hi IS NULL THEN st.hi
         ELSE least(st.hi, rv.r_hi) END AS hi,
    greatest(st.r, coalesce(k.kept_r, 0)) AS r, st.purchases
  FROM st JOIN rv ON (st.hi IS NULL OR rv.r_lo <= st.hi)
                 AND (rv.r_hi IS NULL OR st.lo <= rv.r_hi)
  LEFT JOIN kept k ON k.customer_id = st.customer_id AND k.r_lo = rv.r_lo
)
SELECT CASE r {ids} END AS grp, lo, hi FROM parts
WHERE r > 0 AND {_type_filter('purchases', customers, 1)}"""


def _review_periods(review: str | None, last_day: date | None) -> list[tuple[date, date | None]]:
    """[review date, day before the next) for every review from 1990 on (the last one
    open); before the first review nothing is kept."""
    if not review or last_day is None:
        return []
    month, day = (int(x) for x in review.split("-"))
    starts = []
    for year in range(1990, last_day.year + 2):
        try:
            starts.append(date(year, month, day))
        except ValueError:  # 02-29 in a common year
            continue
    out: list[tuple[date, date | None]] = [(date(1900, 1, 1), starts[0] - timedelta(days=1))]
    out += [(a, b - timedelta(days=1)) for a, b in zip(starts, starts[1:])]
    out.append((starts[-1], None))
    return out


# Metrics computed from kpi_cp: (filter on the customer-period, numerator, denominator).
def _cp_metric(k: Kpi) -> tuple[str, str, str | None]:
    p, m = k.params, k.metric
    customers = p.get("customers", "all")
    buyers = _type_filter("n_before", customers, 0)  # new: first purchase in the period
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
    band = f"last_before IS NOT NULL AND {_band(days, lo, hi)} AND " \
           f"{_type_filter('n_before', customers, 1)}"
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
  WHERE c.activity_id = '{activity}' AND c.grp = 'treatment' AND c.as_of <= {_date(as_of)}
), typed AS (
  SELECT c.as_of, c.customer_id, c.sent_at, {counted} AS purchases_before
  FROM contacts c LEFT JOIN purchases b ON b.customer_id = c.customer_id
   AND b.paid_at < c.sent_at
  GROUP BY ALL
), responses AS (
  SELECT c.as_of, c.customer_id, c.sent_at, count(p.paid_at) > 0 AS bought
  FROM typed c LEFT JOIN purchases p ON p.customer_id = c.customer_id
   AND p.paid_at >= c.sent_at AND p.paid_at < c.sent_at + INTERVAL ({window}) DAY
  WHERE {_type_filter("c.purchases_before", customers, 1)}
  GROUP BY ALL
)
SELECT p.start, count(DISTINCT r.customer_id) FILTER (WHERE r.bought),
       count(DISTINCT r.customer_id), max(r.sent_at) + INTERVAL ({window}) DAY
FROM kpi_periods p JOIN responses r ON {_index("r.as_of", unit)} = p.idx
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
        counts = _sweep(con, _tier_intervals(plan, customers, as_of), unit, at_start=False)
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


def target_status(value: float, target: dict | None, unit: str | None = None) -> str | None:
    """good at or beyond `good`, bad beyond `watch` (below it; above it when
    lower_is_better), watch in between; None without thresholds, or when the target is
    set for another period length than `unit`."""
    if not target or (target.get("good") is None and target.get("watch") is None):
        return None
    if unit is not None and target.get("period", unit) != unit:
        return None
    low = target.get("lower_is_better", False)

    def reaches(threshold: float) -> bool:
        return value <= threshold if low else value >= threshold

    if target.get("good") is not None and reaches(target["good"]):
        return "good"
    if target.get("watch") is not None and not reaches(target["watch"]):
        return "bad"
    return "watch"


# ---------------------------------------------------------------------------- entry points


def compute_kpis(root: Path, unit: str = "week", date_from: date | None = None,
                 date_to: date | None = None, kpi_ids: Iterable[str] = (),
                 monitoring: bool = False, say: Callable[[str], None] | None = None
                 ) -> KpiReport:
    """The KPIs of the project at `root` (all, those of `kpi_ids`, or the monitoring
    table's): the data as of `date_to` (default: the plan's as-of date), complete periods
    from the one containing `date_from` (default: the last 12)."""
    from crmspec.build import connect, prepare

    say = say or (lambda _msg: None)
    con = connect(capped=False)
    try:
        notes: list[str] = []
        plan, _, data, warnings = prepare(root, date_to, con, notes=notes)
        for n in notes:
            say(n)
        if warnings:
            say(f"{len(warnings)} data warning(s) (`crmspec build` lists them)")
        problems = check_kpis(plan)
        known = [k.id for k in plan.kpis]
        wanted = list(plan.monitoring) if monitoring and not kpi_ids else list(kpi_ids)
        for kid in wanted:
            if kid not in known:
                problems.append(plan.shop.src.diag(
                    "E301", f"unknown KPI '{kid}' (crmspec kpi --kpi)",
                    "KPIs of kpis.yaml: " + (", ".join(known) or "none")))
        if problems:
            raise PlanError(problems)
        doc = plan.files.documents.get("kpis")
        changes = list(doc.data.get("monitoring", {}).get("changes", [])) if doc else []
        report = KpiReport(plan.shop.name, data.as_of, unit, [], [], list(plan.monitoring),
                           changes, {k.id: k.name for k in plan.kpis})
        report.periods = report_periods(unit, data.as_of, date_from, date_to)
        chosen = [k for k in plan.kpis if k.id in wanted] if wanted or monitoring \
            else list(plan.kpis)
        if report.periods and chosen:
            before = make_period(shift(report.periods[0].start, unit, -1), unit)
            report.rows = compute(con, plan, data.as_of, unit, [before] + report.periods,
                                  chosen)
        return report
    finally:
        con.close()


def kpi_report(root: Path, unit: str = "week", date_from: date | None = None,
               date_to: date | None = None, fmt: str = "table", monitoring: bool = False,
               kpi_ids: Iterable[str] = (), say: Callable[[str], None] | None = None,
               width: int | None = None) -> str:
    """`crmspec kpi`: the report (or the monitoring table) as text in the chosen format."""
    report = compute_kpis(root, unit, date_from, date_to, kpi_ids, monitoring, say)
    if monitoring:
        return render_monitoring(report, fmt, width)
    return render(report, fmt, width)


# ---------------------------------------------------------------------------- output

COLUMNS = ("period", "start", "end", "kpi", "name", "metric", "group", "unit", "value",
           "previous", "change", "ratio", "status", "numerator", "denominator", "note")


def _round(v, unit: str):
    """Rates and ratios to 6 decimals, money to 2 (fen), counts as integers."""
    if v is None:
        return None
    if unit == COUNT:
        return int(v) if float(v).is_integer() else round(float(v), 6)
    return round(float(v), 2 if unit == MONEY else 6)


def _plain(row: KpiRow) -> dict:
    d = asdict(row)
    d["start"], d["end"] = row.start.isoformat(), row.end.isoformat()
    for key in ("value", "previous", "change"):
        d[key] = _round(d[key], row.unit)
    # a rate's numerator is a number of customers; money numerators are amounts
    d["numerator"] = _round(d["numerator"], MONEY if row.unit == MONEY else COUNT)
    d["ratio"] = _round(d["ratio"], RATE)
    return d


def _human(v, unit: str, signed: bool = False) -> str:
    if v is None:
        return ""
    sign = "+" if signed and v > 0 else ""
    if unit == RATE:
        return f"{sign}{v * 100:.2f}" + ("pp" if signed else "%")
    if unit == MONEY:
        return f"{sign}{v:,.2f}"
    return f"{sign}{v:,.0f}" if float(v).is_integer() else f"{sign}{v:,.2f}"


def _ratio(v) -> str:
    return "" if v is None else f"{v * 100:.1f}%"


def _status(row: KpiRow) -> str:
    return (row.status or "").replace("_", " ")


HUMAN = ("period", "kpi", "name", "group", "value", "previous", "change", "status", "n")


def _human_row(r: KpiRow) -> list[str]:
    n = "" if r.denominator is None else f"{r.denominator:,}"
    return [r.period, r.kpi, r.name, r.group or "", _human(r.value, r.unit),
            _human(r.previous, r.unit), _human(r.change, r.unit, signed=True), _status(r), n]


def render(report: KpiReport, fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps({"shop": report.shop, "as_of": report.as_of.isoformat(),
                           "period": report.unit, "kpis": [_plain(r) for r in report.rows]},
                          ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return csv_text(COLUMNS, (_plain(r) for r in report.rows))
    title = f"{report.shop} · KPIs per {report.unit} · as of {report.as_of.isoformat()}"
    if not report.rows:
        return f"{title}\n{_nothing(report, 'no KPIs in plans/kpis.yaml')}\n"
    lines = [_human_row(r) for r in report.rows]
    sections = [i for i in range(1, len(report.rows))
                if report.rows[i].period != report.rows[i - 1].period]
    return _table(title, list(HUMAN), lines, fmt, sections, width, right=(4, 5, 6, 8))


def _nothing(report: KpiReport, otherwise: str) -> str:
    if not report.periods:
        return f"no complete {report.unit} in the range (as of {report.as_of.isoformat()})"
    return otherwise


def _table(title: str, header: list[str], lines: list[list[str]], fmt: str,
           sections: list[int], width: int | None, right: tuple[int, ...]) -> str:
    if fmt == "markdown":
        out = [f"**{title}**", "", "| " + " | ".join(header) + " |",
               "|" + "|".join("---:" if i in right else "---" for i in range(len(header)))
               + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in lines]
        return "\n".join(out) + "\n"
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="right" if i in right else "left", no_wrap=i != 2)
    for i, line in enumerate(lines):
        table.add_row(*line, end_section=(i + 1) in sections)
    buf = io.StringIO()
    Console(file=buf, width=width or 160, highlight=False).print(table)
    return buf.getvalue()


def monitoring_table(report: KpiReport) -> tuple[list[str], list[list]]:
    """The weekly monitoring table: one row per period; each monitoring KPI's value, the
    change (this period / the previous one) of the KPIs in `changes`, and the product of
    those changes (综合变化)."""
    header = ["period", "start", "end"]
    for kid in report.monitoring:
        header.append(kid)
        if kid in report.changes:
            header.append(f"{kid}_change")
    if report.changes:
        header.append("combined_change")
    by = {(r.start, r.kpi): r for r in report.rows}
    rows = []
    for per in report.periods:
        line: list = [per.label, per.start.isoformat(), per.end.isoformat()]
        product: float | None = 1.0
        for kid in report.monitoring:
            r = by.get((per.start, kid))
            line.append(r)
            if kid in report.changes:
                ratio = r.ratio if r else None
                line.append(ratio)
                product = None if ratio is None or product is None else product * ratio
        if report.changes:
            line.append(product)
        rows.append(line)
    return header, rows


def render_monitoring(report: KpiReport, fmt: str, width: int | None = None) -> str:
    header, rows = monitoring_table(report)
    if fmt in ("json", "csv"):
        plain = []
        for line in rows:
            d = {}
            for h, v in zip(header, line):
                if isinstance(v, KpiRow):
                    v = _round(v.value, v.unit)
                elif h.endswith("change"):
                    v = _round(v, RATE)
                d[h] = v
            plain.append(d)
        if fmt == "json":
            return json.dumps({"shop": report.shop, "as_of": report.as_of.isoformat(),
                               "period": report.unit, "columns": header, "rows": plain},
                              ensure_ascii=False, indent=2) + "\n"
        return csv_text(header, plain)
    title = f"{report.shop} · monitoring per {report.unit} · as of {report.as_of.isoformat()}"
    names = ["period"]
    for h in header[3:]:
        if h == "combined_change":
            names.append("combined change")
        elif h.endswith("_change"):
            names.append("change")
        else:
            names.append(report.names.get(h, h))
    lines = []
    for line in rows:
        cells = [line[0]]
        for h, v in zip(header[3:], line[3:]):
            if isinstance(v, KpiRow):
                cells.append(_human(v.value, v.unit))
            elif h.endswith("change"):
                cells.append(_ratio(v))
            else:
                cells.append("")
        lines.append(cells)
    if not report.periods or not report.monitoring:
        return f"{title}\n{_nothing(report, 'plans/kpis.yaml has no monitoring table')}\n"
    return _table(title, names, lines, fmt, [], width, right=tuple(range(1, len(names))))


__all__ = ["KpiReport", "KpiRow", "Period", "check_kpis", "compute", "compute_kpis",
           "kpi_report", "monitoring_table", "render", "render_monitoring", "report_periods",
           "target_status"]
