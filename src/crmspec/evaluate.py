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
  plan's power (crmspec.power) is flagged *underpowered*, never hidden.

The heavy part (contacts joined to purchases, per activity and run) is one set-based
DuckDB query; Python only runs the statistics on the aggregated rows (statsmodels) and
formats. The result is stored in the ledger, table `evaluations` (replaced for the
evaluated activities on every run), for the SOP battle record.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from crmspec.compile import purchase_orders_sql
from crmspec.diagnostics import PlanError
from crmspec.model import Plan, Src
from crmspec.tabular import csv_text

FORMATS = ("table", "csv", "json", "markdown")

# statuses
PENDING = "pending"  # the response window has not closed by the as-of date
NO_CONTROL = "no_control"  # nobody held out: nothing to compare with
NO_TREATMENT = "no_treatment"  # everybody held out
NO_CONTACTS = "no_contacts"  # the activity has no contacts in the ledger
SIGNIFICANT = "significant"  # p < alpha (the sign of the uplift says which way)
NOT_SIGNIFICANT = "not_significant"
SUM = "sum"  # the total row: the measured activities added up
NOTHING = "nothing_measured"  # the total row when no activity has a measured uplift

RUN, ACTIVITY, TOTAL = "run", "activity", "total"
TOTAL_ID = "(all activities)"


@dataclass
class Stats:
    """A two-proportion comparison, treatment (1) against control (2)."""

    treatment_rate: float
    control_rate: float
    uplift: float
    uplift_low: float
    uplift_high: float
    relative_uplift: float | None
    relative_low: float | None
    relative_high: float | None
    p_value: float


def compare(treated_responders: int, treated: int, control_responders: int, control: int,
            alpha: float = 0.05) -> Stats:
    """Uplift of the treatment over the control group, with statsmodels:

    - CI of the difference: Newcombe's hybrid score interval (method 10 of Newcombe 1998,
      from two Wilson intervals; sound with few or no responders);
    - CI of the ratio: log interval with 0.5 added to the counts (statsmodels'
      'log-adjusted'); the relative uplift is ratio - 1, undefined when the control group
      has no responder;
    - p-value: two-sided pooled two-proportion z-test (Pearson's chi-square without
      continuity correction); 1 when nobody or everybody responded (no difference).
    """
    import numpy as np
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    r1, n1, r2, n2 = int(treated_responders), int(treated), int(control_responders), int(control)
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both groups need at least one contact")
    p1, p2 = r1 / n1, r2 / n2
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        low, high = confint_proportions_2indep(r1, n1, r2, n2, compare="diff",
                                               method="newcomb", alpha=alpha)
        if r1 + r2 in (0, n1 + n2):
            p_value = 1.0
        else:
            p_value = float(proportions_ztest([r1, r2], [n1, n2], value=0,
                                              alternative="two-sided")[1])
        rel = rel_low = rel_high = None
        if r2 > 0:
            rlow, rhigh = confint_proportions_2indep(r1, n1, r2, n2, compare="ratio",
                                                     method="log-adjusted", alpha=alpha)
            rel, rel_low, rel_high = p1 / p2 - 1, float(rlow) - 1, float(rhigh) - 1
    return Stats(p1, p2, p1 - p2, float(low), float(high), rel, rel_low, rel_high, p_value)


# ---------------------------------------------------------------------------- rows


@dataclass
class EvalRow:
    level: str  # run | activity | total
    activity: str
    run: date | None  # the run's as-of date; None for an activity's or the total's row
    runs: int  # runs pooled (closed ones for activity and total rows)
    window_days: int
    sent_at: datetime | None  # the run's send time (first one of the pooled runs)
    window_closes: datetime | None  # end of the last window (exclusive)
    status: str
    treatment: int = 0
    control: int = 0
    treatment_responders: int | None = None
    control_responders: int | None = None
    treatment_rate: float | None = None
    control_rate: float | None = None
    uplift: float | None = None
    uplift_low: float | None = None
    uplift_high: float | None = None
    relative_uplift: float | None = None
    relative_low: float | None = None
    relative_high: float | None = None
    p_value: float | None = None
    treatment_revenue: float | None = None
    revenue_per_responder: float | None = None
    incremental_orders: float | None = None
    incremental_revenue: float | None = None
    cost: float = 0.0
    roi: float | None = None
    power: float | None = None  # to show the minimum effect with these group sizes
    underpowered: bool | None = None
    needed_audience: int | None = None
    true_uplift: float | None = None  # the simulation's, when the demo was simulated
    expected_uplift: float | None = None  # what the simulation makes measurable (overlaps)
    note: str | None = None


COLUMNS = tuple(f.name for f in fields(EvalRow))


@dataclass
class EvalReport:
    shop: str
    as_of: date
    window_days: int
    alpha: float
    currency: str
    rows: list[EvalRow] = field(default_factory=list)
    simulated: bool = False  # the ledger holds a simulation's truth (the demo)


# ---------------------------------------------------------------------------- SQL


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def response_sql(plan: Plan, as_of: date, window_days: int, activities: list[str] | None
                 ) -> str:
    """Per activity and run: group sizes, responders, responders' revenue, cost, send time.

    Set-based: the ledger's contacts left-joined to the purchases of their customers
    within each contact's window, one row per contact, then one GROUP BY."""
    where = ""
    if activities is not None:
        where = "WHERE activity_id IN (" + ", ".join(_lit(a) for a in activities) + ")"
    return f"""
WITH contacts AS (
  SELECT as_of AS run, activity_id, customer_id, grp, CAST(cost AS DOUBLE) AS cost,
         coalesce(scheduled_at, CAST(as_of AS TIMESTAMP)) AS sent_at
  FROM ledger.contacts {where}
), purchases AS (
  {purchase_orders_sql(plan.shop, as_of)}
), responses AS (
  SELECT c.run, c.activity_id, c.customer_id, c.grp, c.cost, c.sent_at,
         count(p.paid_at) AS orders, coalesce(sum(p.amount), 0) AS revenue
  FROM contacts c LEFT JOIN purchases p ON p.customer_id = c.customer_id
   AND p.paid_at >= c.sent_at AND p.paid_at < c.sent_at + INTERVAL ({int(window_days)}) DAY
  GROUP BY ALL
)
SELECT activity_id, run, min(sent_at) AS sent_at,
  max(sent_at) + INTERVAL ({int(window_days)}) DAY AS window_closes,
  count(*) FILTER (WHERE grp = 'treatment') AS treatment,
  count(*) FILTER (WHERE grp = 'control') AS control,
  count(*) FILTER (WHERE grp = 'treatment' AND orders > 0) AS treatment_responders,
  count(*) FILTER (WHERE grp = 'control' AND orders > 0) AS control_responders,
  coalesce(sum(revenue) FILTER (WHERE grp = 'treatment'), 0) AS treatment_revenue,
  coalesce(sum(cost) FILTER (WHERE grp = 'treatment'), 0) AS cost
FROM responses GROUP BY activity_id, run ORDER BY activity_id, run"""


# ---------------------------------------------------------------------------- figures


def _fill(row: EvalRow, alpha: float, power_target: float, baseline: float,
          min_effect: float | None) -> EvalRow:
    """Status, statistics, money and power of a row whose counts are set."""
    from crmspec.power import achieved_power, required_audience

    nt, nc = row.treatment, row.control
    if row.status == PENDING:
        return row
    if nt == 0 and nc == 0:
        row.status = NO_CONTACTS
        return row
    if nc == 0:
        row.status = NO_CONTROL
        row.note = row.note or "nobody was held out: there is nothing to compare with"
    elif nt == 0:
        row.status = NO_TREATMENT
        row.note = row.note or "everybody was held out"
    if nt:
        row.treatment_rate = row.treatment_responders / nt
        row.revenue_per_responder = (row.treatment_revenue / row.treatment_responders
                                     if row.treatment_responders else None)
    if nc:
        row.control_rate = row.control_responders / nc
    if nt and nc:
        s = compare(row.treatment_responders, nt, row.control_responders, nc, alpha)
        row.uplift, row.uplift_low, row.uplift_high = s.uplift, s.uplift_low, s.uplift_high
        row.relative_uplift, row.relative_low, row.relative_high = (
            s.relative_uplift, s.relative_low, s.relative_high)
        row.p_value = s.p_value
        row.status = SIGNIFICANT if s.p_value < alpha else NOT_SIGNIFICANT
        row.incremental_orders = nt * s.uplift
        row.incremental_revenue = row.incremental_orders * (row.revenue_per_responder or 0.0)
        row.roi = row.incremental_revenue / row.cost if row.cost > 0 else None
        if min_effect:
            row.power = achieved_power(nt, nc, baseline, min_effect, alpha)
            if row.power is not None:
                row.underpowered = row.power < power_target
                if row.underpowered and row.level != RUN:
                    row.needed_audience = required_audience(nc / (nt + nc), baseline,
                                                            min_effect, alpha, power_target)
    return row


def _pool(activity: str, runs: list[EvalRow], window: int) -> EvalRow:
    """An activity's closed runs as one sample (each contact one observation)."""
    closed = [r for r in runs if r.status != PENDING]
    pending = len(runs) - len(closed)
    row = EvalRow(ACTIVITY, activity, None, len(closed), window,
                  min((r.sent_at for r in closed if r.sent_at), default=None),
                  max((r.window_closes for r in closed if r.window_closes), default=None),
                  PENDING if runs and not closed else "")
    row.treatment = sum(r.treatment for r in closed)
    row.control = sum(r.control for r in closed)
    row.treatment_responders = sum(r.treatment_responders or 0 for r in closed)
    row.control_responders = sum(r.control_responders or 0 for r in closed)
    row.treatment_revenue = sum(r.treatment_revenue or 0.0 for r in closed)
    row.cost = sum(r.cost for r in closed)
    if pending:
        closes = max(r.window_closes for r in runs if r.status == PENDING)
        row.note = (f"{pending} run(s) pending (the last window closes "
                    f"{closes:%Y-%m-%d %H:%M}); not included")
        if not closed:
            row.treatment_responders = row.control_responders = row.treatment_revenue = None
            row.window_closes = closes
    return row


def _total(rows: list[EvalRow], window: int) -> EvalRow:
    """The activities with a measured uplift, added up: sizes, cost, incremental orders and
    revenue, ROI. No pooled rate or test: the activities' audiences differ."""
    measured = [r for r in rows if r.uplift is not None]
    row = EvalRow(TOTAL, TOTAL_ID, None, sum(r.runs for r in measured), window, None, None,
                  SUM if measured else NOTHING)
    row.treatment = sum(r.treatment for r in measured)
    row.control = sum(r.control for r in measured)
    row.treatment_responders = sum(r.treatment_responders for r in measured)
    row.control_responders = sum(r.control_responders for r in measured)
    row.treatment_revenue = sum(r.treatment_revenue for r in measured)
    row.cost = sum(r.cost for r in measured)
    row.incremental_orders = sum(r.incremental_orders for r in measured)
    row.incremental_revenue = sum(r.incremental_revenue for r in measured)
    row.roi = row.incremental_revenue / row.cost if row.cost > 0 else None
    others = len(rows) - len(measured)
    row.note = (f"{len(measured)} {'activity' if len(measured) == 1 else 'activities'} "
                "with a measured uplift"
                + (f"; {others} without (no control group, no closed run)" if others else ""))
    return row


def compute(con: duckdb.DuckDBPyConnection, plan: Plan, as_of: date, window_days: int,
            activities: list[str] | None = None) -> list[EvalRow]:
    """Rows per activity and run, per activity, and the total, on a connection holding the
    canonical tables as of `as_of` and the ledger (`build.prepare`)."""
    ev = plan.shop.evaluation
    alpha, target, baseline = ev.alpha, ev.power, ev.baseline_response
    effects = {a.id: a.min_effect or ev.min_effect for a in plan.activities}
    data_end = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    found = con.execute(response_sql(plan, as_of, window_days, activities)).fetchall()
    truth = _truth(con)
    expected = _expected(con, plan, as_of, window_days, activities) if truth else {}
    by_activity: dict[str, list[EvalRow]] = {}
    for (aid, run, sent_at, closes, nt, nc, rt, rc, revenue, cost) in found:
        row = EvalRow(RUN, aid, run, 1, window_days, sent_at, closes, "", int(nt), int(nc),
                      int(rt), int(rc), cost=float(cost), treatment_revenue=float(revenue))
        if closes > data_end:
            row.status = PENDING
            row.treatment_responders = row.control_responders = None
            row.treatment_revenue = None
            row.note = (f"the window closes {closes:%Y-%m-%d %H:%M}; the data ends "
                        f"{as_of.isoformat()}")
        by_activity.setdefault(aid, []).append(row)
    for aid in activities or []:
        by_activity.setdefault(aid, [])
    out: list[EvalRow] = []
    totals: list[EvalRow] = []
    for aid in sorted(by_activity):
        effect = effects.get(aid, ev.min_effect)
        runs = [_fill(r, alpha, target, baseline, effect) for r in by_activity[aid]]
        pooled = _fill(_pool(aid, runs, window_days), alpha, target, baseline, effect)
        if not runs:
            pooled.note = "the ledger holds no contact of this activity"
        for r in runs + [pooled]:
            r.true_uplift = truth.get(aid)
            if r.status in (PENDING, NO_CONTACTS) or not (r.treatment and r.control):
                continue
            keys = [(aid, r.run)] if r.level == RUN else [
                (aid, x.run) for x in runs if x.status != PENDING]
            t = [expected.get(k + ("treatment",), (0, 0.0)) for k in keys]
            c = [expected.get(k + ("control",), (0, 0.0)) for k in keys]
            nt, st = sum(n for n, _ in t), sum(v for _, v in t)
            nc, sc = sum(n for n, _ in c), sum(v for _, v in c)
            if truth and nt and nc:
                r.expected_uplift = st / nt - sc / nc
        out += runs + [pooled]
        totals.append(pooled)
    if activities is None and totals:
        out.append(_total(totals, window_days))
    return out


def _expected(con: duckdb.DuckDBPyConnection, plan: Plan, as_of: date, window_days: int,
              activities: list[str] | None) -> dict[tuple, tuple[int, float]]:
    """(activity, run, grp) -> (contacts, expected responders) under the simulation."""
    from crmspec.simulate import expected_sql

    return {(a, run, grp): (int(n), float(v)) for a, run, grp, n, v in con.execute(
        expected_sql(plan, as_of, window_days, activities)).fetchall()}


def _truth(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """The uplift per activity a demo simulation (crmspec.simulate) put in, if any."""
    has = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'ledger' "
                      "AND table_name = 'simulation'").fetchone()[0]
    if not has:
        return {}
    return {a: float(u) for a, u in con.execute(
        "SELECT activity_id, uplift FROM ledger.simulation").fetchall()}


# ---------------------------------------------------------------------------- storing

STORE_SQL = """CREATE TABLE IF NOT EXISTS evaluations (
    evaluated_as_of DATE NOT NULL,
    level VARCHAR NOT NULL, activity VARCHAR NOT NULL, run DATE, runs INTEGER,
    window_days INTEGER, sent_at TIMESTAMP, window_closes TIMESTAMP, status VARCHAR,
    treatment BIGINT, control BIGINT, treatment_responders BIGINT,
    control_responders BIGINT, treatment_rate DOUBLE, control_rate DOUBLE, uplift DOUBLE,
    uplift_low DOUBLE, uplift_high DOUBLE, relative_uplift DOUBLE, relative_low DOUBLE,
    relative_high DOUBLE, p_value DOUBLE, treatment_revenue DOUBLE,
    revenue_per_responder DOUBLE, incremental_orders DOUBLE, incremental_revenue DOUBLE,
    cost DOUBLE, roi DOUBLE, power DOUBLE, underpowered BOOLEAN, needed_audience BIGINT,
    true_uplift DOUBLE, expected_uplift DOUBLE, note VARCHAR
)"""


def store(ledger_path: Path, as_of: date, rows: list[EvalRow], activities: list[str] | None
          ) -> None:
    """Replace the stored evaluations of the evaluated activities (all: the whole table)
    with these rows, in one transaction."""
    con = duckdb.connect(str(ledger_path))
    try:
        present = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'evaluations' "
            "AND schema_name = 'main' ORDER BY column_index").fetchall()]
        if present and present != ["evaluated_as_of", *COLUMNS]:
            # written by another crmspec version: derived data, rebuilt from the ledger
            con.execute("DROP TABLE evaluations")
        con.execute(STORE_SQL)
        con.execute("BEGIN TRANSACTION")
        try:
            if activities is None:
                con.execute("DELETE FROM evaluations")
            else:
                con.execute("DELETE FROM evaluations WHERE activity IN ("
                            + ", ".join(_lit(a) for a in activities) + ")")
            marks = ", ".join("?" for _ in range(len(COLUMNS) + 1))
            con.executemany(f"INSERT INTO evaluations (evaluated_as_of, {', '.join(COLUMNS)}) "
                            f"VALUES ({marks})",
                            [[as_of] + [getattr(r, c) for c in COLUMNS] for r in rows])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()


# ---------------------------------------------------------------------------- entry points


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
    from crmspec.build import connect, prepare
    from crmspec.checks import _unknown

    say = say or (lambda _msg: None)
    con = connect(capped=False)
    try:
        notes: list[str] = []
        p = prepare(root, as_of, con, notes=notes)
        plan, data = p.plan, p.data
        for n in notes:
            say(n)
        if p.warnings:
            say(f"{len(p.warnings)} data warning(s) (`crmspec build` lists them)")
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
                raise PlanError([_unknown(_activities_src(plan), "activity", activity, known)])
            wanted = [activity]
        report = EvalReport(plan.shop.name, data.as_of, window, plan.shop.evaluation.alpha,
                            plan.shop.currency)
        report.rows = compute(con, plan, data.as_of, window, wanted)
        report.simulated = any(r.true_uplift is not None for r in report.rows)
    finally:
        con.close()
    if save:
        store(root / plan.shop.ledger_path, report.as_of, report.rows, wanted)
    return report


def evaluate_report(root: Path, activity: str | None = None, window_days: int | None = None,
                    as_of: date | None = None, fmt: str = "table",
                    say: Callable[[str], None] | None = None, width: int | None = None) -> str:
    """`crmspec evaluate`: the report as text in the chosen format."""
    return render(evaluate(root, activity, window_days, as_of, say=say), fmt, width)


# ---------------------------------------------------------------------------- output

RATES = ("treatment_rate", "control_rate", "uplift", "uplift_low", "uplift_high",
         "relative_uplift", "relative_low", "relative_high", "power", "true_uplift",
         "expected_uplift")
MONEY = ("treatment_revenue", "revenue_per_responder", "incremental_revenue", "cost")


def _plain(row: EvalRow) -> dict:
    """Rates and ratios to 6 decimals, money to 2, incremental orders to 2, the p-value
    to 6 significant digits."""
    d = asdict(row)
    for key in ("run",):
        d[key] = d[key].isoformat() if d[key] else None
    for key in ("sent_at", "window_closes"):
        d[key] = d[key].isoformat(sep=" ") if d[key] else None
    for key in RATES:
        d[key] = None if d[key] is None else round(d[key], 6)
    for key in MONEY + ("incremental_orders",):
        d[key] = None if d[key] is None else round(d[key], 2)
    d["roi"] = None if d["roi"] is None else round(d["roi"], 4)
    d["p_value"] = None if d["p_value"] is None else float(f"{d['p_value']:.6g}")
    return d


def _pct(v: float | None, signed: bool = False) -> str:
    if v is None:
        return ""
    if abs(v) < 5e-5:
        v = 0.0  # no "-0.00"
    return f"{v * 100:+.2f}" if signed else f"{v * 100:.2f}%"


def _ci(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f"[{low * 100:+.2f}, {high * 100:+.2f}]"


def _p(v: float | None) -> str:
    if v is None:
        return ""
    return "<0.0001" if v < 0.0001 else f"{v:.4f}"


def _money(v: float | None, signed: bool = False) -> str:
    if v is None:
        return ""
    return f"{v:+,.2f}" if signed else f"{v:,.2f}"


def _power(r: EvalRow) -> str:
    if r.power is None:
        return ""
    return f"{r.power * 100:.0f}%" + (" low" if r.underpowered else "")


def _status(r: EvalRow) -> str:
    if r.status == PENDING and r.window_closes is not None:
        return f"pending to {r.window_closes:%m-%d %H:%M}"
    return r.status.replace("_", " ")


HUMAN = ["activity", "run", "status", "treated", "control", "resp. T", "resp. C",
         "uplift pp", "95% CI pp", "p", "power", "incr. orders", "incr. revenue", "cost",
         "ROI"]


def _human_row(r: EvalRow, simulated: bool) -> list[str]:
    if r.level == RUN:
        run = r.run.isoformat() if r.run else ""
    elif r.level == ACTIVITY:
        run = f"all ({r.runs})"
    else:
        run = ""
    cells = [r.activity, run, _status(r), f"{r.treatment:,}", f"{r.control:,}",
             _pct(r.treatment_rate), _pct(r.control_rate), _pct(r.uplift, True),
             _ci(r.uplift_low, r.uplift_high), _p(r.p_value), _power(r),
             "" if r.incremental_orders is None else f"{r.incremental_orders:+,.1f}",
             _money(r.incremental_revenue, True), _money(r.cost),
             "" if r.roi is None else f"{r.roi:.2f}"]
    if simulated:
        cells[9:9] = [_pct(r.true_uplift, True), _pct(r.expected_uplift, True)]
    return cells


def _table(title: str, header: list[str], lines: list[list[str]], fmt: str,
           sections: list[int], width: int | None) -> str:
    if fmt == "markdown":
        out = [f"**{title}**", "", "| " + " | ".join(header) + " |",
               "|" + "|".join("---" if i < 3 else "---:" for i in range(len(header))) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |"
                for line in lines]
        return "\n".join(out) + "\n"
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i < 3 else "right", no_wrap=True)
    for i, line in enumerate(lines):
        table.add_row(*line, end_section=(i + 1) in sections)
    buf = io.StringIO()
    # wide enough that every row stays on one line (a table, not a wrapped paragraph)
    Console(file=buf, width=width or 250, highlight=False).print(table)
    return buf.getvalue()


def _notes(report: EvalReport) -> list[str]:
    """The notes of the activity and total rows (pending runs, no control group...)."""
    out = []
    for r in report.rows:
        if r.level == RUN:
            continue
        if r.note:
            out.append(f"{r.activity}: {r.note}")
        if r.underpowered and r.needed_audience:
            out.append(f"{r.activity}: underpowered: {r.power * 100:.0f}% power to show the "
                       f"plan's minimum effect; about {r.needed_audience:,} customers "
                       f"(treated + held out) are needed at this hold-out share")
    return out


def render(report: EvalReport, fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps({"shop": report.shop, "as_of": report.as_of.isoformat(),
                           "window_days": report.window_days, "alpha": report.alpha,
                           "currency": report.currency,
                           "evaluations": [_plain(r) for r in report.rows]},
                          ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return csv_text(COLUMNS, (_plain(r) for r in report.rows))
    level = f"{(1 - report.alpha) * 100:g}"
    title = (f"{report.shop} · control-group evaluation · as of {report.as_of.isoformat()} · "
             f"{report.window_days}-day window")
    header = list(HUMAN)
    header[8] = f"{level}% CI pp"
    if report.simulated:
        header[9:9] = ["true pp", "expected pp"]
    lines = [_human_row(r, report.simulated) for r in report.rows]
    sections = [i for i in range(1, len(report.rows))
                if report.rows[i].activity != report.rows[i - 1].activity]
    text = _table(title, header, lines, fmt, sections, width)
    bullet = "- " if fmt == "markdown" else "  "
    notes = _notes(report)
    extra = ("\n" if fmt == "markdown" else "") + "notes:\n" + "".join(
        f"{bullet}{n}\n" for n in notes) if notes else ""
    legend = (f"resp.: share of the group with a purchase within {report.window_days} days "
              f"of the send; uplift: treatment - control in percentage points, {level}% "
              "Newcombe interval; p: two-sided z-test; power: to show the plan's "
              "min_effect (low: below evaluation.power); incr. orders = treated x uplift; "
              "incr. revenue = incr. orders x revenue per treated responder; ROI = incr. "
              f"revenue / cost ({report.currency}). docs/evaluate.md defines each figure.")
    if report.simulated:
        legend += (" Simulated demo: true = the uplift put in per contact; expected = the "
                   "uplift a perfect evaluation finds, after the customers' overlapping "
                   "contacts and real purchases (crmspec simulate).")
    return text + extra + ("\n" if fmt == "markdown" else "") + legend + "\n"


__all__ = ["EvalReport", "EvalRow", "Stats", "compare", "compute", "evaluate",
           "evaluate_report", "render", "response_sql", "store"]
