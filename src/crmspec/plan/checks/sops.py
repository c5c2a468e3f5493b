"""SOP documents: each documents a known activity, once; an SOP may not contradict its
activity; and in a plan that keeps SOPs, every activity has one.

An SOP states only what people decide (schemas/sop.py); the two fields it shares with
activities.yaml (`purpose`, `owner`) must agree when both state them. An activity
without an SOP is a warning only in a plan that keeps an SOP archive at all (at least
one file in plans/sop/): a shop that has not started one is not told 45 times.
"""

from __future__ import annotations

from crmspec.core.diagnostics import Diagnostic, Src
from crmspec.plan.checks.references import unknown_reference
from crmspec.plan.model import Plan

SHARED_FIELDS = ("purpose", "owner")  # SOP id_card fields that activities.yaml also has


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def check_sops(plan: Plan) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    acts = {a.id: a for a in plan.activities}
    seen: dict[str, Src] = {}
    for sop in plan.sops:
        if sop.activity not in acts:
            out.append(unknown_reference(sop.src.at("activity"), "activity", sop.activity, acts))
            continue
        if sop.activity in seen:
            out.append(sop.src.at("activity").diag(
                "E302", f"a second SOP for activity '{sop.activity}' "
                f"(first: {seen[sop.activity].doc.path})"))
            continue
        seen[sop.activity] = sop.src
        a = acts[sop.activity]
        card = sop.data.get("id_card", {})
        for name in SHARED_FIELDS:
            mine, theirs = card.get(name), getattr(a, name)
            if mine is None or theirs is None or _same(mine, theirs):
                continue
            where = a.src.at(name)
            line, col = where.doc.where(where.path)
            out.append(sop.src.at("id_card", name).diag(
                "E701", f"the SOP's {name} contradicts activity '{a.id}' "
                f"({where.doc.path}:{line}:{col}: {name} '{_short(theirs)}')",
                f"state the {name} in one place: remove it from the SOP (its page shows the "
                "activity's) or from the activity, or make them the same"))
    # An SOP left out by its schema check still documents its activity; one that does
    # not say which in a readable way (or does not parse) could be any activity's.
    left_out = [d.data.get("activity") if isinstance(d.data, dict) else None
                for d in plan.files.sops if plan.broken.has(d.path)]
    unsure = any(not isinstance(a, str) for a in left_out) or any(
        kind == "sop" for kind in plan.files.unreadable.values())
    if plan.sops and not unsure:
        for a in plan.activities:
            if a.id not in seen and a.id not in left_out:
                out.append(a.src.at("id").diag(
                    "W702", f"activity '{a.id}' has no SOP",
                    f"write plans/sop/{a.id}.yaml (docs/sop.md): the flow in words, design "
                    "notes and a checklist, so that the activity survives staff turnover"))
    return out


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
