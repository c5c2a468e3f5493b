"""Compile a plan to SQL: facts per customer, segment conditions, activity audiences.

Everything from YAML reaches SQL as a sqlglot expression tree: ids and values become
quoted literals, column names are checked against the canonical tables before they
become quoted identifiers, and `sql:` escape hatches arrive as already-checked ASTs
(`crmspec.sqlfilter`). The result is plain text per statement, so the same plan can be
printed (`crmspec compile`), run on DuckDB, or transpiled for another engine.

Conventions (documented in docs/plan.md):
- A purchase is an order whose status is in shop.yaml `purchase.statuses` (default
  paid), dated by `paid_at` in the shop's timezone, on or before the as-of date.
- days_since_last_purchase = as-of date - date of the last purchase (bought on the
  as-of date: 0). A stage band [from_days, to_days) holds from_days <= d < to_days.
- Customer type: potential 0 purchases, new 1, returning 2+ (with fans: returning with
  at least `fans_min_purchases`). `customer_type: returning` includes fans.
- Tier: the highest tier whose min_spend (and min_purchases) the customer meets, spend
  being summed over the tier evaluation window (all time by default).
- RFM: among customers with a purchase, score = ceil(5 x cume_dist) ordered so that 5
  is best (most recent, most purchases, most spend); ties always share a score.
- Intent: an event of a listed type on the as-of date or the N-1 days before, and (by
  default) no purchase after the latest such event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlglot import exp

from crmspec import triggers
from crmspec.channels import Channel
from crmspec.checks import filter_columns
from crmspec.model import Activity, Plan, Shop, Src, stage_bands
from crmspec.sqlfilter import parse_filter

DIALECT = "duckdb"


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def lit(value) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def date_lit(d: date) -> exp.Expression:
    return exp.cast(exp.Literal.string(d.isoformat()), "DATE")


def _and(parts: list[exp.Expression]) -> exp.Expression:
    if not parts:
        return exp.true()
    return exp.and_(*[exp.paren(p) if isinstance(p, exp.Or) else p for p in parts])


def _or(parts: list[exp.Expression]) -> exp.Expression:
    return exp.paren(exp.or_(*parts)) if len(parts) > 1 else parts[0]


def _false_if_null(e: exp.Expression) -> exp.Expression:
    return exp.func("coalesce", exp.paren(e), exp.false())


def _range(column: str, r: dict) -> exp.Expression:
    parts = []
    if r.get("min") is not None:
        parts.append(col(column) >= lit(r["min"]))
    if r.get("max") is not None:
        parts.append(col(column) <= lit(r["max"]))
    return _and(parts)


def _values(value) -> list:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Intent:
    events: tuple[str, ...]
    within_days: int
    not_bought_since: bool

    @property
    def column(self) -> str:
        return "intent_" + "_".join(self.events) + f"_{self.within_days}d"


@dataclass
class Needs:
    """Customer columns the plan reads, with the plan place that reads them."""

    columns: dict[str, Src] = field(default_factory=dict)

    def add(self, column: str, src: Src) -> None:
        self.columns.setdefault(column, src)


class SegmentCompiler:
    """Turns segment conditions into boolean expressions over the `features` table."""

    def __init__(self, plan: Plan, needs: Needs):
        self.plan = plan
        self.needs = needs
        self.tier_rank = {t.id: t.rank for t in plan.tiers}
        self.intents: dict[Intent, None] = {}
        self.columns = filter_columns()
        self._cache: dict[str, exp.Expression] = {}

    def segment(self, sid: str) -> exp.Expression:
        if sid not in self._cache:
            seg = self.plan.segment(sid)
            if seg.everyone:
                self._cache[sid] = exp.true()
            else:
                self._cache[sid] = self.conditions(seg.where or {}, seg.src.at("where"))
        return self._cache[sid].copy()

    def conditions(self, where: dict, src: Src) -> exp.Expression:
        return _and([self.test(k, v, src.at(k)) for k, v in where.items()])

    def test(self, key: str, value, src: Src) -> exp.Expression:
        if key == "stage":
            return col("stage").isin(*map(lit, _values(value)))
        if key == "customer_type":
            types = []
            for v in _values(value):
                types += ["returning", "fans"] if v == "returning" else [v]
            return col("customer_type").isin(*map(lit, sorted(set(types))))
        if key == "tier":
            vals = _values(value)
            parts: list[exp.Expression] = []
            named = [v for v in vals if v != "none"]
            if named:
                parts.append(col("tier").isin(*map(lit, named)))
            if "none" in vals:
                parts.append(col("tier").is_(exp.null()))
            return _or(parts)
        if key == "tier_at_least":
            return col("tier_rank") >= lit(self.tier_rank[value])
        if key in ("purchases", "spend", "days_since_last_purchase"):
            return _range(key, value)
        if key == "rfm":
            return _and([self._score(k, v) for k, v in value.items()])
        if key == "attributes":
            return _and([self._attribute(c, t, src.at(c)) for c, t in value.items()])
        if key == "intent":
            intent = Intent(tuple(sorted(value["events"])), value["within_days"],
                            value.get("not_bought_since", True))
            self.intents[intent] = None
            at = col(intent.column)
            cond = at.is_(exp.null()).not_()
            if intent.not_bought_since:
                cond = _and([cond, _or([col("last_purchase_at").is_(exp.null()),
                                        col("last_purchase_at") < at])])
            return cond
        if key == "in_segment":
            return _or([_false_if_null(self.segment(s)) for s in _values(value)])
        if key == "not_in_segment":
            return _and([exp.not_(_false_if_null(self.segment(s))) for s in _values(value)])
        if key == "sql":
            safe = parse_filter(value, self.columns)
            for c in safe.columns:
                self.needs.add(c, src)
            return exp.paren(safe.expression.copy())
        if key == "any_of":
            return _or([_false_if_null(self.conditions(w, src.at(i)))
                        for i, w in enumerate(value)])
        if key == "not":
            return exp.not_(_false_if_null(self.conditions(value, src)))
        raise ValueError(f"unknown condition {key!r}")  # the schema forbids this

    def _score(self, letter: str, value) -> exp.Expression:
        if isinstance(value, list):
            return col(letter).isin(*map(lit, value))
        return _range(letter, value)

    def _attribute(self, column: str, test, src: Src) -> exp.Expression:
        self.needs.add(column, src)
        c = col(column)
        if isinstance(test, list):
            return c.isin(*map(lit, test))
        if isinstance(test, dict):
            if "missing" in test:
                return c.is_(exp.null()) if test["missing"] else c.is_(exp.null()).not_()
            if "not" in test:
                vals = _values(test["not"])
                return _and([c.is_(exp.null()).not_(), exp.not_(c.isin(*map(lit, vals)))])
            return _range(column, test)
        return c.eq(lit(test))


# The customer attributes each send-list row carries: why the customer is there (joined
# from `features` for the contacts that are sent: the candidates carry only the stage).
ROW_ATTRIBUTES = ("stage", "customer_type", "tier", "purchases", "spend",
                  "days_since_last_purchase", "r", "f", "m")


@dataclass
class CompiledActivity:
    activity: Activity
    channel: Channel
    audience_sql: str  # SELECT customer_id, activity_id, channel, address, segment, stage,
    #                    status FROM features WHERE ...


def _status(a: Activity, channel: Channel) -> exp.Expression:
    """Why a qualifying customer is (not) contacted: send, opted_out, no/invalid address."""
    addr = col(channel.contact_field)
    case = exp.Case().when(col("opt_out_all"), lit("opted_out"))
    if channel.opt_out_field and not a.service:
        case = case.when(col(channel.opt_out_field), lit("opted_out"))
    case = case.when(addr.is_(exp.null()), lit("no_address"))
    if channel.address_pattern:
        valid = exp.func("regexp_full_match", exp.cast(addr, "VARCHAR"),
                         lit(channel.address_pattern))
        case = case.when(exp.not_(valid), lit("invalid_address"))
    return case.else_(lit("send"))


def _audience_select(a: Activity, channel: Channel, cond: exp.Expression) -> str:
    cols = [
        col("customer_id"),
        exp.alias_(lit(a.id), "activity_id"),
        exp.alias_(lit(channel.name), "channel"),
        exp.alias_(exp.cast(col(channel.contact_field), "VARCHAR"), "address"),
        exp.alias_(lit(a.segment), "segment"),
        col("stage"),
        exp.alias_(_status(a, channel), "status"),
    ]
    return exp.select(*cols).from_("features").where(cond).sql(DIALECT)


@dataclass
class CompiledPlan:
    as_of: date
    statements: list[tuple[str, str]]  # (name, sql) run in order
    activities: list[CompiledActivity]
    segments: dict[str, str]  # segment id -> boolean SQL over features
    needs: Needs

    def script(self) -> str:
        """All SQL as one readable script (for `crmspec compile` and reviews)."""
        out = [f"-- crmspec compiled plan, as of {self.as_of.isoformat()}"]
        for name, sql in self.statements:
            out.append(f"\n-- {name}\n{sql};")
        for seg_id, cond in self.segments.items():
            out.append(f"\n-- segment {seg_id}\n-- WHERE {cond}")
        for ca in self.activities:
            out.append(f"\n-- activity {ca.activity.id} ({ca.channel.name})\n{ca.audience_sql};")
        return "\n".join(out) + "\n"


def purchase_orders_sql(shop: Shop, as_of: date) -> str:
    """The orders that count as purchases, one row per order: customer_id, purchase_date,
    paid_at, amount. The single definition of shop.yaml `purchase.statuses` (dated by
    paid_at, on or before the as-of date) shared by the facts and the KPIs (crmspec.kpi);
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


def _rank_case(plan: Plan, spend: str, purchases: str, ids: bool = False) -> str:
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


def _facts_sql(plan: Plan, as_of: date, previous: date | None = None,
               previous_in_ledger: bool = False) -> str:
    """One row per customer: purchases, spend, recency, stage, type, tier, RFM, and the
    tier as of the previous build and at the next review (for the tier triggers).

    Tiers: with an evaluation window and a review date, spend counts over the window and
    a tier reached is kept until the next review (upgrades at once, downgrades on the
    review date): the tier is the higher of the one today and the one at the last review.
    The previous tier is the one the previous build recorded in the ledger
    (`previous_in_ledger`); without a previous run, the tier on purchases up to two days
    before, so that a first morning build on data up to yesterday sees yesterday's
    upgrades.
    """
    shop = plan.shop
    asof = date_lit(as_of).sql(DIALECT)
    prev = date_lit(as_of - timedelta(days=2)).sql(DIALECT)
    once = shop.same_day == "once"
    window = int(plan.tier_window_days) if plan.tier_window_days else None

    def count(cond: str | None = None) -> str:
        # With same_day: once, `days` holds one row per customer and purchase day.
        return f"count(*) FILTER (WHERE {cond})" if cond else "count(*)"

    def spend(end: str) -> str:
        conds = [f"purchase_date <= {end}"]
        if window:
            conds.append(f"purchase_date > {end} - INTERVAL {window} DAY")
        return f"coalesce(sum(amount) FILTER (WHERE {' AND '.join(conds)}), 0)"

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
        previous_rank = "coalesce(pt.tier_rank, 0)"
        previous_join = (f"\n  LEFT JOIN ledger.tiers AS pt ON pt.customer_id = b.customer_id "
                         f"AND pt.as_of = {date_lit(previous).sql(DIALECT)}")
    else:
        previous_rank = _rank_case(plan, "previous_spend", "previous_purchases")
        previous_join = ""
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
         min(purchase_date) AS first_purchase_date, max(purchase_date) AS last_purchase_date,
         max(paid_at) AS last_purchase_at,
         {count(f"purchase_date <= {prev}")} AS previous_purchases,
         {spend(prev)} AS previous_spend,
         {review_spend} AS review_spend,
         {count(f"purchase_date <= {kept_sql}") if kept_sql else "0"} AS kept_purchases,
         {spend(kept_sql) if kept_sql else "0"} AS kept_spend
  FROM days GROUP BY customer_id
), rfm AS (
  -- Scores over the buyers (the rows of per_customer) on this narrow table: sorting
  -- three columns is far cheaper than sorting the wide customer rows.
  SELECT customer_id,
    CAST(ceil(5 * cume_dist() OVER (ORDER BY last_purchase_date)) AS INTEGER) AS r,
    CAST(ceil(5 * cume_dist() OVER (ORDER BY purchases)) AS INTEGER) AS f,
    CAST(ceil(5 * cume_dist() OVER (ORDER BY spend)) AS INTEGER) AS m
  FROM per_customer
), base AS (
  SELECT c.*, CAST(coalesce(p.purchases, 0) AS INTEGER) AS purchases,
         CAST(coalesce(p.spend, 0) AS DECIMAL(14,2)) AS spend,
         p.first_purchase_date, p.last_purchase_date, p.last_purchase_at,
         CAST(date_diff('day', p.last_purchase_date, {asof}) AS INTEGER)
           AS days_since_last_purchase,
         {asof} AS as_of,
         coalesce(p.previous_purchases, 0) AS previous_purchases,
         coalesce(p.previous_spend, 0) AS previous_spend,
         coalesce(p.review_spend, 0) AS review_spend,
         coalesce(p.kept_purchases, 0) AS kept_purchases,
         coalesce(p.kept_spend, 0) AS kept_spend, rfm.r, rfm.f, rfm.m
  FROM customers AS c LEFT JOIN per_customer AS p USING (customer_id)
  LEFT JOIN rfm USING (customer_id)
), ranked AS (
  SELECT b.*,
    greatest({_rank_case(plan, "spend", "purchases")},
             {_rank_case(plan, "kept_spend", "kept_purchases")}) AS tier_rank,
    {previous_rank} AS previous_tier_rank
  FROM base AS b{previous_join}
)
SELECT * EXCLUDE (previous_purchases, previous_spend, review_spend, kept_purchases,
                  kept_spend, r, f, m),
  CASE WHEN purchases = 0 THEN {never_sql} {' '.join(stage_cases)} END AS stage,
  CASE WHEN purchases = 0 THEN 'potential' WHEN purchases = 1 THEN 'new'
       WHEN purchases >= {fans} THEN 'fans' ELSE 'returning' END AS customer_type,
  {tier_id} AS tier,
  {review_sql} AS review_date,
  {_rank_case(plan, "review_spend", "purchases")} AS review_tier_rank,
  r, f, m
FROM ranked"""


FACTS_VIEW = "CREATE OR REPLACE TEMP VIEW facts AS SELECT * FROM features"


def _features_sql(facts: str, intents: list[Intent], flags: dict[str, exp.Expression],
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
        ctes.append(f"""signals AS (
  SELECT customer_id, event_type, event_at FROM events
  WHERE CAST(event_at AS DATE) <= {asof} AND CAST(event_at AS DATE) > {asof} - INTERVAL {widest} DAY
  UNION ALL
  SELECT customer_id, 'unpaid_order' AS event_type, created_at AS event_at FROM orders
  WHERE status = 'unpaid' AND CAST(created_at AS DATE) <= {asof}
    AND CAST(created_at AS DATE) > {asof} - INTERVAL {widest} DAY
), intents AS (
  SELECT customer_id,
    {(',' + chr(10) + '    ').join(cols)}
  FROM signals GROUP BY customer_id
)""")
        joins.append("LEFT JOIN intents AS i USING (customer_id)")
        picked += ["i." + col(i.column).sql(DIALECT) for i in intents]
    if flags:
        ctes.append(f"order_flags AS (\n  {triggers.order_flags_sql(list(flags))}\n)")
        joins.append("LEFT JOIN order_flags AS o USING (customer_id)")
        picked += [f"coalesce(o.{col(name).sql(DIALECT)}, false) AS {col(name).sql(DIALECT)}"
                   for name in flags]
    return f"""CREATE OR REPLACE TEMP TABLE features AS
WITH {(', ').join(ctes)}
SELECT {', '.join(picked)}
FROM facts AS f {' '.join(joins)}"""


def order_condition(a: Activity, plan: Plan, as_of: date, orders: str | None = None,
                    customers: str | None = None) -> exp.Expression | None:
    """The orders an `after_order` trigger refers to (see triggers.order_condition);
    None for other triggers. The parcel channel joins its send rows with these orders."""
    if a.trigger.type != "after_order":
        return None
    return triggers.order_condition(a.trigger, plan.shop.purchase_statuses, as_of, orders,
                                    customers)


def _trigger_condition(a: Activity, plan: Plan, as_of: date) -> exp.Expression:
    if a.trigger.type == "birthday" and not plan.shop.contact.birthday_greetings:
        return exp.false()  # shop.yaml contact.birthday_greetings: false
    ctx = triggers.TriggerContext(as_of, plan.shop.purchase_statuses, plan.holidays)
    return triggers.trigger_condition(a.trigger, ctx)


def compile_plan(plan: Plan, as_of: date, channels: dict[str, Channel],
                 previous_as_of: date | None = None, previous_in_ledger: bool = False
                 ) -> CompiledPlan:
    """The plan's SQL as of a date; `channels` come from the plugin manager
    (`crmspec.plugins.collect_channels`); `previous_as_of` is the date of the previous
    build, whose tiers the ledger holds when `previous_in_ledger` (tier upgrades are
    measured against them; see _facts_sql for the fallback)."""
    needs = Needs()
    segc = SegmentCompiler(plan, needs)
    segments = {s.id: segc.segment(s.id) for s in plan.segments}
    activities = []
    for a in plan.activities:
        channel = channels[a.channel]
        needs.add(channel.contact_field, a.src.at("channel"))
        cond = _and([_false_if_null(segments[a.segment].copy()),
                     _trigger_condition(a, plan, as_of)])
        activities.append(CompiledActivity(a, channel, _audience_select(a, channel, cond)))
    intents = sorted(segc.intents, key=lambda i: i.column)
    flags = {}
    for a in plan.activities:
        name = triggers.order_flag_column(a.trigger)
        if name and name not in flags:
            flags[name] = order_condition(a, plan, as_of)
    flags = dict(sorted(flags.items()))
    statements = [
        ("trigger_orders: the orders today's order triggers refer to",
         "CREATE OR REPLACE TEMP TABLE trigger_orders AS "
         + (triggers.trigger_orders_sql(flags) if flags else
            "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS order_id WHERE false")),
        ("features: purchases, stage, type, tier and RFM per customer (the facts), recent "
         "intent signals and order-trigger flags",
         _features_sql(_facts_sql(plan, as_of, previous_as_of, previous_in_ledger), intents,
                       flags, as_of)),
        ("facts: the customer facts by their old name", FACTS_VIEW),
    ]
    return CompiledPlan(
        as_of=as_of,
        statements=statements,
        activities=activities,
        segments={k: v.sql(DIALECT) for k, v in segments.items()},
        needs=needs,
    )
