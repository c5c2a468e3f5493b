"""A review for a terminal or a CI log: the same content as the Markdown, in plain text
with tables drawn by rich (`crmspec.core.tabular`)."""

from __future__ import annotations

from crmspec.core.tabular import text_table
from crmspec.review.render.common import (
    LABELS,
    PLAIN,
    activity_counts,
    cut,
    days_rows,
    days_title,
    effect_rows,
    field_line,
    header_lines,
    manifest_line,
    movement_lines,
    plan_wide_line,
    shown_activities,
    stage_rows,
    summary_rows,
    verdict_lines,
)
from crmspec.review.run import Review


def _table(title: str, rows: list[list[str]]) -> str:
    return text_table(title, ["", "base", "head", "change"], rows, "text",
                      right={1, 2, 3}).rstrip("\n")


def render_text(review: Review) -> str:
    s = PLAIN
    out = [f"crmspec plan · {review.shop}"] + header_lines(review, s) + [""]
    out += verdict_lines(review, s)
    if review.changes.any:
        out += ["", "Activities: " + activity_counts(review), _table("", summary_rows(review))]
        title = days_title(review)
        if title:
            out += ["", title + ":", _table("", days_rows(review))]
            stages = stage_rows(review)
            if stages:
                out.append(text_table("", ["stage", "contacts allowed", "customers",
                                           "below the minimum", "most contacts"], stages,
                                      "text", right={2, 3, 4}).rstrip("\n"))
        if review.changes.plan_wide:
            out += ["", "Plan-wide changes:"] + [f"  {x}" for x in cut(
                [plan_wide_line(pw, review, s) for pw in review.changes.plan_wide])]
    for status, a, e in shown_activities(review):
        out += ["", f"{a.id} {a.name} ({a.channel}, {a.kind}) · {LABELS[status]}"]
        plan = [f"    {x}" for x in cut([field_line(f, review, s) for f in a.fields])]
        for t in a.texts:
            plan.append(f"    {t.file}, {t.part}: text changed ({t.category})")
            plan += [f"      {line}" for line in cut(list(t.diff))]
        reached = [review.changes.plan_wide[i] for i in a.reached_by]
        if reached:
            plan.append("    reached by plan-wide changes: " + "; ".join(cut(
                [f"{pw.change.entry} {pw.change.field or '(entry)'}" for pw in reached])))
        if plan:
            out += ["  in the plan:"] + plan
        if e is not None:
            out += ["  effect:", _table("", effect_rows(e, review.currency))]
            out += [f"    {line}" for line in movement_lines(e, review)]
        elif review.effect is None and (found := manifest_line(review, a.id)):
            out.append(f"  {found}")
    return "\n".join(out) + "\n"
