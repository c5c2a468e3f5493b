"""The tables every KPI query reads, built once per report: purchases numbered per
customer, periods, customers per period, and the interval sweep that counts, per
period, the customers in a recency band or a tier without joining customers to
periods (see the package docstring)."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from crmspec.analysis.kpi.periods import Period
from crmspec.compile.facts import purchase_orders_sql, tier_rank_sql
from crmspec.plan.model import Plan

# Periods are numbered: weeks since Monday 1900-01-01, months since January 1900, so
# that SQL finds a day's period with integer arithmetic (period_index is the same in
# Python).
ORIGIN = date(1900, 1, 1)  # a Monday


def period_index(d: date, unit: str) -> int:
    if unit == "week":
        return (d - ORIGIN).days // 7
    return (d.year - 1900) * 12 + d.month - 1


def period_index_sql(expr: str, unit: str) -> str:
    """SQL: the index of the period holding the DATE `expr`."""
    if unit == "week":
        return f"(({expr}) - DATE '1900-01-01') // 7"
    return f"((year({expr}) - 1900) * 12 + month({expr}) - 1)"


def _start_of(idx: str, unit: str) -> str:
    """SQL: the first day of period `idx`."""
    if unit == "week":
        return f"(DATE '1900-01-01' + CAST(7 * {idx} AS INTEGER))"
    return f"make_date(CAST(1900 + {idx} // 12 AS INTEGER), CAST({idx} % 12 + 1 AS INTEGER), 1)"


def date_sql(d: date) -> str:
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
    values = ", ".join(f"({period_index(p.start, unit)}, {date_sql(p.start)}, {date_sql(p.end)})"
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
  FROM (SELECT *, {period_index_sql("d", unit)} AS idx FROM kpi_purchases
        WHERE d BETWEEN {date_sql(first)} AND {date_sql(last)})
  GROUP BY idx, customer_id)""")


def band_condition(days: str, lo: int, hi: int | None) -> str:
    cond = f"{days} >= {int(lo)}"
    return cond if hi is None else f"{cond} AND {days} < {int(hi)}"


def sweep(con, intervals: str, unit: str, at_start: bool) -> dict[tuple[date, str], int]:
    """Per period and group: how many intervals [lo, hi] of days (hi NULL: open) contain
    the period's last day (at_start False) or the day before its first day (at_start
    True: the state at the start of the period). `intervals` selects grp, lo, hi."""
    k = 1 if at_start else 0
    rows = con.execute(f"""
WITH iv AS ({intervals}),
ev AS (
  SELECT grp, {period_index_sql("lo", unit)} + {k} AS key, 1 AS delta FROM iv
  WHERE hi IS NULL OR lo <= hi
  UNION ALL
  SELECT grp, {period_index_sql("hi + 1", unit)} + {k} AS key, -1 AS delta FROM iv
  WHERE hi IS NOT NULL AND lo <= hi
), agg AS (SELECT grp, key, sum(delta) AS delta FROM ev GROUP BY grp, key)
SELECT p.start, agg.grp, sum(agg.delta) FROM kpi_periods p JOIN agg ON agg.key <= p.idx
GROUP BY p.start, agg.grp""").fetchall()
    return {(s, g): int(n) for s, g, n in rows}


def type_filter(column: str, customers: str, new: int) -> str:
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
            self._cache[key] = sweep(self.con, intervals, self.unit, at_start)
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


def tier_intervals(plan: Plan, customers: str, last_day: date | None = None) -> str:
    """Days on which a customer holds each tier: spend (over the tier window) and
    purchases as of each day, assigned to tiers by the build's own rule — including,
    with a window and a review date, that a tier reached is kept until the next review
    (compile._facts_sql: the higher of the tier now and the one at the last review)."""
    tier = tier_rank_sql(plan, "spend", "purchases", ids=True)
    window = plan.tier_window_days
    if not window:
        states = (f"SELECT d AS lo, next_d - 1 AS hi, cum_spend AS spend, n AS purchases "
                  f"FROM kpi_purchases WHERE {_last_of_day('true')}")
        return (f"SELECT grp, lo, hi FROM (SELECT {tier} AS grp, lo, hi, purchases "
                f"FROM ({states})) "
                f"WHERE grp IS NOT NULL AND {type_filter('purchases', customers, 1)}")
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
    rank = tier_rank_sql(plan, "spend", "purchases")
    reviews = _review_periods(plan.tier_review_date, last_day)
    if not reviews:
        return (f"SELECT grp, lo, hi FROM (SELECT {tier} AS grp, lo, hi, purchases "
                f"FROM ({states})) "
                f"WHERE grp IS NOT NULL AND {type_filter('purchases', customers, 1)}")
    values = ", ".join(f"({date_sql(a)}, {date_sql(b) if b else 'NULL::DATE'})" for a, b in reviews)
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
WHERE r > 0 AND {type_filter('purchases', customers, 1)}"""


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
