"""Lifecycle stages and member tiers: bands that overlap or leave a gap, a band that
ends before it starts, tier thresholds that do not increase."""

from __future__ import annotations

from crmspec.core.diagnostics import Diagnostic, Src
from crmspec.plan.model import Plan, stage_bands


def check_lifecycle(plan: Plan) -> list[Diagnostic]:
    out = []
    never = [s for s in plan.stages if s.never_purchased]
    if plan.stages and not never:
        stages = Src(plan.stages[0].src.doc, ("stages",))
        out.append(stages.diag(
            "E304", "customers who never bought (a carted or unpaid order, or only an account) "
            "belong to no stage",
            "add a stage with never_purchased: true (e.g. id: potential, name: 潜在客户)",
            key=True))
    for extra in never[1:]:
        out.append(extra.src.diag("E303", "a second never_purchased stage",
                                  f"'{never[0].id}' already holds customers who never bought"))
    for s in plan.stages:
        if s.never_purchased and (s.from_days is not None or s.to_days is not None):
            out.append(s.src.at("never_purchased").diag(
                "E303", f"stage '{s.id}' is never_purchased and also has a day band",
                "drop from_days/to_days: customers who never bought have no recency"))
        if not s.never_purchased and s.from_days is None:
            out.append(s.src.diag("E203", f"stage '{s.id}' needs from_days",
                                  "or never_purchased: true for customers who never bought"))
        if s.from_days is not None and s.to_days is not None and s.to_days <= s.from_days:
            out.append(s.src.at("to_days").diag(
                "E303", f"stage '{s.id}' ends (day {s.to_days}) before it starts "
                f"(day {s.from_days})"))
    bands = [s for s in stage_bands(plan) if s.from_days is not None]
    if not bands:
        return out
    # A left-out stage may fill what looks like a gap: only overlaps are certain.
    gaps = not plan.broken.any("stage")
    if gaps and bands[0].from_days != 0:
        out.append(bands[0].src.at("from_days").diag(
            "E304", f"days 0-{bands[0].from_days - 1} belong to no stage",
            f"start the first stage ('{bands[0].id}') at from_days: 0"))
    for prev, cur in zip(bands, bands[1:]):
        if prev.to_days is None or prev.to_days > cur.from_days:
            end = "open-ended" if prev.to_days is None else f"until day {prev.to_days}"
            out.append(cur.src.at("from_days").diag(
                "E303", f"stage '{cur.id}' (from day {cur.from_days}) overlaps stage "
                f"'{prev.id}' ({end})", "bands are [from_days, to_days): make them meet"))
        elif gaps and prev.to_days < cur.from_days:
            out.append(cur.src.at("from_days").diag(
                "E304", f"days {prev.to_days}-{cur.from_days - 1} belong to no stage "
                f"(between '{prev.id}' and '{cur.id}')",
                f"set from_days: {prev.to_days} or extend '{prev.id}'"))
    if gaps and bands[-1].to_days is not None:
        out.append(bands[-1].src.at("to_days").diag(
            "E304", f"customers more than {bands[-1].to_days - 1} days since their last "
            "purchase belong to no stage", f"omit to_days on the last stage ('{bands[-1].id}')"))
    return out


def check_tiers(plan: Plan) -> list[Diagnostic]:
    out = []
    for prev, cur in zip(plan.tiers, plan.tiers[1:]):
        if cur.min_spend <= prev.min_spend:
            out.append(cur.src.at("min_spend").diag(
                "E305", f"tier '{cur.id}' needs {cur.min_spend:g}, not more than the tier "
                f"below it ('{prev.id}': {prev.min_spend:g})",
                "list tiers lowest first with increasing min_spend"))
    return out
