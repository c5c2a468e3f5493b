"""Semantic checks: what a schema cannot say about a plan.

References between files, lifecycle bands that overlap or leave gaps, tier thresholds,
and the domain's contact-plan rules (every stage has maintenance, the
maintenance/marketing ratio stays within the plan's bounds, no activity targets every
customer by accident). Each check returns located diagnostics; none raises.
"""

from __future__ import annotations

import difflib
from collections import Counter
from typing import Iterable

from crmspec.diagnostics import Diagnostic
from crmspec.model import Plan, Src, stage_bands
from crmspec.sqlfilter import SqlFilterError, parse_filter
from crmspec.tables import CUSTOMERS, FACTS, TABLES
from crmspec.triggers import PURCHASE_DAY_EVENTS


def filter_columns() -> dict[str, str]:
    """Columns a segment `sql:` filter may read: customer columns and derived facts."""
    return {c.name: c.type for c in CUSTOMERS + FACTS}


def _unknown(src: Src, what: str, value: str, known: Iterable[str]) -> Diagnostic:
    known = sorted(set(known))
    close = difflib.get_close_matches(value, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else None
    if not hint:
        hint = f"known {what}s: " + (", ".join(known) if known else "none")
    return src.diag("E301", f"unknown {what} '{value}'", hint)


def _duplicates(items, what: str) -> list[Diagnostic]:
    out = []
    seen: dict[str, object] = {}
    for item in items:
        if item.id in seen:
            first = seen[item.id].src  # type: ignore[attr-defined]
            line, _ = first.doc.where(first.path)
            out.append(
                item.src.at("id").diag(
                    "E302", f"duplicate {what} id '{item.id}' (first at line {line})"
                )
            )
        else:
            seen[item.id] = item
    return out


def check_lifecycle(plan: Plan) -> list[Diagnostic]:
    out = []
    never = [s for s in plan.stages if s.never_purchased]
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
    if bands[0].from_days != 0:
        out.append(bands[0].src.at("from_days").diag(
            "E304", f"days 0-{bands[0].from_days - 1} belong to no stage",
            f"start the first stage ('{bands[0].id}') at from_days: 0"))
    for prev, cur in zip(bands, bands[1:]):
        if prev.to_days is None or prev.to_days > cur.from_days:
            end = "open-ended" if prev.to_days is None else f"until day {prev.to_days}"
            out.append(cur.src.at("from_days").diag(
                "E303", f"stage '{cur.id}' (from day {cur.from_days}) overlaps stage "
                f"'{prev.id}' ({end})", "bands are [from_days, to_days): make them meet"))
        elif prev.to_days < cur.from_days:
            out.append(cur.src.at("from_days").diag(
                "E304", f"days {prev.to_days}-{cur.from_days - 1} belong to no stage "
                f"(between '{prev.id}' and '{cur.id}')",
                f"set from_days: {prev.to_days} or extend '{prev.id}'"))
    if bands[-1].to_days is not None:
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


def _walk_conditions(where: dict, src: Src):
    """Yield (key, value, src) for every test in a condition tree."""
    for key, value in where.items():
        if key == "any_of":
            for i, sub in enumerate(value):
                yield from _walk_conditions(sub, src.at("any_of", i))
        elif key == "not":
            yield from _walk_conditions(value, src.at("not"))
        else:
            yield key, value, src.at(key)


def segment_refs(where: dict | None) -> set[str]:
    refs: set[str] = set()
    if not where:
        return refs
    for key, value, _ in _walk_conditions(where, Src(None, ())):  # type: ignore[arg-type]
        if key in ("in_segment", "not_in_segment"):
            refs.update(value if isinstance(value, list) else [value])
    return refs


def check_segments(plan: Plan) -> list[Diagnostic]:
    out = []
    stages = {s.id for s in plan.stages}
    tiers = {t.id for t in plan.tiers}
    segs = {s.id for s in plan.segments}
    customer_cols = {c.name for c in CUSTOMERS}
    columns = filter_columns()
    for seg in plan.segments:
        if seg.where is None and not seg.everyone:
            out.append(seg.src.diag(
                "E306", f"segment '{seg.id}' has no conditions: it would hold every customer",
                "add `where:` conditions, or say `everyone: true` if that is really meant"))
        if seg.where is not None and seg.everyone:
            out.append(seg.src.at("everyone").diag(
                "E306", f"segment '{seg.id}' says everyone: true but also has conditions",
                "drop one of them"))
        if not seg.where:
            continue
        for key, value, src in _walk_conditions(seg.where, seg.src.at("where")):
            values = value if isinstance(value, list) else [value]
            if key == "stage":
                for i, v in enumerate(values):
                    if v not in stages:
                        out.append(_unknown(src.at(i) if isinstance(value, list) else src,
                                            "stage", v, stages))
            elif key in ("tier", "tier_at_least"):
                allowed = tiers | ({"none"} if key == "tier" else set())
                for i, v in enumerate(values):
                    if v not in allowed:
                        out.append(_unknown(src.at(i) if isinstance(value, list) else src,
                                            "tier", v, allowed))
            elif key in ("in_segment", "not_in_segment"):
                for i, v in enumerate(values):
                    s = src.at(i) if isinstance(value, list) else src
                    if v not in segs:
                        out.append(_unknown(s, "segment", v, segs))
                    elif v == seg.id:
                        out.append(s.diag("E310", f"segment '{seg.id}' refers to itself"))
            elif key == "attributes":
                for col in value:
                    if col not in customer_cols:
                        out.append(Diagnostic(*_relocate_key(
                            src.at(col), "E301", f"unknown customer column '{col}'",
                            customer_cols, col)))
            elif key == "sql":
                try:
                    parse_filter(value, columns)
                except SqlFilterError as exc:
                    out.append(_sql_diag(src, value, exc))
    out.extend(_segment_cycles(plan))
    return out


def _relocate_key(src: Src, code: str, message: str, known, value: str):
    """Fields of a diagnostic placed at a mapping key (for unknown attribute columns)."""
    line, col = src.doc.where(src.path, key=True)
    close = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "known columns: " + ", ".join(sorted(known))
    return (src.doc.path, line, col, code, message, hint)


def _sql_diag(src: Src, text: str, exc: SqlFilterError) -> Diagnostic:
    """Point into the SQL text at the problem; at the value when the spot is not known."""
    line, col = src.doc.where(src.path)
    _, node = src.doc.node(src.path)
    offset = getattr(exc, "offset", None)
    if offset is not None and node is not None:
        line, col = _position_in_scalar(node, text, offset) or (line, col)
    return Diagnostic(src.doc.path, line, col, "E309", f"SQL filter: {exc.message}",
                      "sql: accepts a condition on customer columns and facts only")


def _position_in_scalar(node, text: str, offset: int) -> tuple[int, int] | None:
    """1-based (line, col) in the YAML source of character `offset` of a scalar's value.

    The value is laid out again from the source lines the scalar spans: quotes and
    escapes ('' and backslash sequences) take more source characters than value
    characters, and line breaks fold into a space (a newline for each blank line) except
    in literal `|` blocks. The spot found must hold the value's character; None when it
    does not (then the diagnostic points at the value itself).
    """
    start, end, buf, style = node.start_mark, node.end_mark, node.start_mark.buffer, node.style
    if buf is None or not 0 <= offset < len(text):
        return None
    pieces: list[tuple[int, int, str]] = []  # (0-based line, 0-based col, source text)
    if style in ("|", ">"):
        header_end = buf.find("\n", start.pointer)
        if header_end < 0 or any(c.isdigit() for c in buf[start.pointer:header_end]):
            return None  # an explicit indentation indicator: not worth guessing
        lines = buf[header_end + 1:end.pointer].split("\n")
        filled = [ln for ln in lines if ln.strip()]
        indent = len(filled[0]) - len(filled[0].lstrip(" ")) if filled else 0
        pieces = [(start.line + 1 + k, indent, ln[indent:]) for k, ln in enumerate(lines)]
    else:
        quote = 1 if style in ("'", '"') else 0
        lines = buf[start.pointer + quote:end.pointer - quote].split("\n")
        for k, ln in enumerate(lines):
            a = len(ln) - len(ln.lstrip(" \t")) if k else 0
            b = len(ln.rstrip(" \t")) if k < len(lines) - 1 else len(ln)
            pieces.append((start.line + k, (start.column + quote if k == 0 else 0) + a, ln[a:b]))
    pos, blank, joined, started = 0, 0, False, False
    for line, col, piece in pieces:
        if style == "|":
            pos += started
        elif not piece:
            blank += started
            continue
        else:
            pos += 0 if not started or joined else blank or 1
            blank, joined = 0, False
            if style == '"' and (len(piece) - len(piece.rstrip("\\"))) % 2:
                piece, joined = piece[:-1], True  # an escaped line break joins the lines
        started = True
        i = 0
        while i < len(piece) and pos <= offset:
            if pos == offset:
                ok = piece[i] == text[offset] or (style == '"' and piece[i] == "\\")
                return (line + 1, col + i + 1) if ok else None
            if style == "'" and piece.startswith("''", i):
                i += 2
            elif style == '"' and piece[i] == "\\":
                i += {"x": 4, "u": 6, "U": 10}.get(piece[i + 1:i + 2], 2)
            else:
                i += 1
            pos += 1
        if pos > offset:
            return None
    return None


def _segment_cycles(plan: Plan) -> list[Diagnostic]:
    graph = {s.id: segment_refs(s.where) for s in plan.segments}
    out = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                seg = plan.segment(nxt)
                out.append(seg.src.diag("E310", "segments refer to each other in a circle: "
                                        + " -> ".join(cycle)))
            elif state.get(nxt) is None:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for sid in sorted(graph):
        if sid not in state:
            visit(sid, [sid])
    return out


def check_activities(plan: Plan, channels: Iterable[str]) -> list[Diagnostic]:
    out = []
    channels = set(channels)  # names of the plugin manager's channels (crmspec.plugins)
    stages = {s.id for s in plan.stages}
    segs = {s.id for s in plan.segments}
    kpis = {k.id for k in plan.kpis}
    for a in plan.activities:
        if a.segment not in segs:
            out.append(_unknown(a.src.at("segment"), "segment", a.segment, segs))
        if a.channel not in channels:
            out.append(_unknown(a.src.at("channel"), "channel", a.channel, channels))
        raw_stage = a.src.doc.data["activities"][a.src.path[1]]["stage"]
        for i, st in enumerate(a.stages):
            if st not in stages:
                where = a.src.at("stage", i) if isinstance(raw_stage, list) else a.src.at("stage")
                out.append(_unknown(where, "stage", st, stages))
        if a.kpi is not None and a.kpi not in kpis:
            out.append(_unknown(a.src.at("kpi"), "KPI", a.kpi, kpis))
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
        if t.holiday is not None and t.holiday not in plan.holidays:
            return [_unknown(src.at("holiday"), "holiday", t.holiday, plan.holidays)]
        if t.holiday is None and not t.dates:
            return [src.diag("E203", "a calendar trigger needs `holiday` or `dates`",
                             "holidays and promotions are listed in plans/calendar.yaml")]
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
    per_stage: dict[str, Counter] = {s.id: Counter() for s in plan.stages}
    for a in plan.activities:
        for st in a.stages:
            if st in per_stage:
                per_stage[st][a.kind] += 1
    bounds = plan.shop.maintenance_share
    for s in plan.stages:
        if not s.maintenance_required:
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


def check_kpis_and_sops(plan: Plan) -> list[Diagnostic]:
    out = []
    acts = {a.id for a in plan.activities}
    kpis = {k.id for k in plan.kpis}
    for k in plan.kpis:
        if "activity" in k.params and k.params["activity"] not in acts:
            out.append(_unknown(k.src.at("activity"), "activity", k.params["activity"], acts))
    kp = plan.files.documents.get("kpis")
    for i, kid in enumerate(plan.monitoring):
        if kid not in kpis and kp is not None:
            out.append(_unknown(Src(kp, ("monitoring", "kpis", i)), "KPI", kid, kpis))
    seen: dict[str, Src] = {}
    for sop in plan.sops:
        if sop.activity not in acts:
            out.append(_unknown(sop.src.at("activity"), "activity", sop.activity, acts))
        elif sop.activity in seen:
            out.append(sop.src.at("activity").diag(
                "E302", f"a second SOP for activity '{sop.activity}' "
                f"(first: {seen[sop.activity].doc.path})"))
        else:
            seen[sop.activity] = sop.src
        metric = sop.data.get("portrait", {}).get("metric")
        if metric is not None and metric not in kpis:
            out.append(_unknown(sop.src.at("portrait", "metric"), "KPI", metric, kpis))
    return out


def check_data_mapping(plan: Plan) -> list[Diagnostic]:
    """shop.yaml data.columns maps canonical columns: each key must be one."""
    out = []
    ds = plan.shop.data
    for table, mapping in ds.columns.items():
        known = {c.name for c in TABLES[table]}
        for col in mapping:
            if col not in known:
                out.append(Diagnostic(*_relocate_key(
                    ds.src.at("columns", table, col), "E301",
                    f"'{col}' is not a column of the canonical {table} table", known, col)))
    return out


def check_shop(plan: Plan) -> list[Diagnostic]:
    """The timezone must be one the IANA database (and so DuckDB) knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(plan.shop.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        src = plan.shop.src.at("timezone")
        return [src.diag("E201", f"unknown timezone '{plan.shop.timezone}'",
                         "use an IANA name such as Asia/Shanghai")]
    return []


def check_plan(plan: Plan, channels: Iterable[str]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out += _duplicates(plan.tiers, "tier")
    out += _duplicates(plan.stages, "stage")
    out += _duplicates(plan.segments, "segment")
    out += _duplicates(plan.activities, "activity")
    out += _duplicates(plan.kpis, "KPI")
    out += check_shop(plan)
    out += check_lifecycle(plan)
    out += check_tiers(plan)
    out += check_segments(plan)
    out += check_activities(plan, channels)
    out += check_contact_rules(plan)
    out += check_kpis_and_sops(plan)
    from crmspec.kpi import check_kpis  # the KPI engine owns its parameter rules

    out += check_kpis(plan)
    out += check_data_mapping(plan)
    return out
