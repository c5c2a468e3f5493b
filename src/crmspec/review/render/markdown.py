"""A review as Markdown for a pull-request comment (sqlmesh's bot comment is the model):
the verdict and the summary table first, then one `<details>` per activity, long lists
cut at ten with the total.

Every part starts with a marker line, `<!-- crmspec:plan-review part=1/2 -->`, so that
a bot finds its earlier comments and updates them instead of adding new ones; the
review is split into parts of at most `PART_LIMIT` bytes (GitHub refuses comments over
65,536 characters), an activity's block never across two parts.
"""

from __future__ import annotations

from crmspec.review.changes import ActivityChanges, TextChange
from crmspec.review.effect import ActivityEffect
from crmspec.review.render.common import (
    LABELS,
    LIST_CUT,
    Style,
    activity_counts,
    count,
    cut,
    days_rows,
    days_title,
    effect_rows,
    field_line,
    growth,
    header_lines,
    manifest_line,
    money,
    movement_lines,
    plan_wide_line,
    shown_activities,
    stage_rows,
    summary_rows,
    verdict_lines,
)
from crmspec.review.run import Review

MARKER = "<!-- crmspec:plan-review part={part}/{parts} -->"
MARKER_PREFIX = "<!-- crmspec:plan-review "
PART_LIMIT = 65_000  # bytes
RESERVED = 200  # the marker line and the "continued" line of a part


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


STYLE = Style(_code, lambda s: f"**{s}**")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(header: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---:" if i >= right_from else "---" for i in range(len(header)))
           + "|"]
    return out + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _arrow(before: str, after: str) -> str:
    return after if before == after else f"{before} → {after}"


def _overview(review: Review) -> list[str]:
    shown = shown_activities(review)
    if not shown:
        return []
    cur = review.currency
    rows = []
    for status, a, e in shown:
        name = f"{_code(a.id)} {a.name}"
        if review.effect is None:
            rows.append([name, LABELS[status], manifest_line(review, a.id) or "–"])
            continue
        b, h = (e.base, e.head) if e else (None, None)
        rows.append([name, LABELS[status],
                     _arrow(count(b.audience if b else None), count(h.audience if h else None)),
                     _arrow(count(b.sent if b else None), count(h.sent if h else None)),
                     _arrow(money(b.cost if b else None), money(h.cost if h else None))])
    header = (["activity", "change", "latest build"] if review.effect is None else
              ["activity", "change", "audience", "contacted", f"cost ({cur})"])
    extra = len(rows) - LIST_CUT
    out = table(header, rows[:LIST_CUT], right_from=2)
    if extra > 0:
        out.append(f"\n… and {extra:,} more ({len(rows):,} in all; each below)")
    return out


def _texts(texts: tuple[TextChange, ...], s=STYLE) -> list[str]:
    out = []
    for t in texts:
        out.append(f"- {s.code(t.file)}, {t.part}: text changed ({t.category})")
        out += ["", "  ```diff"] + [f"  {line}" for line in cut(list(t.diff))] + ["  ```"]
    return out


def _details(review: Review, status: str, a: ActivityChanges, e: ActivityEffect | None
             ) -> str:
    summary = f"<code>{a.id}</code> {a.name} ({a.channel}, {a.kind}) · {LABELS[status]}"
    if e is not None and e.base is not None and e.head is not None:
        summary += (f" · audience {_arrow(count(e.base.audience), count(e.head.audience))}"
                    f"{growth(e.base.audience, e.head.audience)}")
    lines = [f"<details><summary>{summary}</summary>", ""]
    plan = [f"- {x}" for x in cut([field_line(f, review, STYLE) for f in a.fields])]
    reached = [review.changes.plan_wide[i] for i in a.reached_by]
    if plan or a.texts or reached:
        lines += ["**In the plan**", ""] + plan + _texts(a.texts)
        if reached:
            lines.append("- reached by plan-wide changes: " + "; ".join(cut(
                [f"{pw.change.entry} {_code(pw.change.field or '(entry)')}" for pw in reached])))
        lines.append("")
    if e is not None:
        lines += ["**Effect**", ""] + table(["", "base", "head", "change"],
                                           effect_rows(e, review.currency)) + [""]
        lines += [f"- {line}" for line in movement_lines(e, review)] + [""]
    elif review.effect is None and (found := manifest_line(review, a.id)):
        lines += [f"- {found}", ""]
    return "\n".join(lines + ["</details>", ""])


def render_markdown(review: Review, limit: int = PART_LIMIT) -> list[str]:
    """The comment parts, each at most `limit` bytes and starting with its marker."""
    s = STYLE
    head = [f"### crmspec plan · {review.shop}", ""]
    lines = header_lines(review, s)
    head += [line + "  " for line in lines[:-1]] + lines[-1:]  # a line break each
    head += [""] + verdict_lines(review, s) + [""]
    if review.changes.any:
        head += ["Activities: " + activity_counts(review), ""]
        head += table(["", "base", "head", "change"], summary_rows(review)) + [""]
        title = days_title(review)
        if title:
            head += [f"#### {title}", ""] + table(["", "base", "head", "change"],
                                                 days_rows(review)) + [""]
            stages = stage_rows(review)
            if stages:
                head += table(["stage", "contacts allowed", "customers", "below the minimum",
                               "most contacts"], stages, right_from=2) + [""]
        if review.changes.plan_wide:
            head += ["#### Plan-wide changes", ""] + [f"- {x}" for x in cut(
                [plan_wide_line(pw, review, s) for pw in review.changes.plan_wide])] + [""]
        overview = _overview(review)
        if overview:
            head += ["#### Activities", ""] + overview + [""]
    blocks = [_details(review, st, a, e) for st, a, e in shown_activities(review)]
    return split("\n".join(head), blocks, limit)


def split(head: str, blocks: list[str], limit: int) -> list[str]:
    """Parts of at most `limit` bytes: the head, then whole blocks; a block too big for
    a part of its own is cut at a line. Each part after the first says it continues."""
    def size(text: str) -> int:
        return len(text.encode("utf-8")) + 1  # with the newline that joins it

    room = limit - RESERVED
    bodies: list[list[str]] = [[]]
    used = size(head)
    for block in blocks:
        if size(block) > room:
            block = _shorten(block, room)
        if used + size(block) > room:
            bodies.append([])
            used = 0
        bodies[-1].append(block)
        used += size(block)
    n = len(bodies)
    return ["\n".join([MARKER.format(part=i, parts=n),
                       head if i == 1 else f"*crmspec plan, continued: part {i} of {n}*\n"]
                      + body) for i, body in enumerate(bodies, 1)]


def _shorten(block: str, room: int) -> str:
    note = "\n… cut: too long for one comment (see the JSON review)\n\n</details>\n"
    out, used = [], len(note.encode("utf-8"))
    for line in block.split("\n"):
        used += len(line.encode("utf-8")) + 1
        if used > room:
            break
        out.append(line)
    return "\n".join(out) + note
