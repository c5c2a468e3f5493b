"""What the site is made of, gathered in one session: the validated plan with its
templates and channels, the latest build's manifest, the evaluation of every recorded
run, the KPIs per week, the spend per month, and the plan's git history.

One `open_session` (plan validated, data attached as of the date, ledger attached
read-only) serves everything that needs the data, so the site costs one data load, not
one per report. Nothing is written: the ledger is only read (the evaluation is not
stored; `crmspec evaluate` does that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from crmspec.analysis.evaluate import EvalRow
from crmspec.analysis.evaluate import compute as evaluate_runs
from crmspec.analysis.kpi import KpiReport, kpis_on
from crmspec.channels import Channel
from crmspec.engine.session import open_session
from crmspec.plan.model import Plan
from crmspec.site.history import History
from crmspec.templates.loading import ActivityTemplates

KPI_WEEKS = 12  # the KPI page's trend: the last twelve complete weeks


@dataclass
class MonthSpend:
    month: str  # YYYY-MM
    runs: int
    contacts: int
    by_channel: dict[str, float]
    cap: float | None

    @property
    def spent(self) -> float:
        return sum(self.by_channel.values())


@dataclass
class SiteData:
    root: Path
    plan: Plan
    as_of: date  # the data's as-of date
    channels: dict[str, Channel]  # activity id -> its channel
    templates: dict[str, ActivityTemplates]
    manifest: dict | None  # out/manifest.json of the latest build
    runs: int  # runs in the ledger
    evaluation: list[EvalRow]  # evaluate.compute rows (empty without runs)
    kpis: KpiReport | None
    monitoring: KpiReport | None
    months: list[MonthSpend] = field(default_factory=list)
    history: History | None = None
    segments: dict[str, str] = field(default_factory=dict)  # id -> compiled SQL condition

    def activity_rows(self, activity: str, level: str) -> list[EvalRow]:
        return [r for r in self.evaluation if r.activity == activity and r.level == level]


def read_manifest(root: Path) -> dict | None:
    """The latest build's manifest, or None (nothing built yet, or not readable)."""
    path = root / "out" / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "activities" in data else None


def gather(root: Path, as_of: date | None = None, pm=None) -> SiteData:
    """Everything the pages show, for the project at `root` and the data as of `as_of`."""
    with open_session(root, as_of, capped=False, pm=pm) as (con, p):
        plan = p.plan
        runs = con.execute("SELECT count(*) FROM ledger.runs").fetchone()[0]
        window = plan.shop.evaluation.window_days
        evaluation = evaluate_runs(con, plan, p.data.as_of, window) if runs else []
        kpis = monitoring = None
        if plan.kpis:
            start = p.data.as_of - timedelta(days=7 * KPI_WEEKS)
            kpis = kpis_on(con, p, "week", date_from=start)
            monitoring = kpis_on(con, p, "week", monitoring=True) if plan.monitoring else None
        months = _months(con, plan)
        channels = {ca.activity.id: ca.channel for ca in p.compiled.activities}
        data = SiteData(root, plan, p.data.as_of, channels, p.templates, read_manifest(root),
                        runs, evaluation, kpis, monitoring, months,
                        segments=dict(p.compiled.segments))
    data.history = History.read(root)
    data.history.prefetch()
    return data


def _months(con, plan: Plan) -> list[MonthSpend]:
    """Spend per month and channel from the ledger (treatment contacts' costs), with the
    months that have a cap of their own even when nothing was spent yet."""
    by: dict[str, MonthSpend] = {
        month: MonthSpend(month, int(n), 0, {}, None) for month, n in con.execute(
            "SELECT strftime(as_of, '%Y-%m'), count(*) FROM ledger.runs GROUP BY 1").fetchall()}
    for month, channel, contacts, cost in con.execute("""
            SELECT strftime(as_of, '%Y-%m'), channel, count(*), sum(CAST(cost AS DOUBLE))
            FROM ledger.contacts WHERE grp = 'treatment' GROUP BY ALL ORDER BY 1, 2
            """).fetchall():
        m = by.setdefault(month, MonthSpend(month, 0, 0, {}, None))
        m.contacts += int(contacts)
        m.by_channel[channel] = round(float(cost or 0.0), 2)
    for month in plan.shop.month_caps:
        by.setdefault(month, MonthSpend(month, 0, 0, {}, None))
    out = [by[k] for k in sorted(by)]
    for m in out:
        m.cap = plan.shop.cap_for(date.fromisoformat(m.month + "-01"))
    return out
