"""What a build reports beyond its send lists: costs, stage contact bounds, power.

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
from crmspec.diagnostics import Diagnostic
from crmspec.model import Plan
from crmspec.power import check_power
from crmspec.run import RunResult


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
    return {
        "costs": {
            "currency": plan.shop.currency,
            "by_channel": {k: round(float(v), 2) for k, v in by_channel.items()},
            "total": round(total, 2),
            "month_to_date": round(float(earlier) + total, 2),
            "monthly_cap": plan.shop.cap_for(as_of),
        },
        "stage_contacts": stages,
    }


def audiences(result: RunResult) -> dict[str, int]:
    """Per activity, the customers contacted or held out by a build."""
    return {c.activity_id: c.sent + c.control for c in result.activities}


def _short_of_power(plan: Plan, audience: dict[str, int]) -> list[tuple]:
    """(activity, check, effect) for every activity whose control group, at this audience
    size (contacted plus held out), cannot show its minimum effect; worst first (the
    most builds needed; no size at all is enough: first of all)."""
    out = []
    ev = plan.shop.evaluation
    for a in plan.activities:
        effect = a.min_effect or ev.min_effect
        n = audience.get(a.id, 0)
        if a.holdout <= 0 or not effect or n == 0:
            continue
        check = check_power(n, a.holdout, ev.baseline_response, effect, ev.alpha, ev.power)
        if not check.enough:
            out.append((a, check, effect))
    return sorted(out, key=lambda x: (x[1].needed_audience is not None,
                                      -_builds(x[1]), x[0].id))


def _builds(check) -> int:
    """Builds like this one whose pooled audience reaches the needed size (evaluate pools
    an activity's runs); 0: no size is enough."""
    if not check.needed_audience:
        return 0
    return -(-check.needed_audience // check.audience)


def _needs(check, like: str) -> str:
    if not check.needed_audience:
        return "no audience size is enough"
    return (f"about {check.needed_audience:,} customers are needed: "
            f"{_builds(check):,} builds like {like}")


def power_warnings(plan: Plan, audience: dict[str, int]) -> list[Diagnostic]:
    """W602 per activity whose control group, at this audience size, cannot show the
    plan's minimum effect (`crmspec validate`, against the latest build's audiences)."""
    ev = plan.shop.evaluation
    return [a.src.at("holdout").diag(
        "W602", f"activity '{a.id}': {check.control} held out of {check.audience} "
        f"cannot show +{effect:g} over a {ev.baseline_response:g} response rate at power "
        f"{ev.power:g} ({_needs(check, 'the latest')})",
        "evaluate over several builds, raise the hold-out, or widen the segment")
        for a, check, effect in _short_of_power(plan, audience)]


def power_summary(plan: Plan, audience: dict[str, int]) -> list[Diagnostic]:
    """The build's W602: one warning for all the activities short of power, at the worst
    one's hold-out. A build is one draw of a control group that `crmspec evaluate` pools
    over many; one line per activity on every build buried the other warnings (21 on
    the demo shop), and `crmspec validate` lists them all."""
    short = _short_of_power(plan, audience)
    if not short:
        return []
    named = [f"'{a.id}' ({check.control} held out of {check.audience}; {_needs(check, 'this one')})"
             for a, check, _ in short[:3]]
    more = f" and {len(short) - 3} more" if len(short) > 3 else ""
    n = len(short)
    return [short[0][0].src.at("holdout").diag(
        "W602", f"{n} activit{'y' if n == 1 else 'ies'} cannot show the minimum effect "
        f"from this build's control group: {', '.join(named)}{more}",
        "crmspec evaluate pools builds; `crmspec validate` lists every activity. If too "
        "many builds are needed, raise the hold-out or widen the segment")]
