"""What the text and Markdown renderings of a review share: the order things are shown
in, the wording of every line, number formats and the cut of long lists. A `Style` says
how code and emphasis look (backticks in Markdown, plain in a terminal)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from crmspec.review.changes import (
    ABSENT,
    COPY_TIMING,
    META,
    REVIEW,
    ActivityChanges,
    FieldChange,
    PlanWideChange,
)
from crmspec.review.effect import ActivityEffect, Side
from crmspec.review.run import Review

LIST_CUT = 10  # longer lists show their first ten and the total
STATUS_ORDER = ("review", "added", "removed", "copy", "metadata", "affected")


@dataclass(frozen=True)
class Style:
    code: Callable[[str], str]
    bold: Callable[[str], str]


PLAIN = Style(lambda s: s, lambda s: s)


def cut(items: list[str], n: int = LIST_CUT) -> list[str]:
    if len(items) <= n:
        return items
    return items[:n] + [f"… and {len(items) - n:,} more ({len(items):,} in all)"]


def count(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def money(x: float | None) -> str:
    return "–" if x is None else f"{x:,.2f}"


def change(before: float | None, after: float | None, fmt: Callable[[float], str] = count
           ) -> str:
    if before is None or after is None:
        return "–"
    d = after - before
    if abs(d) < 1e-9:
        return "0"
    return ("+" if d > 0 else "-") + fmt(abs(d))


def growth(before: int, after: int) -> str:
    if before == after:
        return ""
    if before == 0:
        return " (from none)"
    return f" ({(after - before) / before:+.0%})"


def share(n: int, of: int) -> str:
    return f"{n / of:.1%} ({n:,})" if of else f"– ({n:,})"


def value(v: Any) -> str:
    """A plan value as written, compactly: text as is, the rest as JSON (flow YAML)."""
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False)


def location(fc: FieldChange, review: Review) -> str:
    at = f"@{review.base.short}" if fc.side == "base" else ""
    return f"{fc.file}{at}:{fc.line}"


def field_line(fc: FieldChange, review: Review, s: Style) -> str:
    """`plans/activities.yaml:36` activity `trigger.days`: `1` → `2` (timing)."""
    what = fc.entry + (f" {s.code(fc.field)}" if fc.field else "")
    if fc.before is ABSENT:
        text = f"added {s.code(value(fc.after))}" if fc.field else "added"
    elif fc.after is ABSENT:
        text = f"removed (was {s.code(value(fc.before))})" if fc.field else "removed"
    else:
        text = f"{s.code(value(fc.before))} → {s.code(value(fc.after))}"
    return f"{s.code(location(fc, review))} {what}: {text} ({fc.category})"


def plan_wide_line(pw: PlanWideChange, review: Review, s: Style) -> str:
    reach = pw.reaches if not pw.activities else f"{pw.reaches}: {len(pw.activities):,}"
    return field_line(pw.change, review, s)[:-1] + f"; reaches {reach})"


def status_of(a: ActivityChanges, e: ActivityEffect | None, review: Review) -> str | None:
    """Where an activity is shown: one of STATUS_ORDER, None when it is not shown."""
    if a.status in ("added", "removed"):
        return a.status
    if a.status == "changed":
        return {REVIEW: "review", COPY_TIMING: "copy", META: "metadata"}[a.classification]
    if review.effect is not None:
        return "affected" if e is not None and e.moved else None
    return "affected" if a.reached_by else None


def shown_activities(review: Review) -> list[tuple[str, ActivityChanges, ActivityEffect | None]]:
    """The activities a review shows, in order: those that need review first."""
    effects = review.effect.activities if review.effect else {}
    found = []
    for a in review.changes.activities:
        e = effects.get(a.id)
        st = status_of(a, e, review)
        if st is not None:
            found.append((st, a, e))
    return sorted(found, key=lambda x: STATUS_ORDER.index(x[0]))


LABELS = {"review": "changed · needs review", "added": "added · needs review",
          "removed": "removed · needs review", "copy": "changed · copy or timing only",
          "metadata": "changed · SOP or metadata only", "affected": "affected (indirect)"}


def activity_counts(review: Review) -> str:
    """Activities: 1 added · 0 removed · 2 changed (...) · 1 affected · 3 unchanged."""
    shown = shown_activities(review)
    by = {k: sum(1 for st, _, _ in shown if st == k) for k in STATUS_ORDER}
    changed = by["review"] + by["copy"] + by["metadata"]
    kinds = ", ".join(f"{n} {label}" for n, label in (
        (by["review"], "needs review" if by["review"] == 1 else "need review"),
        (by["copy"], "copy or timing only"),
        (by["metadata"], "SOP or metadata only")) if n)
    unchanged = len(review.changes.activities) - sum(by.values())
    return (f"{by['added']} added · {by['removed']} removed · {changed} changed"
            + (f" ({kinds})" if kinds else "") + f" · {by['affected']} affected · "
            f"{unchanged} unchanged")


def _contacts_and_cost(b, h, cost: str, month: str) -> list[list[str]]:
    """Contacts per channel and in all, the cost and the month to date of two sides
    (a build's `Totals`, or the simulated builds' `DaysSide`)."""
    rows = []
    for ch in sorted(set(b.contacts) | set(h.contacts)):
        x, y = b.contacts.get(ch, 0), h.contacts.get(ch, 0)
        rows.append([f"contacts: {ch}", count(x), count(y), change(x, y)])
    x, y = sum(b.contacts.values()), sum(h.contacts.values())
    rows.append(["contacts in all", count(x), count(y), change(x, y)])
    rows.append([cost, money(b.cost), money(h.cost), change(b.cost, h.cost, money)])
    rows.append([month, money(b.month_to_date), money(h.month_to_date),
                 change(b.month_to_date, h.month_to_date, money)])
    return rows


def summary_rows(review: Review) -> list[list[str]]:
    """[what, base, head, change] for the whole plan."""
    c = review.changes
    n_base = sum(1 for a in c.activities if a.status != "added")
    n_head = sum(1 for a in c.activities if a.status != "removed")
    rows = [["activities", count(n_base), count(n_head), change(n_base, n_head)]]
    e = review.effect
    if e is None:
        return rows
    b, h, cur = e.base, e.head, review.currency
    cap = h.monthly_cap
    rows += _contacts_and_cost(b, h, f"cost this build ({cur})", f"cost month to date ({cur})"
                               + (f", cap {cap:,.0f}" if cap is not None else ""))
    for key, label in over_limit_labels(review):
        x, y = b.over_limit.get(key, 0), h.over_limit.get(key, 0)
        pts = (y / h.customers - x / b.customers) * 100 if b.customers and h.customers else 0
        rows.append([label, share(x, b.customers), share(y, h.customers),
                     "0" if x == y else f"{pts:+.{2 if abs(pts) < 0.1 else 1}f} pt"])
    return rows


def over_limit_labels(review: Review) -> list[tuple[str, str]]:
    """The limits whose capped customers the summary shows: the working tree's contact
    limits (even when nobody is over them), and the budgets that trimmed anyone."""
    e = review.effect
    assert e is not None
    found = set(e.base.over_limit) | set(e.head.over_limit) | set(review.limits)
    budgets = ("activity budget", "monthly budget")
    out = [("overall", "customers over the overall contact limit")] if "overall" in found \
        else []
    out += [(ch, f"customers over the {ch} contact limit") for ch in sorted(
        found - {"overall", "stage", *budgets})]
    if "stage" in found:
        out.append(("stage", "customers over their stage's contact limit"))
    return out + [(key, f"customers trimmed by the {key}") for key in budgets if key in found]


def days_title(review: Review) -> str | None:
    d = review.effect.days if review.effect else None
    if d is None:
        return None
    return (f"The next {d.days} days of builds ({d.first.isoformat()} to {d.last.isoformat()}), "
            "assuming no new orders")


def days_rows(review: Review) -> list[list[str]]:
    """[what, base, head, change] of the simulated builds: contacts, cost, and the
    customers by their number of contacts (care and marketing; service messages are not
    limited and not counted)."""
    d = review.effect.days
    b, h, cur = d.base, d.head, review.currency
    rows = _contacts_and_cost(b, h, f"cost of the {d.days} builds ({cur})",
                              f"cost month to date after them ({cur})")
    keys = sorted(set(b.per_customer) | set(h.per_customer), key=lambda k: int(k.rstrip("+")))
    for k in keys:
        x, y = b.per_customer.get(k, 0), h.per_customer.get(k, 0)
        label = "contact" if k == "1" else "contacts"
        rows.append([f"customers with {k} {label}", count(x), count(y), change(x, y)])
    return rows


def stage_rows(review: Review) -> list[list[str]]:
    """[stage, bounds, customers, below the minimum, most contacts] on the last
    simulated day: contacts since the customer entered the stage (domain rule 4)."""
    d = review.effect.days
    rows = []
    for sid, h in d.head.stages.items():
        b = d.base.stages.get(sid, {})
        bounds = f"{h['min'] if h['min'] is not None else 0}-" + (
            f"{h['max']}" if h["max"] is not None else "")
        rows.append([sid, bounds, count(h["customers"]),
                     f"{count(b.get('below_min'))} → {count(h['below_min'])}",
                     f"{count(b.get('most_contacts'))} → {count(h['most_contacts'])}"])
    return rows


def effect_rows(e: ActivityEffect, currency: str) -> list[list[str]]:
    """[what, base, head, change] of one activity."""
    def get(side: Side | None, attr: str):
        return None if side is None else getattr(side, attr)

    rows = []
    for label, attr, fmt in (("audience", "audience", count), ("contacted", "sent", count),
                             ("held out", "control", count),
                             ("not contacted", "not_contacted", count),
                             (f"cost ({currency})", "cost", money)):
        x, y = get(e.base, attr), get(e.head, attr)
        rows.append([label, fmt(x), fmt(y), change(x, y, fmt)])
    return rows


def breakdown(by: dict[str, dict[str, int]]) -> str:
    parts = []
    for dim in ("stage", "tier"):
        items = cut([f"{k} {n:,}" for k, n in by.get(dim, {}).items()])
        if items:
            parts.append(f"by {dim}: " + ", ".join(items))
    return "; ".join(parts)


def movement_lines(e: ActivityEffect, review: Review) -> list[str]:
    """Entered / left / capped out / freed, in sentences; and the other activities whose
    contacts this one's took the place of (or made room for): its indirect children, in
    sqlmesh's words."""
    out = []
    for label, n, by in (("entered the audience", e.entered, e.entered_by),
                         ("left the audience", e.left, e.left_by)):
        out.append(f"{n:,} {label}" + (f" ({breakdown(by)})" if n else ""))
    before = e.base.reasons if e.base is not None else None
    after = e.head.reasons if e.head is not None else None
    if after or (before and after is not None):
        items = []
        for r in sorted(set(before or {}) | set(after)):
            x, y = (before or {}).get(r, 0), after.get(r, 0)
            items.append(f"{r} {y:,}" if before is None or x == y else f"{r} {x:,} → {y:,}")
        out.append("not contacted: " + ", ".join(cut(items)))
    for label, d, by, then in (
            ("capped out by a limit or budget (contacted before; now", e.capped_out,
             e.displaced_by, "instead they now get"),
            ("freed from a limit or budget (contacted now; before", e.freed, e.freed_by,
             "they no longer get")):
        if d:
            reasons = ", ".join(cut([f"{r} {n:,}" for r, n in d.items()]))
            others = ", ".join(cut([f"{a} {n:,}" for a, n in by.items()]))
            out.append(f"{sum(d.values()):,} {label} {reasons})"
                       + (f"; {then}: {others}" if others else ""))
    effects = review.effect.activities.values() if review.effect else ()
    for label, attr in (("took the place of other activities' contacts", "displaced_by"),
                        ("made room for other activities' contacts", "freed_by")):
        children = [f"{o.id} {getattr(o, attr)[e.id]:,}" for o in effects
                    if e.id in getattr(o, attr)]
        if children:
            out.append(f"{label}: " + ", ".join(cut(children)))
    return out


def header_lines(review: Review, s: Style) -> list[str]:
    out = [f"{s.bold('base')}: {review.base.label} → {s.bold('head')}: {review.head}"]
    e = review.effect
    if e is not None:
        rows = ", ".join(f"{n:,} {t}" for t, n in e.rows.items())
        ledger = (f"ledger: {e.ledger_runs:,} runs, the latest as of "
                  f"{e.latest_run.isoformat()}" if e.latest_run else "ledger: no runs")
        out.append(f"as of {e.as_of.isoformat()} · data: {rows} · {ledger} · both plans "
                   "read-only on the same data and ledger"
                   + (", on the same facts" if e.facts_shared else ""))
    elif review.structural is not None:
        out.append(s.bold("Structural review only") + f": the shop's data is not here "
                   f"({review.structural}); no audience, contact or cost is compared.")
        if review.manifest is not None:
            out.append(f"Counts are the latest build's ({review.manifest_path}, as of "
                       f"{review.manifest['as_of']}), not this change's.")
    for note in review.notes:
        out.append(f"note: {note}")
    return out


def verdict_lines(review: Review, s: Style) -> list[str]:
    if not review.changes.any:
        return [s.bold("No changes") + ": the plans are the same (exit 0)."]
    if review.crossings:
        lines = [s.bold("Needs approval") + " (exit 3): this change crosses the review "
                 "thresholds of the base plan (shop.yaml `review`):"]
        lines += [f"- {c.message}" for c in review.crossings]
    else:
        lines = [s.bold("Changes") + " (exit 2); no review threshold crossed."]
    if review.unjudged:
        lines.append("not judged: " + "; ".join(review.unjudged))
    return lines


def manifest_line(review: Review, aid: str) -> str | None:
    if review.manifest is None:
        return None
    found = next((a for a in review.manifest["activities"] if a["id"] == aid), None)
    if found is None:
        return "latest build: not in it"
    return (f"latest build: audience {found['eligible']:,}, contacted {found['sent']:,}, "
            f"held out {found['control']:,}, cost {found['cost']:,.2f} {review.currency}")
