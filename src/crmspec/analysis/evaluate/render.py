"""The evaluation as text: a table for people, CSV, JSON, Markdown."""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict

from crmspec.analysis.evaluate.results import ACTIVITY, COLUMNS, PENDING, RUN, EvalReport, EvalRow
from crmspec.core.tabular import csv_text, text_table

FORMATS = ("table", "csv", "json", "markdown")


RATES = ("treatment_rate", "control_rate", "uplift", "uplift_low", "uplift_high",
         "relative_uplift", "relative_low", "relative_high", "power", "true_uplift",
         "expected_uplift")


MONEY = ("treatment_revenue", "revenue_per_responder", "incremental_revenue", "cost")


def _plain(row: EvalRow) -> dict:
    """Rates and ratios to 6 decimals, money to 2, incremental orders to 2, p- and
    q-values to 6 significant digits."""
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
    for key in ("p_value", "q_value"):
        d[key] = None if d[key] is None else float(f"{d[key]:.6g}")
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
         "uplift pp", "95% CI pp", "p", "q (FDR)", "FDR verdict", "power", "incr.\norders",
         "incr.\nrevenue", "cost", "ROI"]
SIMULATED = ["true pp", "expected pp"]  # after the interval, on a simulated demo
# At 80-120 columns these go first to last (core.tabular.fitted_table); activity, run,
# status, uplift and its interval stay; the simulated columns go after the money.
OPTIONAL = ["resp. T", "resp. C", "incr.\norders", "power", "ROI", "incr.\nrevenue", "cost",
            "true pp", "expected pp", "treated", "control", "q (FDR)", "p", "FDR verdict"]
# Text columns and how narrow they may wrap before an optional column goes: ids repeat
# on every row, so they fold only where that keeps the p-value and the FDR verdict.
WRAP = {"activity": 28, "status": 12, "FDR verdict": 12}


def _human_row(r: EvalRow, simulated: bool) -> list[str]:
    if r.level == RUN:
        run = r.run.isoformat() if r.run else ""
    elif r.level == ACTIVITY:
        run = f"all ({r.runs})"
    else:
        run = ""
    cells = [r.activity, run, _status(r), f"{r.treatment:,}", f"{r.control:,}",
             _pct(r.treatment_rate), _pct(r.control_rate), _pct(r.uplift, True),
             _ci(r.uplift_low, r.uplift_high), _p(r.p_value), _p(r.q_value),
             (r.fdr_status or "").replace("_", " "), _power(r),
             "" if r.incremental_orders is None else f"{r.incremental_orders:+,.1f}",
             _money(r.incremental_revenue, True), _money(r.cost),
             "" if r.roi is None else f"{r.roi:.2f}"]
    if simulated:
        cells[9:9] = [_pct(r.true_uplift, True), _pct(r.expected_uplift, True)]
    return cells


def _notes(report: EvalReport) -> list[str]:
    """The notes of the activity and total rows (pending runs, no control group...)."""
    out = []
    for r in report.rows:
        if r.level == RUN:
            continue
        if r.note:
            out.append(f"{r.activity}: {r.note}")
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
    if report.simulated:
        header[9:9] = SIMULATED
    lines = [_human_row(r, report.simulated) for r in report.rows]
    index = {h: i for i, h in enumerate(header)}
    header[index["95% CI pp"]] = f"{level}% CI pp"
    sections = [i for i in range(1, len(report.rows))
                if report.rows[i].activity != report.rows[i - 1].activity]
    # piped: wide enough that every row stays on one line (a table, not a paragraph)
    text = text_table(title, header, lines, fmt, right=range(3, len(header)),
                      sections=sections, width=width, default_width=250,
                      wrap={index[h]: w for h, w in WRAP.items()},
                      optional=[index[h] for h in OPTIONAL if h in index])
    bullet = "- " if fmt == "markdown" else "  "
    notes = _notes(report)
    legend = (f"resp.: share of the group with a purchase within {report.window_days} days "
              f"of the send; uplift: treatment - control in percentage points, {level}% "
              "Newcombe interval; p: two-sided z-test; q: the p-value adjusted for the "
              "activities judged together (Benjamini-Hochberg false discovery rate), "
              f"FDR verdict at {report.alpha:g} on it; underpowered: the groups are below "
              "the power check's minimum, no verdict whatever p says; power: to show the "
              "plan's min_effect (low: below evaluation.power); incr. orders = treated x "
              "uplift; incr. revenue = incr. orders x revenue per treated responder; ROI = "
              f"incr. revenue / cost ({report.currency}). docs/evaluate.md defines each "
              "figure.")
    if report.simulated:
        legend += (" Simulated demo: true = the uplift put in per contact; expected = the "
                   "uplift a perfect evaluation finds, after the customers' overlapping "
                   "contacts and real purchases (crmspec simulate).")
    if fmt != "markdown" and width:  # a terminal: its width; piped: one line each
        notes = [textwrap.fill(n, width, subsequent_indent="    ") for n in notes]
        legend = textwrap.fill(legend, width)
    extra = ("\n" if fmt == "markdown" else "") + "notes:\n" + "".join(
        f"{bullet}{n}\n" for n in notes) if notes else ""
    return text + extra + ("\n" if fmt == "markdown" else "") + legend + "\n"
