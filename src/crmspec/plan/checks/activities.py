"""Activities: their references, triggers that could never fire, send windows, and the
domain's contact-plan rules (every stage has maintenance; the maintenance/marketing
ratio stays within the plan's bounds)."""

from __future__ import annotations

import difflib
from typing import Iterable

from crmspec.core.diagnostics import Diagnostic
from crmspec.plan.checks.references import unknown_reference
from crmspec.plan.model import Plan, kinds_per_stage
from crmspec.plan.triggers import PURCHASE_DAY_EVENTS


def check_activities(plan: Plan, channels: Iterable[str]) -> list[Diagnostic]:
    out = []
    channels = set(channels)  # names of the plugin manager's channels (crmspec.plugins)
    stages, segs, kpis = plan.known("stage"), plan.known("segment"), plan.known("KPI")
    for a in plan.activities:
        if a.segment not in segs:
            out.append(unknown_reference(a.src.at("segment"), "segment", a.segment, segs))
        if a.channel not in channels:
            out.append(unknown_reference(a.src.at("channel"), "channel", a.channel, channels))
        raw_stage = a.src.doc.data["activities"][a.src.path[1]]["stage"]
        for i, st in enumerate(a.stages):
            if st not in stages:
                where = a.src.at("stage", i) if isinstance(raw_stage, list) else a.src.at("stage")
                out.append(unknown_reference(where, "stage", st, stages))
        if a.kpi is not None and a.kpi not in kpis:
            out.append(unknown_reference(a.src.at("kpi"), "KPI", a.kpi, kpis))
        t = a.trigger
        if t.type == "after_order" and t.first_day is not None and t.last_day < t.first_day:
            out.append(a.src.at("trigger", "window").diag(
                "E201", f"window [{t.first_day}, {t.last_day}] ends before it starts",
                "write [first_day, last_day] with first_day <= last_day"))
        if t.amount_min is not None or t.amount_max is not None:
            if t.event in PURCHASE_DAY_EVENTS:
                out.append(a.src.at("trigger", "amount").diag(
                    "E201", f"an amount applies to one order; {t.event} is a day of purchases",
                    "use the paid event for orders of a value, or a segment condition on "
                    "spend"))
            elif (t.amount_min is not None and t.amount_max is not None
                  and t.amount_max <= t.amount_min):
                out.append(a.src.at("trigger", "amount", "max").diag(
                    "E201", f"no amount is at least {t.amount_min:g} and less than "
                    f"{t.amount_max:g}", "max must be greater than min"))
        out += _check_trigger(plan, a)
        for i, w in enumerate(a.send_windows):
            if w["end"] <= w["start"]:
                out.append(a.src.at("send_windows", i, "end").diag(
                    "E312", f"send window {w['start']}-{w['end']} closes before it opens",
                    "end is exclusive and on the same day: e.g. start 08:00, end 10:00"))
    for ch in plan.shop.contact.per_channel:
        if ch not in channels:
            src = plan.shop.src.at("contact", "limits", "channels", ch)
            line, col = src.doc.where(src.path, key=True)
            close = difflib.get_close_matches(ch, sorted(channels), n=1)
            out.append(Diagnostic(src.doc.path, line, col, "E301", f"unknown channel '{ch}'",
                                  f"did you mean '{close[0]}'?" if close else
                                  "available channels: " + ", ".join(sorted(channels))))
    return out


def _check_trigger(plan: Plan, a) -> list[Diagnostic]:
    """References of a trigger, and triggers that could never fire."""
    t, src = a.trigger, a.src.at("trigger")
    if t.type == "calendar":
        holidays = plan.known("holiday")
        if t.holiday is not None and t.holiday not in holidays:
            return [unknown_reference(src.at("holiday"), "holiday", t.holiday, holidays)]
        if t.holiday is None and not t.dates:
            return [src.diag("E203", "a calendar trigger needs `holiday` or `dates`",
                             "holidays and promotions are listed in plans/calendar.yaml")]
    tiers_doc = plan.files.documents.get("tiers")
    if plan.broken.any("tier") or (tiers_doc is not None
                                   and plan.broken.has(tiers_doc.path, "evaluation")):
        return []  # part of tiers.yaml left out: whether tier triggers fire is not known
    if t.type == "tier_downgrade_warning" and not (plan.tier_review_date
                                                   and plan.tier_window_days):
        return [src.diag(
            "W311", "downgrade warnings can never fire: tiers.yaml has no "
            + ("review_date" if not plan.tier_review_date else "evaluation window_days"),
            "with all-time spend nobody drops a tier; set evaluation.window_days and "
            "review_date in tiers.yaml")]
    if t.type == "tier_upgrade" and not plan.tiers:
        return [src.diag("W311", "tier upgrades can never fire: the plan has no tiers")]
    return []


def check_contact_rules(plan: Plan) -> list[Diagnostic]:
    """Domain rules 1 (maintenance in every stage) and 2 (the ratio within bounds)."""
    out = []
    per_stage = kinds_per_stage(plan)
    # A left-out activity counts in its stages too: they cannot be judged without it.
    unsure = plan.broken.stages_of_broken_activities(per_stage)
    bounds = plan.shop.maintenance_share
    for s in plan.stages:
        if not s.maintenance_required or s.id in unsure:
            continue
        counts = per_stage[s.id]
        total = counts["maintenance"] + counts["marketing"]
        if counts["maintenance"] == 0:
            out.append(s.src.diag(
                "W307", f"stage '{s.id}' has no maintenance activity"
                + (f" (it has {total} marketing)" if total else ""),
                "domain rule 1: every stage needs care, not only offers; or set "
                "maintenance_required: false on the stage"))
        if bounds and total:
            share = counts["maintenance"] / total
            lo, hi = bounds
            if (lo is not None and share < lo) or (hi is not None and share > hi):
                rng = f"[{lo if lo is not None else 0:g}, {hi if hi is not None else 1:g}]"
                out.append(s.src.diag(
                    "E308", f"stage '{s.id}': maintenance share {share:.2f} "
                    f"({counts['maintenance']} of {total} activities) is outside {rng}",
                    "domain rule 2 (shop.yaml rules.maintenance_share): rebalance the "
                    "stage's activities or change the bounds"))
    return out
