"""An activity's SOP page: ID card (身份证), portrait (写真照), battle record (战功榜) and
evolution (进化图).

Everything the plan says is drawn from the plan (the SOP adds only what people wrote):
the ID card from the activity, its segment and stages, its channel and send windows;
the portrait's messages rendered from the activity's templates for made-up customers;
the battle record from the ledger's runs as `crmspec.analysis.evaluate` computes them;
the evolution from git history, each revision with the battle record of the runs
before and after it.
"""

from __future__ import annotations

from datetime import datetime

import yaml

from crmspec.analysis.evaluate import EvalRow, pool_runs
from crmspec.analysis.evaluate.results import NO_CONTROL, PENDING
from crmspec.contact.rules import send_windows
from crmspec.plan.model import Activity, Sop, channel_options
from crmspec.site import charts, words
from crmspec.site.history import Revision, Subject, revisions
from crmspec.site.inputs import SiteData
from crmspec.site.markdown import code, count, esc, image, interval, money, pct, pp, table
from crmspec.templates.checking import template_context

SKIP_PARTS = ("html",)  # shown through the text part: the HTML body is the same message


def subject(a: Activity) -> Subject:
    return Subject(a.id, a.segment, a.template, a.channel)


def page_path(activity_id: str) -> str:
    return f"activities/{activity_id}.md"


def activity_page(data: SiteData, a: Activity, sop: Sop | None) -> dict[str, str]:
    """The page (and its charts), as relative path -> text."""
    files: dict[str, str] = {}
    sop_data = sop.data if sop else {}
    parts = [f"# {esc(a.name)} {code(a.id)}", ""]
    if sop is None:
        parts += ["*No SOP document yet: this page shows what the plan says. Write "
                  f"`plans/sop/{a.id}.yaml` for the flow, design notes and checklist.*", ""]
    parts += _id_card(data, a, sop_data)
    parts += _portrait(data, a, sop_data)
    record, chart = _battle_record(data, a)
    parts += record
    if chart:
        files[f"charts/{a.id}.svg"] = chart
    parts += _evolution(data, a, sop_data)
    files[page_path(a.id)] = "\n".join(parts) + "\n"
    return files


def _id_card(data: SiteData, a: Activity, sop: dict) -> list[str]:
    plan = data.plan
    card = sop.get("id_card", {})
    seg = plan.segment(a.segment)
    ch = data.channels.get(a.id)
    rows = [
        ["Purpose", esc(card.get("purpose") or a.purpose or a.description)],
        ["Kind", words.kind(a.kind) + (" · service message" if a.service else "")],
        ["Owner", esc(card.get("owner") or a.owner or "—")],
        ["Stages", "; ".join(esc(words.stage_label(plan, s)) for s in a.stages)],
        ["Audience", f"{esc(seg.name)} {code(seg.id)}" + (f": {esc(seg.description)}"
                                                          if seg.description else "")],
        ["Channel", f"{esc(ch.title if ch else a.channel)} {code(a.channel)}"],
        ["Timing", esc(words.trigger(a.trigger, plan))],
        ["Send windows", esc(words.windows(send_windows(a, ch))) if ch else ""],
        ["Priority", f"{a.priority}"],
    ]
    out = ["## 身份证 ID card", "", table("What it is", ["", ""], rows), ""]
    out += ["**Audience as conditions** (segments.yaml, and the SQL it compiles to):", ""]
    where = {"everyone": True} if seg.everyone else {"where": seg.where}
    out += ["```yaml", yaml.safe_dump(where, allow_unicode=True, sort_keys=False).rstrip(),
            "```", ""]
    sql = data.segments.get(a.segment)
    if sql:
        out += ["```sql", sql, "```", ""]
    return out


def _portrait(data: SiteData, a: Activity, sop: dict) -> list[str]:
    plan = data.plan
    p = sop.get("portrait", {})
    out = ["## 写真照 Portrait", ""]
    if p.get("flow"):
        out += ["**Flow**", ""] + [f"{i}. {esc(s)}" for i, s in enumerate(p["flow"], 1)] + [""]
    for key, title in (("design_notes", "Design notes"), ("offer_rationale", "Why this offer")):
        if p.get(key):
            out += [f"**{title}**: {esc(p[key])}", ""]
    if p.get("checklist"):
        out += ["**Checklist before it runs**", ""] + [f"- [ ] {esc(s)}" for s in p["checklist"]]
        out += [""]
    out += _messages(data, a)
    coupon = a.coupon or {}
    if coupon:
        rows = [[esc(coupon.get("name", "")), money(coupon.get("amount")),
                 money(coupon.get("min_spend")), count(coupon.get("valid_days")),
                 pct(coupon.get("expected_redemption"), 1)]]
        out += [table("Offer (activities.yaml coupon)", ["coupon", "amount", "min spend",
                                                         "valid days", "expected redemption"],
                      rows, right=(1, 2, 3, 4)), ""]
    else:
        out += ["**Offer**: no coupon.", ""]
    if a.budget_cap is not None:
        order = "highest" if a.trim_desc else "lowest"
        out += [f"**Budget**: at most {money(a.budget_cap)} {plan.shop.currency} per build; "
                f"when short, the customers with the {order} {esc(a.trim_by)} first.", ""]
    ev = plan.shop.evaluation
    effect = a.min_effect or ev.min_effect
    control = (f"{pct(a.holdout, 0)} of the audience held out at random (the same customers "
               "from build to build)" if a.holdout else "none: nobody is held out")
    kpi = next((k for k in plan.kpis if k.id == a.kpi), None)
    rows = [["Control group", esc(control)],
            ["Global hold-out", pct(plan.shop.contact.global_holdout, 0) + " of all customers "
             "get no marketing" if plan.shop.contact.global_holdout else "none"],
            ["Evaluation metric", f"{esc(kpi.name)} {code(kpi.id)}" if kpi else "—"],
            ["Response", f"a purchase within {ev.window_days} days after the send"],
            ["Minimum effect", pp(effect) if effect else "—"]]
    out += [table("Control group and evaluation", ["", ""], rows), ""]
    return out


def _messages(data: SiteData, a: Activity) -> list[str]:
    at = data.templates.get(a.id)
    if at is None:
        return ["**Message**: this activity has no template; its audience is listed for "
                "review only.", ""]
    plan, ch = data.plan, at.channel
    options = channel_options(plan, a, ch.option_defaults())
    out = ["**The message, as sent to three made-up customers**", ""]
    for desc, values in words.samples(plan, a):
        ctx = template_context(values, plan, a, data.as_of)
        out += [f"*{esc(desc)}*", ""]
        for name, lp in at.parts.items():
            if name in SKIP_PARTS:
                continue
            text = ch.finish(name, lp.template.render(ctx), a, options, plan)
            label = "" if len(at.parts) == 1 else f"{name}: "
            out += ["> " + esc(label + text), ""]
    return out


def _run_row(r: EvalRow, currency: str) -> list[str]:
    when = r.run.isoformat() if r.run else f"all ({r.runs} runs)"
    if r.status == PENDING:
        return [when, count(r.treatment), count(r.control), "", "", "", "", "", "pending",
                money(r.cost), ""]
    status = r.status.replace("_", " ")
    if r.underpowered:
        status += ", underpowered"
    return [when, count(r.treatment), count(r.control),
            f"{count(r.treatment_responders)} / {count(r.control_responders)}",
            f"{pct(r.treatment_rate)} / {pct(r.control_rate)}", pp(r.uplift),
            interval(r.uplift_low, r.uplift_high),
            "" if r.p_value is None else f"{r.p_value:.3f}", esc(status), money(r.cost),
            "" if r.roi is None else f"{r.roi:.2f}"]


HEADER = ["run", "sent", "held out", "responders (sent / held out)", "response rate",
          "uplift", "95% interval", "p-value", "status", "cost", "ROI"]


def _battle_record(data: SiteData, a: Activity) -> tuple[list[str], str | None]:
    out = ["## 战功榜 Battle record", ""]
    cur = data.plan.shop.currency
    runs = data.activity_rows(a.id, "run")
    pooled = data.activity_rows(a.id, "activity")
    if data.manifest:
        entry = next((e for e in data.manifest["activities"] if e["id"] == a.id), None)
        if entry:
            held = sum(entry["suppressed"].values())
            out += [f"Latest build ({esc(data.manifest.get('as_of'))}): "
                    f"{count(entry['eligible'])} eligible, {count(held)} not contacted "
                    f"(opt-outs, limits, budget...), {count(entry['sent'])} sent, "
                    f"{count(entry['control'])} held out.", ""]
    if not runs:
        out += ["No recorded run yet: `crmspec build` records every run in the ledger.", ""]
        return out, None
    window = data.plan.shop.evaluation.window_days
    out += [f"Every recorded run, a response being a purchase within {window} days of the "
            f"send (`crmspec evaluate`); cost and ROI in {cur}.", ""]
    rows = [_run_row(r, cur) for r in runs + pooled]
    out += [table("Runs", HEADER, rows, right=(1, 2, 5, 7, 9, 10)), ""]
    if any(r.status == NO_CONTROL for r in runs):
        out += ["Runs without a control group have no uplift: nobody was held out.", ""]
    measured = [r for r in runs if r.uplift is not None]
    chart = None
    if measured:
        chart = charts.uplift([r.run.isoformat() for r in measured],
                              [r.uplift for r in measured], [r.uplift_low for r in measured],
                              [r.uplift_high for r in measured],
                              f"{a.name}: uplift per run (95% interval)")
        out += [image(f"{a.name}: uplift per run", f"../charts/{a.id}.svg"), ""]
    return out, chart


def _value(text: str | None) -> str:
    if text is None:
        return "—"
    return esc(text if len(text) <= 120 else text[:119] + "…")


def _evolution(data: SiteData, a: Activity, sop: dict) -> list[str]:
    out = ["## 进化图 Evolution", ""]
    history = data.history
    revs = revisions(history, subject(a)) if history else []
    if not revs:
        out += ["No revision in git history (the plan is not in a git repository, or "
                "nothing about this activity was committed yet).", ""]
    runs = data.activity_rows(a.id, "run")
    window = data.plan.shop.evaluation.window_days
    for i, rev in enumerate(reversed(revs)):
        index = len(revs) - 1 - i
        nxt = revs[index + 1].date if index + 1 < len(revs) else None
        prev = revs[index - 1].date if index > 0 else None
        out += [f"### {rev.date:%Y-%m-%d} · {esc(rev.message)}", "",
                f"{esc(rev.author)} · commit {code(rev.commit[:10])}", ""]
        rows = [[code(c.field), _value(c.old), _value(c.new)] for c in rev.changes]
        out += [table("Changed", ["field", "from", "to"], rows), ""]
        before = _between(runs, prev, rev.date)
        after = _between(runs, rev.date, nxt)
        out += [table("Battle record before and after", ["", *HEADER[1:]], [
            ["before"] + _run_row(pool_runs(data.plan, a.id, before, window), "")[1:],
            ["after"] + _run_row(pool_runs(data.plan, a.id, after, window), "")[1:]],
            right=(1, 2, 5, 7, 9, 10)) if before or after else
            "*No recorded run before or after this revision.*", ""]
    lessons = sop.get("lessons", [])
    if lessons:
        out += ["### Lessons (SOP)", ""]
        out += [f"- **{esc(x['date'])}** {esc(x['lesson'])}" for x in lessons] + [""]
    return out


def _between(runs: list[EvalRow], start: datetime | None, end: datetime | None
             ) -> list[EvalRow]:
    """Runs whose as-of date falls on or after `start` and before `end` (commit dates)."""
    def day(d: datetime | None):
        return None if d is None else d.date()
    lo, hi = day(start), day(end)
    return [r for r in runs if r.run is not None and (lo is None or r.run >= lo)
            and (hi is None or r.run < hi)]


__all__ = ["Revision", "activity_page", "page_path", "subject"]
