"""What a build reports beyond its send lists: costs and stage contact bounds.

Costs are the forecast of this build (every contact's units x price plus expected coupon
redemption) and the month to date (earlier runs of the month in the ledger plus this
one). The stage lower bound cannot be enforced (a contact cannot be forced, domain rule
4), so it is reported: customers now in a stage who have had fewer contacts since they
entered it than the stage's minimum.
"""

from __future__ import annotations

from datetime import date

import duckdb

from crmspec.compile import CompiledPlan
from crmspec.core.diagnostics import Diagnostic
from crmspec.plan.model import Plan


def contact_report(con: duckdb.DuckDBPyConnection, plan: Plan, compiled: CompiledPlan,
                   as_of: date) -> dict:
    by_channel = dict(con.execute(
        "SELECT channel, round(sum(cost), 4) FROM sends WHERE status = 'send' "
        "GROUP BY channel ORDER BY channel").fetchall())
    total = sum(float(v) for v in by_channel.values())
    month_start = as_of.replace(day=1)
    (earlier,) = con.execute(
        "SELECT coalesce(sum(cost), 0) FROM history WHERE grp = 'treatment' AND as_of >= ?",
        [month_start]).fetchone()
    bounded = [s for s in plan.stages
               if s.contacts_min is not None or s.contacts_max is not None]
    stages: dict[str, dict] = {}
    if bounded:
        con.execute("CREATE OR REPLACE TEMP TABLE stage_bounds (stage VARCHAR, from_days "
                    "INTEGER, contacts_min INTEGER, contacts_max INTEGER)")
        con.executemany("INSERT INTO stage_bounds VALUES (?, ?, ?, ?)",
                        [(s.id, None if s.never_purchased else s.from_days, s.contacts_min,
                          s.contacts_max) for s in bounded])
        rows = con.execute("""
            WITH contacts AS (
              SELECT customer_id, as_of FROM history WHERE grp = 'treatment' AND NOT service
              UNION ALL
              SELECT customer_id, ? AS as_of FROM sends WHERE status = 'send' AND NOT service
            ), per_customer AS (
              SELECT f.customer_id, f.stage, b.contacts_min,
                count(c.customer_id) AS n
              FROM features f JOIN stage_bounds b USING (stage)
              LEFT JOIN contacts c ON c.customer_id = f.customer_id AND (b.from_days IS NULL
                OR c.as_of >= f.last_purchase_date + INTERVAL (b.from_days) DAY)
              GROUP BY ALL
            )
            SELECT stage, count(*), count(*) FILTER (WHERE n < coalesce(contacts_min, 0)),
                   max(n)
            FROM per_customer GROUP BY stage""", [as_of]).fetchall()
        found = {r[0]: r[1:] for r in rows}
        for s in bounded:
            n, below, most = found.get(s.id, (0, 0, 0))
            stages[s.id] = {"min": s.contacts_min, "max": s.contacts_max, "customers": n,
                            "below_min": below, "most_contacts": most or 0}
    cap = plan.shop.cap_for(as_of)
    month_to_date = round(float(earlier) + total, 2)
    return {
        "costs": {
            "currency": plan.shop.currency,
            "by_channel": {k: round(float(v), 2) for k, v in by_channel.items()},
            "total": round(total, 2),
            "month_to_date": month_to_date,
            "monthly_cap": cap,
            # what the month costs beyond its budget (service and maintenance contacts
            # are never trimmed, so the budget can be exceeded); None without a budget
            "over_cap": None if cap is None else round(max(month_to_date - cap, 0.0), 2),
        },
        "stage_contacts": stages,
    }


def budget_problems(plan: Plan, costs: dict, as_of: date, strict: bool = False
                    ) -> list[Diagnostic]:
    """W605 (E605 with `strict`) when the month to date costs more than the month's
    budget, at the cap that applies (budget.months.<YYYY-MM> or budget.monthly_cap).

    The budget trims marketing only: service and maintenance contacts, and what earlier
    runs of the month spent, can take the month over it, and that must not pass
    silently."""
    over = costs.get("over_cap")
    if not over:
        return []
    month = as_of.strftime("%Y-%m")
    src = plan.shop.src.at("budget", "months", month)
    if not src.exists():
        src = plan.shop.src.at("budget", "monthly_cap")
    cur = costs["currency"]
    earlier = costs["month_to_date"] - costs["total"]
    return [src.diag(
        "E605" if strict else "W605",
        f"the contacts of {month} cost {costs['month_to_date']:,.2f} {cur} to date "
        f"({earlier:,.2f} in earlier runs, {costs['total']:,.2f} in this build), "
        f"{over:,.2f} over the month's budget of {costs['monthly_cap']:,.2f}",
        "the budget trims marketing only: service and maintenance contacts went over it. "
        "Raise the budget, or make those activities rarer or cheaper"
        + ("" if strict else "; --strict stops such a build"))]


