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

Modules: `periods`, `tables` (what every query reads), `metrics` (one query per KPI),
`results`, `render`; `compute_kpis` and `kpi_report` here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable, Iterable

import duckdb

from crmspec.analysis.kpi.metrics import compute
from crmspec.analysis.kpi.periods import make_period, report_periods, shift
from crmspec.analysis.kpi.render import render, render_monitoring
from crmspec.analysis.kpi.results import KpiReport
from crmspec.core.diagnostics import PlanError, warning_summary
from crmspec.core.tabular import for_excel
from crmspec.engine.session import Prepared, open_session


def compute_kpis(root: Path, unit: str = "week", date_from: date | None = None,
                 date_to: date | None = None, kpi_ids: Iterable[str] = (),
                 monitoring: bool = False, say: Callable[[str], None] | None = None
                 ) -> KpiReport:
    """The KPIs of the project at `root` (all, those of `kpi_ids`, or the monitoring
    table's): the data as of `date_to` (default: the plan's as-of date), complete periods
    from the one containing `date_from` (default: the last 12)."""
    say = say or (lambda _msg: None)
    with open_session(root, date_to, capped=False, say=say) as (con, prepared):
        summary = warning_summary(prepared.warnings)
        if summary:
            say(summary)
        return kpis_on(con, prepared, unit, date_from, date_to, kpi_ids, monitoring)


def kpis_on(con: duckdb.DuckDBPyConnection, prepared: Prepared, unit: str = "week",
            date_from: date | None = None, date_to: date | None = None,
            kpi_ids: Iterable[str] = (), monitoring: bool = False) -> KpiReport:
    """`compute_kpis` on a session already open (`open_session`), for callers that
    compute more than KPIs on it (the SOP site)."""
    plan, data = prepared.plan, prepared.data
    problems = []
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


def kpi_report(root: Path, unit: str = "week", date_from: date | None = None,
               date_to: date | None = None, fmt: str = "table", monitoring: bool = False,
               kpi_ids: Iterable[str] = (), say: Callable[[str], None] | None = None,
               width: int | None = None, bom: bool = False) -> str:
    """`crmspec kpi`: the report (or the monitoring table) as text in the chosen format;
    CSV with a UTF-8 byte order mark when `bom` (for Excel)."""
    report = compute_kpis(root, unit, date_from, date_to, kpi_ids, monitoring, say)
    text = (render_monitoring if monitoring else render)(report, fmt, width)
    return for_excel(text, fmt, bom)


__all__ = ["KpiReport", "KpiRow", "Period", "check_kpis", "compute", "compute_kpis",
           "kpi_report", "kpis_on", "monitoring_table", "render", "render_monitoring",
           "report_periods", "target_status"]
