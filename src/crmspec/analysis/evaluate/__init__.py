"""Control-group evaluation of every activity (`crmspec evaluate`).

domain.md calls it "the most important concept": hold a control group out, send, wait,
compare the purchases of the contacted with those of the held out. The contact ledger
records both groups of every run (`ledger.contacts`, grp treatment/control, with the
send time); the orders say who bought. docs/evaluate.md defines every figure; in short:

- a contact *responds* when its customer has a purchase (shop.yaml `purchase.statuses`,
  dated by `paid_at`) with  send time <= paid_at < send time + window days. The send
  time is the contact's `scheduled_at` (the control group carries the time it would have
  been sent at), or the run's date at 00:00 when the ledger has none;
- per activity and run: the two groups' sizes, responders and response rates, the
  uplift (treatment rate - control rate) with its confidence interval (Newcombe's hybrid
  score interval), the relative uplift (rate ratio - 1, log interval), the p-value of the
  two-sided two-proportion z-test, incremental orders (treatment size x uplift: the
  customers who bought because of the contact), incremental revenue (incremental orders
  x the treatment responders' revenue per responder), cost (the ledger's) and ROI
  (incremental revenue / cost);
- per activity over all its runs whose window has closed (contacts pooled), and a total
  over the activities;
- a run whose window has not closed by the data's as-of date is *pending*: sizes and
  cost only, no response figures;
- an estimate whose groups are too small to show the plan's minimum effect at the
  plan's power (crmspec.contact.power) is flagged *underpowered*, never hidden.

The heavy part (contacts joined to purchases, per activity and run) is one set-based
DuckDB query; Python only runs the statistics on the aggregated rows (statsmodels) and
formats. The result is stored in the ledger, table `evaluations` (replaced for the
evaluated activities on every run), for the SOP battle record.

Modules: `stats` (one comparison), `compute` (the query and the rows), `results`,
`store`, `render`; `evaluate` and `evaluate_report` here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from crmspec.analysis.evaluate.compute import compute, pool_runs, response_sql
from crmspec.analysis.evaluate.render import render
from crmspec.analysis.evaluate.results import EvalReport, EvalRow
from crmspec.analysis.evaluate.stats import Stats, compare
from crmspec.analysis.evaluate.store import store
from crmspec.core.diagnostics import PlanError, Src, warning_summary
from crmspec.core.tabular import for_excel
from crmspec.engine.session import open_session
from crmspec.plan.checks import unknown_reference
from crmspec.plan.model import Plan


def _ledger_src(plan: Plan) -> Src:
    src = plan.shop.src.at("ledger")
    return src if src.exists() else plan.shop.src


def _activities_src(plan: Plan) -> Src:
    doc = plan.files.documents.get("activities")
    return Src(doc, ("activities",)) if doc is not None else plan.shop.src


def evaluate(root: Path, activity: str | None = None, window_days: int | None = None,
             as_of: date | None = None, save: bool = True,
             say: Callable[[str], None] | None = None) -> EvalReport:
    """The evaluation of the project at `root`: every activity in the ledger, or one; the
    data as of `as_of` (default: the plan's as-of date); the window of shop.yaml
    `evaluation.window_days` unless given. Stores the rows in the ledger (`save`)."""
    say = say or (lambda _msg: None)
    with open_session(root, as_of, capped=False, say=say) as (con, p):
        plan, data = p.plan, p.data
        summary = warning_summary(p.warnings)
        if summary:
            say(summary)
        window = int(window_days or plan.shop.evaluation.window_days)
        runs = con.execute("SELECT count(*) FROM ledger.runs").fetchone()[0]
        if not runs:
            raise PlanError([_ledger_src(plan).diag(
                "E603", f"the contact ledger ({plan.shop.ledger_path}) holds no runs: "
                "there is nothing to evaluate",
                "crmspec build records every contact and hold-out; evaluate once a build "
                "has run and its response window has passed")])
        wanted = None
        if activity is not None:
            known = {a.id for a in plan.activities} | {r[0] for r in con.execute(
                "SELECT DISTINCT activity_id FROM ledger.contacts").fetchall()}
            if activity not in known:
                raise PlanError([unknown_reference(_activities_src(plan), "activity", activity,
                                                   known)])
            wanted = [activity]
        report = EvalReport(plan.shop.name, data.as_of, window, plan.shop.evaluation.alpha,
                            plan.shop.currency)
        report.rows = compute(con, plan, data.as_of, window, wanted)
        report.simulated = any(r.true_uplift is not None for r in report.rows)
    if save:
        store(root / plan.shop.ledger_path, report.as_of, report.rows, wanted)
    return report


def evaluate_report(root: Path, activity: str | None = None, window_days: int | None = None,
                    as_of: date | None = None, fmt: str = "table",
                    say: Callable[[str], None] | None = None, width: int | None = None,
                    bom: bool = False) -> str:
    """`crmspec evaluate`: the report as text in the chosen format; CSV with a UTF-8 byte
    order mark when `bom` (for Excel)."""
    text = render(evaluate(root, activity, window_days, as_of, say=say), fmt, width)
    return for_excel(text, fmt, bom)


__all__ = ["EvalReport", "EvalRow", "Stats", "compare", "compute", "evaluate",
           "evaluate_report", "pool_runs", "render", "response_sql", "store"]
