"""KPIs: parameters that fit the metric, bands and targets that make sense, and the
activities and KPIs they name."""

from __future__ import annotations

from crmspec.core.diagnostics import Diagnostic, Src
from crmspec.plan.checks.references import unknown_reference
from crmspec.plan.kpis import PARAMS, SLEEPING_DEFAULT
from crmspec.plan.model import Plan


def check_kpi_references(plan: Plan) -> list[Diagnostic]:
    out = []
    acts, kpis = plan.known("activity"), plan.known("KPI")
    for k in plan.kpis:
        if "activity" in k.params and k.params["activity"] not in acts:
            out.append(unknown_reference(k.src.at("activity"), "activity",
                                         k.params["activity"], acts))
    kp = plan.files.documents.get("kpis")
    for i, kid in enumerate(plan.monitoring):
        if kid not in kpis and kp is not None:
            out.append(unknown_reference(Src(kp, ("monitoring", "kpis", i)), "KPI", kid, kpis))
    return out


def check_kpis(plan: Plan) -> list[Diagnostic]:
    """What the schema cannot say: parameters that fit the metric kind, bands that end
    after they start, targets whose watch threshold lies on the bad side of good, and
    monitoring changes that are columns of the monitoring table."""
    out = []
    for k in plan.kpis:
        p = k.params
        allowed = PARAMS[k.metric] | {"description", "target"}
        for key in sorted(set(p) - allowed):
            out.append(k.src.at(key).diag(
                "E201", f"'{key}' has no meaning for metric {k.metric}",
                "this metric reads: " + ", ".join(sorted(PARAMS[k.metric])), key=True))
        lo, hi = p.get("from_days"), p.get("to_days")
        if k.metric == "sleeping_members":
            lo = SLEEPING_DEFAULT[0] if lo is None else lo
            hi = SLEEPING_DEFAULT[1] if hi is None and "from_days" not in p else hi
        if lo is not None and hi is not None and hi <= lo and "to_days" in p:
            out.append(k.src.at("to_days").diag(
                "E201", f"the band [{lo}, {hi}) is empty: to_days must be above from_days"))
        if k.metric == "second_purchase_rate" and p.get("customers") == "returning":
            out.append(k.src.at("customers").diag(
                "E201", "a second-purchase rate measures first-time buyers: "
                "customers: returning has no meaning here", "use all or new"))
        t = p.get("target", {})
        good, watch = t.get("good"), t.get("watch")
        if good is not None and watch is not None:
            low = t.get("lower_is_better", False)
            if (watch < good) if low else (watch > good):
                side = "above" if low else "below"
                out.append(k.src.at("target", "watch").diag(
                    "E201", f"watch ({watch:g}) must be {side} or equal to good ({good:g})"
                    + (" when lower_is_better" if low else ""),
                    "watch is where the bad zone starts, on the far side of good"))
    doc = plan.files.documents.get("kpis")
    if doc is not None and not plan.broken.has(doc.path, "monitoring"):
        mon = doc.data.get("monitoring", {})
        for i, kid in enumerate(mon.get("changes", [])):
            if kid not in plan.monitoring:
                out.append(Src(doc, ("monitoring", "changes", i)).diag(
                    "E301", f"'{kid}' is not a column of the monitoring table",
                    "monitoring.changes lists KPIs of monitoring.kpis: "
                    + ", ".join(plan.monitoring)))
    return out
