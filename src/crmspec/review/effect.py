"""The effect of a change: the base plan and the working tree's run on one connection,
against the same data snapshot and the same ledger state, read-only (nothing recorded,
no file written), and their contact decisions compared customer by customer in SQL.

Both plans are prepared together (`crmspec.engine.session.prepare_plans`: the data
attached once, as the working tree's shop.yaml says); the base runs first, its
decisions are kept, then the working tree's plan runs on the same facts when its
statements are the same (a change that does not touch stages, tiers, intents or order
triggers costs one more contact pass, not a second build). Only the messages whose cost
depends on their text (SMS) are rendered: a review reads costs, not messages.

Per activity and side: the audience (every customer for whom segment and trigger hold),
contacted, held out, not contacted (by reason) and cost; between the sides: the
customers who entered and left the audience (by stage and tier: the working tree's for
those who entered, the base's for those who left), and those now capped out by a limit
or budget or freed from one. Per side for the whole plan: contacts per channel, the cost
of this build and of the month to date, and the customers over each contact limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pluggy

from crmspec.contact.report import contact_report
from crmspec.engine.connection import connect
from crmspec.engine.decide import decide
from crmspec.engine.run import run_candidates, run_facts
from crmspec.engine.session import Prepared, prepare_plans
from crmspec.review.days import Days, simulate_days
from crmspec.validate import Validation

# Statuses that a contact limit or a budget gives: where one activity's contacts take
# another's place.
CAPS = ("channel_limit", "contact_limit", "stage_limit", "budget_activity", "budget_month")


@dataclass(frozen=True)
class Side:
    """One plan's numbers for one activity."""

    audience: int
    sent: int
    control: int
    cost: float
    reasons: dict[str, int]  # not contacted: reason -> customers

    @property
    def not_contacted(self) -> int:
        return sum(self.reasons.values())

    def as_dict(self) -> dict:
        return {"audience": self.audience, "sent": self.sent, "control": self.control,
                "not_contacted": self.not_contacted, "cost": self.cost,
                "reasons": self.reasons}


@dataclass(frozen=True)
class ActivityEffect:
    id: str
    base: Side | None  # None: not in that plan
    head: Side | None
    entered: int = 0
    left: int = 0
    entered_by: dict[str, dict[str, int]] = field(default_factory=dict)  # stage/tier -> n
    left_by: dict[str, dict[str, int]] = field(default_factory=dict)
    capped_out: dict[str, int] = field(default_factory=dict)  # head's reason -> customers
    freed: dict[str, int] = field(default_factory=dict)  # base's reason -> customers
    # The capped-out customers' contacts of other activities that are new: what took
    # their place (activity -> customers); the freed customers' contacts that are gone.
    displaced_by: dict[str, int] = field(default_factory=dict)
    freed_by: dict[str, int] = field(default_factory=dict)

    @property
    def moved(self) -> bool:
        """Whether anything differs between the sides."""
        return self.base != self.head or bool(self.entered or self.left or self.capped_out
                                              or self.freed)

    def as_dict(self) -> dict:
        return {"id": self.id, "base": self.base.as_dict() if self.base else None,
                "head": self.head.as_dict() if self.head else None,
                "entered": self.entered, "left": self.left, "entered_by": self.entered_by,
                "left_by": self.left_by, "capped_out": self.capped_out, "freed": self.freed,
                "displaced_by": self.displaced_by, "freed_by": self.freed_by}


@dataclass(frozen=True)
class Totals:
    """One plan's whole build."""

    customers: int
    contacts: dict[str, int]  # channel -> contacts sent
    cost: float
    month_to_date: float
    monthly_cap: float | None
    over_limit: dict[str, int]  # "overall", "stage", "<channel>" -> customers capped
    stage_contacts: dict[str, dict]  # crmspec.contact.report's, per bounded stage

    def as_dict(self) -> dict:
        return {"customers": self.customers, "contacts": self.contacts, "cost": self.cost,
                "month_to_date": self.month_to_date, "monthly_cap": self.monthly_cap,
                "over_limit": self.over_limit, "stage_contacts": self.stage_contacts}


@dataclass(frozen=True)
class Effect:
    as_of: date
    rows: dict[str, int]  # customers, orders, events read
    ledger_runs: int
    latest_run: date | None
    facts_shared: bool
    base: Totals
    head: Totals
    activities: dict[str, ActivityEffect]
    notes: tuple[str, ...] = ()
    days: Days | None = None  # --days N: the next N days of builds

    def as_dict(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "rows": self.rows,
                "ledger_runs": self.ledger_runs,
                "latest_run": self.latest_run.isoformat() if self.latest_run else None,
                "facts_shared": self.facts_shared, "base": self.base.as_dict(),
                "head": self.head.as_dict(),
                "activities": [a.as_dict() for a in self.activities.values()],
                "notes": list(self.notes),
                "days": self.days.as_dict() if self.days else None}


def measure(root: Path, base: Validation, head: Validation, as_of: date | None,
            pm: pluggy.PluginManager, scratch: Path, days: int | None = None) -> Effect:
    """Both plans run on the data of the project at `root` as of the same date (and with
    `days`, the next days of builds: `crmspec.review.days`); raises PlanError when the
    data cannot be read (E401 when it is not there at all)."""
    notes: list[str] = []
    con = connect()
    try:
        head_p, base_p = prepare_plans(root, [head, base], as_of, con, notes=notes, pm=pm,
                                       scratch=scratch)
        shared = head_p.compiled.statements == base_p.compiled.statements
        base_totals = _run(con, base_p, "base", facts=True)
        head_totals = _run(con, head_p, "head", facts=not shared)
        activities = _compare(con, base_p, head_p)
        runs, latest = con.execute("SELECT count(*), max(as_of) FROM ledger.runs").fetchone()
        simulated = None
        if days:
            simulated = simulate_days(con, {"base": (base_p, base), "head": (head_p, head)},
                                      days, root / head.plan.shop.ledger_path, scratch)
        data = head_p.data
        return Effect(data.as_of, dict(data.rows), runs, latest, shared, base_totals,
                      head_totals, activities, tuple(notes), simulated)
    finally:
        con.close()


def _run(con: duckdb.DuckDBPyConnection, p: Prepared, side: str, facts: bool) -> Totals:
    """One plan's contact pass; its decisions kept as review_<side> (with the stage and
    tier of each customer, for the entered/left breakdown)."""
    if facts:
        run_facts(con, p.compiled)
    run_candidates(con, p.compiled)
    rendered = decide(con, p.plan, p.compiled, p.templates)
    for r in rendered.values():
        con.execute(f"DROP TABLE IF EXISTS {r.table}")
    report = contact_report(con, p.plan, p.compiled, p.compiled.as_of)
    table = f"review_{side}"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT d.activity_id, d.customer_id, d.channel, d.status, CAST(d.cost AS DOUBLE) AS cost,
               coalesce(f.stage, 'none') AS stage, coalesce(f.tier, 'none') AS tier
        FROM decisions d JOIN features f USING (customer_id)""")
    caps = ", ".join(f"'{c}'" for c in CAPS)
    over: dict[str, int] = {}
    for status, channel, n in con.execute(
            f"SELECT status, CASE WHEN status = 'channel_limit' THEN channel END, "
            f"count(DISTINCT customer_id) FROM {table} WHERE status IN ({caps}) "
            "GROUP BY ALL ORDER BY ALL").fetchall():
        key = {"channel_limit": channel, "contact_limit": "overall", "stage_limit": "stage",
               "budget_activity": "activity budget", "budget_month": "monthly budget"}[status]
        over[key] = n
    (customers,) = con.execute("SELECT count(*) FROM features").fetchone()
    costs = report["costs"]
    contacts = dict(con.execute(f"SELECT channel, count(*) FROM {table} WHERE status = 'send' "
                                "GROUP BY channel ORDER BY channel").fetchall())
    return Totals(customers, contacts, costs["total"], costs["month_to_date"],
                  costs["monthly_cap"], over, report["stage_contacts"])


def _sides(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Side]:
    rows = con.execute(f"""SELECT activity_id, status, count(*), coalesce(sum(cost), 0)
        FROM {table} GROUP BY ALL ORDER BY ALL""").fetchall()
    by: dict[str, dict[str, tuple[int, float]]] = {}
    for aid, status, n, cost in rows:
        by.setdefault(aid, {})[status] = (n, cost)
    out = {}
    for aid, st in by.items():
        out[aid] = Side(sum(n for n, _ in st.values()), st.get("send", (0, 0))[0],
                        st.get("control", (0, 0))[0], round(st.get("send", (0, 0.0))[1], 2),
                        {s: n for s, (n, _) in sorted(st.items()) if s not in ("send",
                                                                                "control")})
    return out


def _compare(con: duckdb.DuckDBPyConnection, base: Prepared, head: Prepared
             ) -> dict[str, ActivityEffect]:
    empty = Side(0, 0, 0, 0.0, {})
    b_sides, h_sides = _sides(con, "review_base"), _sides(con, "review_head")
    caps = ", ".join(f"'{c}'" for c in CAPS)
    rows = con.execute(f"""
        WITH pairs AS (
          SELECT coalesce(h.activity_id, b.activity_id) AS activity_id,
            CASE WHEN b.customer_id IS NULL THEN 'entered'
                 WHEN h.customer_id IS NULL THEN 'left'
                 WHEN b.status = 'send' AND h.status IN ({caps}) THEN 'capped:' || h.status
                 WHEN b.status IN ({caps}) AND h.status = 'send' THEN 'freed:' || b.status
            END AS change,
            CASE WHEN b.customer_id IS NULL THEN h.stage ELSE b.stage END AS stage,
            CASE WHEN b.customer_id IS NULL THEN h.tier ELSE b.tier END AS tier
          FROM review_base b FULL OUTER JOIN review_head h USING (activity_id, customer_id)
        )
        SELECT activity_id, change, stage, tier, count(*) FROM pairs WHERE change IS NOT NULL
        GROUP BY GROUPING SETS ((activity_id, change), (activity_id, change, stage),
                                (activity_id, change, tier))
        ORDER BY ALL""").fetchall()
    counts: dict[str, dict] = {}
    for aid, change, stage, tier, n in rows:
        c = counts.setdefault(aid, {})
        for key in ("entered_by", "left_by", "capped_out", "freed"):
            c.setdefault(key, {})
        kind, _, reason = change.partition(":")
        if stage is None and tier is None:
            if kind in ("entered", "left"):
                c[kind] = n
            else:
                c["capped_out" if kind == "capped" else "freed"][reason] = n
        elif kind in ("entered", "left"):
            by = c[f"{kind}_by"].setdefault("stage" if stage is not None else "tier", {})
            by[stage if stage is not None else tier] = n
    # What took the place of the contacts capped out (and what made room for those freed):
    # the same customers' contacts of other activities that are new (or gone).
    for aid, kind, other, n in con.execute(f"""
        WITH moved AS (
          SELECT b.activity_id, b.customer_id,
                 CASE WHEN b.status = 'send' THEN 'displaced_by' ELSE 'freed_by' END AS kind
          FROM review_base b JOIN review_head h USING (activity_id, customer_id)
          WHERE (b.status = 'send' AND h.status IN ({caps}))
             OR (b.status IN ({caps}) AND h.status = 'send')
        ), sends AS (
          SELECT coalesce(h.activity_id, b.activity_id) AS activity_id,
                 coalesce(h.customer_id, b.customer_id) AS customer_id,
                 coalesce(h.status = 'send', false) AS now, coalesce(b.status = 'send', false)
                   AS before
          FROM review_base b FULL OUTER JOIN review_head h USING (activity_id, customer_id)
        )
        SELECT m.activity_id, m.kind, s.activity_id, count(*) FROM moved m
        JOIN sends s ON s.customer_id = m.customer_id AND s.activity_id <> m.activity_id
          AND ((m.kind = 'displaced_by' AND s.now AND NOT s.before)
            OR (m.kind = 'freed_by' AND s.before AND NOT s.now))
        GROUP BY ALL ORDER BY 1, 2, 4 DESC, 3""").fetchall():
        c = counts.setdefault(aid, {})
        c.setdefault(kind, {})[other] = n
    order = {"stage": {s.id: i for i, s in enumerate(head.plan.stages)},
             "tier": {"none": 0, **{t.id: i for i, t in enumerate(head.plan.tiers, 1)}}}
    out: dict[str, ActivityEffect] = {}
    ids = [a.id for a in head.plan.activities] + [a.id for a in base.plan.activities
                                                  if a.id not in h_sides]
    head_ids = {a.id for a in head.plan.activities}
    base_ids = {a.id for a in base.plan.activities}
    for aid in dict.fromkeys(ids):
        c = counts.get(aid, {})
        for key in ("entered_by", "left_by"):
            for dim, values in c.get(key, {}).items():
                c[key][dim] = dict(sorted(values.items(), key=lambda kv, d=dim: (
                    order[d].get(kv[0], len(order[d])), kv[0])))
        out[aid] = ActivityEffect(
            aid, b_sides.get(aid, empty) if aid in base_ids else None,
            h_sides.get(aid, empty) if aid in head_ids else None,
            c.get("entered", 0), c.get("left", 0), c.get("entered_by", {}),
            c.get("left_by", {}), c.get("capped_out", {}), c.get("freed", {}),
            c.get("displaced_by", {}), c.get("freed_by", {}))
    return out
