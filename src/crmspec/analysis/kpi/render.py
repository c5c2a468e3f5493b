"""The KPI report as text: a table for people, CSV, JSON, Markdown, and the weekly
monitoring table."""

from __future__ import annotations

import json
from dataclasses import asdict

from crmspec.analysis.kpi.results import KpiReport, KpiRow
from crmspec.core.tabular import csv_text, text_table
from crmspec.plan.kpis import COUNT, MONEY, RATE

FORMATS = ("table", "csv", "json", "markdown")


COLUMNS = ("period", "start", "end", "kpi", "name", "metric", "group", "unit", "value",
           "previous", "change", "ratio", "status", "numerator", "denominator", "note")


def _round(v, unit: str):
    """Rates and ratios to 6 decimals, money to 2 (fen), counts as integers."""
    if v is None:
        return None
    if unit == COUNT:
        return int(v) if float(v).is_integer() else round(float(v), 6)
    return round(float(v), 2 if unit == MONEY else 6)


def _plain(row: KpiRow) -> dict:
    d = asdict(row)
    d["start"], d["end"] = row.start.isoformat(), row.end.isoformat()
    for key in ("value", "previous", "change"):
        d[key] = _round(d[key], row.unit)
    # a rate's numerator is a number of customers; money numerators are amounts
    d["numerator"] = _round(d["numerator"], MONEY if row.unit == MONEY else COUNT)
    d["ratio"] = _round(d["ratio"], RATE)
    return d


def _human(v, unit: str, signed: bool = False) -> str:
    if v is None:
        return ""
    sign = "+" if signed and v > 0 else ""
    if unit == RATE:
        return f"{sign}{v * 100:.2f}" + ("pp" if signed else "%")
    if unit == MONEY:
        return f"{sign}{v:,.2f}"
    return f"{sign}{v:,.0f}" if float(v).is_integer() else f"{sign}{v:,.2f}"


def _ratio(v) -> str:
    return "" if v is None else f"{v * 100:.1f}%"


def _status(row: KpiRow) -> str:
    return (row.status or "").replace("_", " ")


HUMAN = ("period", "kpi", "name", "group", "value", "previous", "change", "status", "n")


def _human_row(r: KpiRow) -> list[str]:
    n = "" if r.denominator is None else f"{r.denominator:,}"
    return [r.period, r.kpi, r.name, r.group or "", _human(r.value, r.unit),
            _human(r.previous, r.unit), _human(r.change, r.unit, signed=True), _status(r), n]


def render(report: KpiReport, fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps({"shop": report.shop, "as_of": report.as_of.isoformat(),
                           "period": report.unit, "kpis": [_plain(r) for r in report.rows]},
                          ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return csv_text(COLUMNS, (_plain(r) for r in report.rows))
    title = f"{report.shop} · KPIs per {report.unit} · as of {report.as_of.isoformat()}"
    if not report.rows:
        return f"{title}\n{_nothing(report, 'no KPIs in plans/kpis.yaml')}\n"
    lines = [_human_row(r) for r in report.rows]
    sections = [i for i in range(1, len(report.rows))
                if report.rows[i].period != report.rows[i - 1].period]
    # On a narrow terminal the rows' sizes go first, then the previous values (the change
    # says how far they were), then the group; period, KPI, name, value, change and status
    # stay (fitted without them, the name column was squeezed to nothing at 72 columns).
    return text_table(title, list(HUMAN), lines, fmt, right=(4, 5, 6, 8), sections=sections,
                      wrap=(2,), width=width, optional=(8, 5, 3))


def _nothing(report: KpiReport, otherwise: str) -> str:
    if not report.periods:
        return f"no complete {report.unit} in the range (as of {report.as_of.isoformat()})"
    return otherwise


def monitoring_table(report: KpiReport) -> tuple[list[str], list[list]]:
    """The weekly monitoring table: one row per period; each monitoring KPI's value, the
    change (this period / the previous one) of the KPIs in `changes`, and the product of
    those changes (综合变化)."""
    header = ["period", "start", "end"]
    for kid in report.monitoring:
        header.append(kid)
        if kid in report.changes:
            header.append(f"{kid}_change")
    if report.changes:
        header.append("combined_change")
    by = {(r.start, r.kpi): r for r in report.rows}
    rows = []
    for per in report.periods:
        line: list = [per.label, per.start.isoformat(), per.end.isoformat()]
        product: float | None = 1.0
        for kid in report.monitoring:
            r = by.get((per.start, kid))
            line.append(r)
            if kid in report.changes:
                ratio = r.ratio if r else None
                line.append(ratio)
                product = None if ratio is None or product is None else product * ratio
        if report.changes:
            line.append(product)
        rows.append(line)
    return header, rows


def render_monitoring(report: KpiReport, fmt: str, width: int | None = None) -> str:
    header, rows = monitoring_table(report)
    if fmt in ("json", "csv"):
        plain = []
        for line in rows:
            d = {}
            for h, v in zip(header, line):
                if isinstance(v, KpiRow):
                    v = _round(v.value, v.unit)
                elif h.endswith("change"):
                    v = _round(v, RATE)
                d[h] = v
            plain.append(d)
        if fmt == "json":
            return json.dumps({"shop": report.shop, "as_of": report.as_of.isoformat(),
                               "period": report.unit, "columns": header, "rows": plain},
                              ensure_ascii=False, indent=2) + "\n"
        return csv_text(header, plain)
    title = f"{report.shop} · monitoring per {report.unit} · as of {report.as_of.isoformat()}"
    names = ["period"]
    for h in header[3:]:
        if h == "combined_change":
            names.append("combined change")
        elif h.endswith("_change"):
            names.append("change")
        else:
            names.append(report.names.get(h, h))
    lines = []
    for line in rows:
        cells = [line[0]]
        for h, v in zip(header[3:], line[3:]):
            if isinstance(v, KpiRow):
                cells.append(_human(v.value, v.unit))
            elif h.endswith("change"):
                cells.append(_ratio(v))
            else:
                cells.append("")
        lines.append(cells)
    if not report.periods or not report.monitoring:
        return f"{title}\n{_nothing(report, 'plans/kpis.yaml has no monitoring table')}\n"
    return text_table(title, names, lines, fmt, right=range(1, len(names)), wrap=(2,),
                      width=width)
