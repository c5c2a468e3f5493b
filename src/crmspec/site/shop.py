"""The shop's pages: the overview (the contact plan as a stage x activity matrix, with
the contacts per customer against each stage's bounds and the maintenance/marketing
ratio), the lifecycle funnel and tier pyramid of the latest build, the KPIs with trend
charts and the weekly monitoring table, the calendar with the activities it triggers,
and the budget by month."""

from __future__ import annotations

from datetime import date, timedelta

from crmspec.analysis.kpi import render_monitoring
from crmspec.plan.kpis import RATE
from crmspec.plan.model import kinds_per_stage
from crmspec.site import charts, words
from crmspec.site.activity import page_path
from crmspec.site.inputs import SiteData
from crmspec.site.markdown import code, count, esc, image, money, pct, table

MARK = "●"


def _link(a, up: str = "") -> str:
    return f"[{esc(a.name)}]({up}{page_path(a.id)})"


def _built(data: SiteData) -> str:
    m = data.manifest
    return (f"the latest build, as of {esc(m['as_of'])}" if m
            else "no build yet (`crmspec build` writes out/manifest.json)")


def overview(data: SiteData) -> dict[str, str]:
    plan = data.plan
    kinds = kinds_per_stage(plan)
    bounds = plan.shop.maintenance_share
    lo, hi = bounds if bounds else (None, None)
    contacts = (data.manifest or {}).get("stage_contacts", {})
    rows = []
    for s in plan.stages:
        c = kinds[s.id]
        total = c["maintenance"] + c["marketing"]
        share = c["maintenance"] / total if total else None
        ok = share is None or not s.maintenance_required or (
            (lo is None or share >= lo) and (hi is None or share <= hi))
        sc = contacts.get(s.id, {})
        rows.append([
            f"{esc(s.name)} {code(s.id)}", esc(words.band(s)), count(c["maintenance"]),
            count(c["marketing"]), pct(share, 0) + ("" if ok else " ⚠"),
            "" if s.contacts_min is None and s.contacts_max is None else
            f"{s.contacts_min if s.contacts_min is not None else 0}–"
            f"{s.contacts_max if s.contacts_max is not None else '∞'}",
            count(sc.get("customers")), count(sc.get("below_min")),
            count(sc.get("most_contacts"))])
    share_note = ("" if not bounds else
                  f" The plan keeps the maintenance share of every stage between "
                  f"{pct(lo or 0, 0)} and {pct(hi if hi is not None else 1, 0)} "
                  "(shop.yaml rules.maintenance_share; ⚠ outside).")
    maint = sum(1 for a in plan.activities if a.kind == "maintenance")
    out = [f"# {esc(plan.shop.name)} · SOP archive", "",
           f"Data as of {data.as_of.isoformat()}; counts from {_built(data)}. "
           f"{len(plan.activities)} activities: {maint} maintenance (维系类), "
           f"{len(plan.activities) - maint} marketing (营销类).", "",
           "## Stages", "",
           "Activities per stage by kind, and contacts per customer: the stage's bounds "
           "(lifecycle.yaml contacts, domain rule 4) beside what the latest build counted "
           "(customers in the stage, those below the minimum, the most contacts one "
           "customer had since entering it)." + share_note, "",
           table("Contact plan per stage", [
               "stage", "days", "maintenance", "marketing", "maintenance share",
               "contacts per customer (plan)", "customers", "below minimum",
               "most contacts"], rows, right=(2, 3, 4, 6, 7, 8)), "",
           "## The contact plan (接触计划)", "",
           f"{MARK}: the activity reaches customers in that stage.", ""]
    header = ["activity", "kind", "channel"] + [esc(s.name) for s in plan.stages]
    matrix = [[_link(a), words.KIND.get(a.kind, a.kind).split()[0], code(a.channel)]
              + [MARK if s.id in a.stages else "" for s in plan.stages]
              for a in plan.activities]
    out += [table("Stage × activity", header, matrix), ""]
    out += ["## Pages", "", "- [Lifecycle and tiers](lifecycle.md)", "- [KPIs](kpis.md)",
            "- [Calendar](calendar.md)", "- [Budget](budget.md)", ""]
    return {"index.md": "\n".join(out) + "\n"}


def lifecycle(data: SiteData) -> dict[str, str]:
    plan = data.plan
    m = data.manifest
    out = ["# 生命周期 Lifecycle and tiers", "", f"Counts from {_built(data)}.", ""]
    files: dict[str, str] = {}
    if m:
        stages = [(f"{s.name} {s.id}", m["stages"].get(s.id, 0)) for s in plan.stages]
        total = sum(v for _, v in stages) or 1
        out += ["## Lifecycle funnel", "", image("lifecycle funnel", "charts/funnel.svg"), "",
                table("Customers per stage", ["stage", "days", "customers", "share"], [
                    [esc(s.name) + " " + code(s.id), esc(words.band(s)),
                     count(m["stages"].get(s.id, 0)),
                     pct(m["stages"].get(s.id, 0) / total, 1)] for s in plan.stages],
                      right=(2, 3)), ""]
        files["charts/funnel.svg"] = charts.bars([x for x, _ in stages],
                                                 [v for _, v in stages],
                                                 "Customers per lifecycle stage", centred=True)
        types = m.get("customer_types", {})
        if types:
            out += [table("Customers per type", ["type", "customers"],
                          [[code(k), count(v)] for k, v in types.items()], right=(1,)), ""]
        if plan.tiers:
            tiers = [(f"{t.name} {t.id}", m["tiers"].get(t.id, 0)) for t in reversed(plan.tiers)]
            out += ["## Tier pyramid", "", image("tier pyramid", "charts/tiers.svg"), "",
                    table("Members per tier", ["tier", "from spend", "discount", "members"], [
                        [esc(t.name) + " " + code(t.id), money(t.min_spend),
                         "" if t.discount is None else f"{t.discount:g}",
                         count(m["tiers"].get(t.id, 0))] for t in reversed(plan.tiers)]
                          + [["below every tier", "", "", count(m["tiers"].get("none", 0))]],
                          right=(1, 2, 3)), ""]
            files["charts/tiers.svg"] = charts.bars([x for x, _ in tiers],
                                                    [v for _, v in tiers],
                                                    "Members per tier", centred=True)
    else:
        out += ["Nothing built yet: the funnel and the pyramid show the counts of a build.", ""]
    files["lifecycle.md"] = "\n".join(out) + "\n"
    return files


def _kpi_value(v, unit: str) -> str:
    if v is None:
        return ""
    return pct(v) if unit == RATE else (money(v) if isinstance(v, float) and
                                        not float(v).is_integer() else count(v))


def kpi_page(data: SiteData) -> dict[str, str]:
    out = ["# KPI", ""]
    files: dict[str, str] = {}
    report = data.kpis
    if report is None or not report.periods:
        out += ["No KPI to show (plans/kpis.yaml has none, or no complete week yet).", ""]
        return {"kpis.md": "\n".join(out) + "\n"}
    if data.monitoring is not None:
        out += ["## Weekly monitoring table", "",
                render_monitoring(data.monitoring, "markdown").replace("**", "", 2)
                .split("\n", 1)[1].lstrip("\n"), ""]
    last = report.periods[-1]
    out += ["## Indicators", "",
            f"Per week, the last {len(report.periods)} complete weeks up to {last.end}. "
            "Every definition is in docs/kpis.md; targets are kpis.yaml's.", ""]
    by_kpi: dict[str, list] = {}
    for r in report.rows:
        by_kpi.setdefault(r.kpi, []).append(r)
    labels = [p.label for p in report.periods]
    for k in data.plan.kpis:
        rows = by_kpi.get(k.id, [])
        if not rows:
            continue
        unit = rows[0].unit
        latest = [r for r in rows if r.start == last.start]
        groups = sorted({r.group for r in rows}, key=lambda g: (g is None, g or ""))
        series = {}
        for g in groups:
            values = {r.start: r.value for r in rows if r.group == g}
            series[g or k.name] = [values.get(p.start) for p in report.periods]
        target = k.params.get("target", {})
        band = ((target.get("watch"), target.get("good"))
                if target.get("period", "week") == "week" else (None, None))
        files[f"charts/kpi_{k.id}.svg"] = charts.lines(labels, series, k.name,
                                                       percent=unit == RATE, band=band)
        out += [f"### {esc(k.name)} {code(k.id)}", ""]
        if k.params.get("description"):
            out += [esc(k.params["description"]), ""]
        out += [table(f"Week {last.label}", ["group", "value", "previous", "status"], [
            [esc(r.group or "—"), _kpi_value(r.value, unit), _kpi_value(r.previous, unit),
             esc((r.status or "").replace("_", " "))] for r in latest], right=(1, 2)), "",
            image(f"{k.name} per week", f"charts/kpi_{k.id}.svg"), ""]
    files["kpis.md"] = "\n".join(out) + "\n"
    return files


def calendar_page(data: SiteData) -> dict[str, str]:
    plan = data.plan
    doc = plan.files.documents.get("calendar")
    out = ["# 日历 Calendar", "",
           "Holidays, promotions and the member day (calendar.yaml), and the activities "
           "each one triggers: a calendar trigger fires `lead_days` before the date.", ""]
    holidays = doc.data.get("holidays", []) if doc else []
    for h in holidays:
        acts = [a for a in plan.activities
                if a.trigger.type == "calendar" and a.trigger.holiday == h["id"]]
        out += [f"## {esc(h['name'])} {code(h['id'])}", "", f"Kind: {esc(h.get('kind', ''))}.",
                ""]
        rows = []
        for d in sorted(date.fromisoformat(x) for x in h["dates"]):
            fired = "; ".join(
                f"{_link(a, '')} on {(d - timedelta(days=a.trigger.lead_days)).isoformat()}"
                for a in acts) or "—"
            rows.append([d.isoformat(), d.strftime("%a"), fired])
        out += [table("Dates", ["date", "day", "activities (sent on)"], rows), ""]
    if plan.blackout_dates:
        out += ["## No-send days", "", "Nothing is sent on these days (calendar.yaml "
                "blackout_dates); a contact due then goes out at the next send window.", "",
                ", ".join(d.isoformat() for d in plan.blackout_dates), ""]
    if not holidays and not plan.blackout_dates:
        out += ["The plan has no calendar (plans/calendar.yaml).", ""]
    return {"calendar.md": "\n".join(out) + "\n"}


def budget_page(data: SiteData) -> dict[str, str]:
    plan = data.plan
    cur = plan.shop.currency
    out = ["# 预算 Budget", "",
           f"Spend per month from the contact ledger (every contact's forecast cost at send: "
           f"units × price plus the coupon's expected redemption), in {cur}, against the "
           "month's cap (shop.yaml budget).", ""]
    files: dict[str, str] = {}
    months = data.months
    if not months:
        out += ["The ledger holds no run yet.", ""]
        return {"budget.md": "\n".join(out) + "\n"}
    channels = sorted({c for m in months for c in m.by_channel})
    rows = [[m.month, count(m.runs), count(m.contacts)]
            + [money(m.by_channel.get(c)) for c in channels]
            + [money(m.spent), money(m.cap), pct(m.spent / m.cap, 1) if m.cap else ""]
            for m in months]
    out += [image("spend per month", "charts/budget.svg"), "",
            table("Spend per month", ["month", "runs", "contacts"] + channels
                  + ["total", "cap", "of cap"], rows,
                  right=tuple(range(1, 6 + len(channels)))), ""]
    capped = [a for a in plan.activities if a.budget_cap is not None]
    if capped:
        out += [table("Activities with a budget per build", ["activity", "cap"],
                      [[_link(a), money(a.budget_cap)] for a in capped], right=(1,)), ""]
    files["charts/budget.svg"] = charts.budget([m.month for m in months],
                                               [m.spent for m in months],
                                               [m.cap for m in months], f"Spend per month ({cur})")
    files["budget.md"] = "\n".join(out) + "\n"
    return files
