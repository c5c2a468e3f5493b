"""The facts per customer that every segment, trigger and report reads: purchases,
spend, recency, lifecycle stage, customer type, member tier (now, at the previous
build, at the next review), RFM scores, recent intent and order-trigger flags, in the
one `features` table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlglot import exp

from crmspec.compile.segments import Intent
from crmspec.compile.sql import DIALECT, col, date_lit, lit
from crmspec.compile.triggers import order_flags_sql
from crmspec.plan.model import Plan, Shop, stage_bands


def purchase_orders_sql(shop: Shop, as_of: date) -> str:
    """The orders that count as purchases, one row per order: customer_id, purchase_date,
    paid_at, amount. The single definition of shop.yaml `purchase.statuses` (dated by
    paid_at, on or before the as-of date) shared by the facts and the KPIs (crmspec.analysis.kpi);
    `purchase.same_day` is applied by each user (facts count distinct days)."""
    asof = date_lit(as_of).sql(DIALECT)
    statuses = ", ".join(lit(s).sql(DIALECT) for s in shop.purchase_statuses)
    return ("SELECT customer_id, CAST(paid_at AS DATE) AS purchase_date, paid_at, amount\n"
            "  FROM orders\n"
            f"  WHERE status IN ({statuses}) AND paid_at IS NOT NULL "
            f"AND CAST(paid_at AS DATE) <= {asof}")


def next_review_date(review: str | None, as_of: date) -> date | None:
    """The first tier review date (MM-DD each year) after the as-of date."""
    if not review:
        return None
    month, day = (int(x) for x in review.split("-"))
    for year in (as_of.year, as_of.year + 1, as_of.year + 2):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 02-29 in a common year
            continue
        if candidate > as_of:
            return candidate
    return None


def tier_rank_sql(plan: Plan, spend: str, purchases: str, ids: bool = False) -> str:
    """The tier (id, or rank with 0 below every tier) for spend/purchases columns."""
    cases = []
    for t in sorted(plan.tiers, key=lambda t: -t.rank):
        cond = f"{spend} >= {float(t.min_spend)!r}"
        if t.min_purchases:
            cond += f" AND {purchases} >= {int(t.min_purchases)}"
        cases.append(f"WHEN {cond} THEN {lit(t.id).sql(DIALECT) if ids else t.rank}")
    if not cases:
        return "NULL" if ids else "0"
    return f"CASE {' '.join(cases)} ELSE {'NULL' if ids else '0'} END"


def last_review_date(review: str | None, as_of: date) -> date | None:
    """The latest tier review date (MM-DD each year) on or before the as-of date."""
    if not review:
        return None
    month, day = (int(x) for x in review.split("-"))
    for year in (as_of.year, as_of.year - 1, as_of.year - 2):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 02-29 in a common year
            continue
        if candidate <= as_of:
            return candidate
    return None


# R, F and M: ceil(5 * cume_dist()) over the buyers ordered by the last purchase date,
# the purchases and the spend. cume_dist() sorts every buyer's row (1.5-2.4 CPU s of the
# features statement at 1M buyers); the same value, the share of buyers with a value up
# to a buyer's own as a double, comes from the distinct values and their counts (1,095
# dates, a few dozen purchase counts, 300k spends at 1M buyers) and a running sum.
# A score only grows with the value, so each score's values are a band: the largest
# value scoring at most 1, 2, 3 and 4 (`rfm_cuts`, one row) place every buyer by four
# comparisons, where joining the scores back was four joins of every buyer's row (about
# 1 CPU s of the statement at 1M). The same doubles, so the same scores
# (tests/test_rfm_scores.py: against ceil(5 x cume_dist), ties and band edges).
_RFM = (("r", "last_purchase_date"), ("f", "rfm_purchases"), ("m", "rfm_spend"))
_SCORE = ("SELECT v, CAST(ceil(5 * (CAST(sum(n) OVER (ORDER BY v ROWS BETWEEN UNBOUNDED "
          "PRECEDING AND CURRENT ROW) AS DOUBLE) / CAST(sum(n) OVER () AS DOUBLE))) AS INTEGER) "
          "AS score\n  FROM (SELECT {column} AS v, count(*) AS n FROM rfm_buyers GROUP BY 1)")
_RFM_SCORES = ", ".join(f"rfm_{score} AS (\n  {_SCORE.format(column=column)}\n)"
                        for score, column in _RFM)
_RFM_CUTS = "rfm_cuts AS (\n  SELECT " + ",\n    ".join(
    f"(SELECT max(v) FILTER (WHERE score <= {k}) FROM rfm_{score}) AS {score}{k}"
    for score, _ in _RFM for k in range(1, 5)) + "\n)"


def _rfm_score(score: str, column: str) -> str:
    """A buyer's score from the cuts: the first band its value is in (a cut is NULL when
    no value scores that low, and then matches nothing)."""
    bands = " ".join(f"WHEN p.{column} <= k.{score}{k} THEN {k}" for k in range(1, 5))
    return f"CASE {bands} ELSE 5 END"


def tiers_as_of(day: str, before: bool = False) -> str:
    """SQL of every customer's tier the ledger recorded as of a run (`day`: a DATE literal): the
    latest change on or before it (`before`: strictly before). A customer without one
    is below every tier."""
    op = "<" if before else "<="
    return ("SELECT customer_id, arg_max(tier_rank, as_of) AS tier_rank FROM ledger.tiers "
            f"WHERE as_of {op} {day} GROUP BY customer_id")


def facts_sql(plan: Plan, as_of: date, previous: date | None = None,
              previous_in_ledger: bool = False,
              customer_columns: Sequence[str] | None = None) -> str:
    """One row per customer: purchases, spend, recency, stage, type, tier, RFM, and the
    tier as of the previous build and at the next review (for the tier triggers).

    Tiers: with an evaluation window and a review date, spend counts over the window and
    a tier reached is kept until the next review (upgrades at once, downgrades on the
    review date): the tier is the higher of the one today and the one at the last review.
    The previous tier is the one the previous build recorded in the ledger
    (`previous_in_ledger`), computed by this same rule. Without a previous run there is
    no previous tier (NULL) and nobody has upgraded: a tier recomputed from older
    purchases is not what the members were told (it ignored the kept tier, and
    congratulated 423 unchanged members of the demo shop on its first build).

    RFM: scores among the customers with a purchase in the RFM window (segments.yaml
    `rfm.window_days`; all time by default); F counts and M sums their purchases in it.
    The tier window is separate: it says what earns a tier, not how customers compare.

    `customer_columns`: the columns of `customers` to carry (default: all of them).
    """
    shop = plan.shop
    asof = date_lit(as_of).sql(DIALECT)
    once = shop.same_day == "once"
    window = int(plan.tier_window_days) if plan.tier_window_days else None

    def count(cond: str | None = None) -> str:
        # With same_day: once, `days` holds one row per customer and purchase day.
        return f"count(*) FILTER (WHERE {cond})" if cond else "count(*)"

    def spend(end: str) -> str:
        # Every purchase is on or before the as-of date: there, without a tier window,
        # the sum of all of them (the same aggregate as M's, computed once).
        conds = [] if end == asof else [f"purchase_date <= {end}"]
        if window:
            conds.append(f"purchase_date > {end} - INTERVAL {window} DAY")
        return (f"coalesce(sum(amount) FILTER (WHERE {' AND '.join(conds)}), 0)" if conds
                else "coalesce(sum(amount), 0)")

    review = next_review_date(plan.tier_review_date, as_of)
    review_sql = date_lit(review).sql(DIALECT) if review else "CAST(NULL AS DATE)"
    kept = last_review_date(plan.tier_review_date, as_of) if window else None
    kept_sql = date_lit(kept).sql(DIALECT) if kept else None
    # Spend that will still count on the review date: purchases known so far.
    review_spend = (f"coalesce(sum(amount) FILTER (WHERE purchase_date > {review_sql} - "
                    f"INTERVAL {window} DAY), 0)" if review and window else spend(asof))
    stage_cases = []
    for s in stage_bands(plan):
        cond = f"days_since_last_purchase >= {int(s.from_days or 0)}"
        if s.to_days is not None:
            cond += f" AND days_since_last_purchase < {int(s.to_days)}"
        stage_cases.append(f"WHEN {cond} THEN {lit(s.id).sql(DIALECT)}")
    never = next((s for s in plan.stages if s.never_purchased), None)
    never_sql = lit(never.id).sql(DIALECT) if never else "NULL"
    fans = int(shop.fans_min_purchases)
    tier_id = ("CASE tier_rank " + " ".join(f"WHEN {t.rank} THEN {lit(t.id).sql(DIALECT)}"
                                            for t in plan.tiers) + " END"
               if plan.tiers else "CAST(NULL AS VARCHAR)")
    if previous_in_ledger and previous is not None:
        previous_rank = "coalesce(pt.tier_rank, 0)"  # no change on record: no tier
        previous_join = (f"\n  LEFT JOIN ({tiers_as_of(date_lit(previous).sql(DIALECT))}) "
                         "AS pt ON pt.customer_id = b.customer_id")
    else:
        previous_rank, previous_join = "CAST(NULL AS INTEGER)", ""
    picked = ("c.*" if customer_columns is None else
              ", ".join(f"c.{col(c).sql(DIALECT)}" for c in customer_columns))
    rfm_days = plan.rfm_window_days
    in_rfm = (f"purchase_date > {asof} - INTERVAL {int(rfm_days)} DAY" if rfm_days else None)
    # Scored: the buyers of the RFM window (rfm_buyers); everyone else has no scores.
    buyer = "p.rfm_purchases > 0" if in_rfm else "p.customer_id IS NOT NULL"
    rfm_scores = ", ".join(f"CASE WHEN {buyer} THEN {_rfm_score(score, column)} END AS {score}"
                           for score, column in _RFM)
    # Several orders on one day are one purchase: group by day first (a plain count per
    # customer then; much faster than count(DISTINCT purchase_date) on 10M orders).
    days_sql = ("SELECT customer_id, purchase_date, max(paid_at) AS paid_at, "
                "sum(amount) AS amount\n  FROM purchases GROUP BY customer_id, purchase_date"
                if once else "SELECT * FROM purchases")
    return f"""WITH purchases AS (
  {purchase_orders_sql(shop, as_of)}
), days AS (
  {days_sql}
), per_customer AS (
  SELECT customer_id, {count()} AS purchases, {spend(asof)} AS spend,
         min(purchase_date) AS first_purchase_date,
         CAST(max(paid_at) AS DATE) AS last_purchase_date, max(paid_at) AS last_purchase_at,
         {count(in_rfm)} AS rfm_purchases,
         coalesce(sum(amount) {f"FILTER (WHERE {in_rfm}) " if in_rfm else ""}, 0) AS rfm_spend,
         {review_spend} AS review_spend,
         {count(f"purchase_date <= {kept_sql}") if kept_sql else "0"} AS kept_purchases,
         {spend(kept_sql) if kept_sql else "0"} AS kept_spend
  FROM days GROUP BY customer_id
), rfm_buyers AS (
  SELECT customer_id, last_purchase_date, rfm_purchases, rfm_spend
  FROM per_customer{"" if in_rfm is None else " WHERE rfm_purchases > 0"}
), {_RFM_SCORES}, {_RFM_CUTS}, base AS (
  SELECT {picked}, CAST(coalesce(p.purchases, 0) AS INTEGER) AS purchases,
         CAST(coalesce(p.spend, 0) AS DECIMAL(14,2)) AS spend,
         p.first_purchase_date, p.last_purchase_date, p.last_purchase_at,
         CAST(date_diff('day', p.last_purchase_date, {asof}) AS INTEGER)
           AS days_since_last_purchase,
         {asof} AS as_of,
         coalesce(p.review_spend, 0) AS review_spend,
         coalesce(p.kept_purchases, 0) AS kept_purchases,
         coalesce(p.kept_spend, 0) AS kept_spend,
         {rfm_scores}
  FROM customers AS c LEFT JOIN per_customer AS p USING (customer_id) CROSS JOIN rfm_cuts AS k
), ranked AS (
  SELECT b.*,
    greatest({tier_rank_sql(plan, "spend", "purchases")},
             {tier_rank_sql(plan, "kept_spend", "kept_purchases")}) AS tier_rank,
    {previous_rank} AS previous_tier_rank
  FROM base AS b{previous_join}
)
SELECT * EXCLUDE (review_spend, kept_purchases, kept_spend, r, f, m),
  CASE WHEN purchases = 0 THEN {never_sql} {' '.join(stage_cases)} END AS stage,
  CASE WHEN purchases = 0 THEN 'potential' WHEN purchases = 1 THEN 'new'
       WHEN purchases >= {fans} THEN 'fans' ELSE 'returning' END AS customer_type,
  {tier_id} AS tier,
  {review_sql} AS review_date,
  {tier_rank_sql(plan, "review_spend", "purchases")} AS review_tier_rank,
  r, f, m
FROM ranked"""


FACTS_VIEW = "CREATE OR REPLACE TEMP VIEW facts AS SELECT * FROM features"


def with_customers(con) -> str:
    """A query of `features` with every customer column, for what shows or hands on a
    customer's whole row (a channel writer's `WriteContext.rows`, `explain`): the
    columns `features` carries (the ones the plan reads) and, joined from `customers`,
    the others; in the order `features` had when it carried them all (the customer
    columns in their table's order, then the facts)."""
    carried = [r[0] for r in con.execute("DESCRIBE features").fetchall()]
    customer = [r[0] for r in con.execute("DESCRIBE customers").fetchall()]
    have, theirs = set(carried), set(customer)
    if theirs <= have:
        return "SELECT * FROM features"
    cols = [f"{'f' if c in have else 'c'}.{col(c).sql(DIALECT)}" for c in customer]
    cols += [f"f.{col(c).sql(DIALECT)}" for c in carried if c not in theirs]
    return (f"SELECT {', '.join(cols)} FROM features AS f "
            "JOIN customers AS c USING (customer_id)")


def features_sql(facts: str, intents: list[Intent], flags: dict[str, exp.Expression],
                 as_of: date) -> str:
    """The `facts` query plus the intent signals and the order-trigger flags, one row per
    customer, in one statement (a separate facts table was a second copy of every
    customer's row)."""
    asof = date_lit(as_of).sql(DIALECT)
    ctes, joins, picked = [f"facts AS (\n{facts}\n)"], [], ["f.*"]
    if intents:
        widest = max(i.within_days for i in intents)
        cols = []
        for i in intents:
            types = ", ".join(lit(t).sql(DIALECT) for t in i.events)
            cols.append(
                f"max(event_at) FILTER (WHERE event_type IN ({types}) AND "
                f"CAST(event_at AS DATE) > {asof} - INTERVAL {int(i.within_days)} DAY) "
                f"AS {col(i.column).sql(DIALECT)}"
            )
        # Only the event types and the orders the intents read: a scan of every event
        # type, or of the unpaid orders for an intent no segment has, is not made.
        types = sorted({t for i in intents for t in i.events} - {"unpaid_order"})
        window = (f"CAST({{at}} AS DATE) <= {asof} "
                  f"AND CAST({{at}} AS DATE) > {asof} - INTERVAL {widest} DAY")
        scans = [f"""SELECT customer_id, event_type, event_at FROM events
  WHERE event_type IN ({', '.join(lit(t).sql(DIALECT) for t in types)})
    AND {window.format(at="event_at")}"""] if types else []
        if any("unpaid_order" in i.events for i in intents):
            scans.append(f"""SELECT customer_id, 'unpaid_order' AS event_type,
    created_at AS event_at
  FROM orders WHERE status = 'unpaid' AND {window.format(at="created_at")}""")
        ctes.append(f"""signals AS (
  {(chr(10) + '  UNION ALL' + chr(10) + '  ').join(scans)}
), intents AS (
  SELECT customer_id,
    {(',' + chr(10) + '    ').join(cols)}
  FROM signals GROUP BY customer_id
)""")
        joins.append("LEFT JOIN intents AS i USING (customer_id)")
        picked += ["i." + col(i.column).sql(DIALECT) for i in intents]
    if flags:
        ctes.append(f"order_flags AS (\n  {order_flags_sql(list(flags))}\n)")
        joins.append("LEFT JOIN order_flags AS o USING (customer_id)")
        picked += [f"coalesce(o.{col(name).sql(DIALECT)}, false) AS {col(name).sql(DIALECT)}"
                   for name in flags]
    return f"""CREATE OR REPLACE TEMP TABLE features AS
WITH {(', ').join(ctes)}
SELECT {', '.join(picked)}
FROM facts AS f {' '.join(joins)}"""
