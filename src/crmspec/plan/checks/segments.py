"""Segments: references to stages, tiers, columns and other segments, `sql:` filters
checked by `crmspec.safesql` and located in the YAML to the character, and segments
that refer to each other in a circle."""

from __future__ import annotations

from crmspec.core.diagnostics import Diagnostic, Src
from crmspec.data.present import data_tables
from crmspec.data.tables import CUSTOMERS, filter_columns
from crmspec.plan.checks.references import relocate_key, unknown_reference
from crmspec.plan.model import Plan
from crmspec.safesql import SqlFilterError, parse_filter


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


# Intent signals that come from the orders, not the events table.
ORDER_SIGNALS = ("unpaid_order",)


def check_events_present(plan: Plan) -> list[Diagnostic]:
    """Intent conditions read the events table: refused when the shop's data has none
    (an empty result would look like a quiet week). Only when the data is there to look
    at: a fresh clone without data/ is checked by the build."""
    reads = [(seg, src) for seg in plan.segments if seg.where
             for key, value, src in _walk_conditions(seg.where, seg.src.at("where"))
             if key == "intent" and set(value.get("events", ())) - set(ORDER_SIGNALS)]
    if not reads:
        return []
    tables = data_tables(plan.shop.data, plan.files.root)
    if tables is None or "events" in tables:
        return []
    return [src.diag("E406", f"segment '{seg.id}' reads intent events, but the shop's data "
                     "has no events table", "export the events (docs/data.md), or use only "
                     "unpaid_order (from the orders) in intent conditions")
            for seg, src in reads]


def check_segments(plan: Plan) -> list[Diagnostic]:
    out = []
    stages, tiers, segs = plan.known("stage"), plan.known("tier"), plan.known("segment")
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
                        out.append(unknown_reference(src.at(i) if isinstance(value, list) else src,
                                                     "stage", v, stages))
            elif key in ("tier", "tier_at_least"):
                allowed = tiers | ({"none"} if key == "tier" else set())
                for i, v in enumerate(values):
                    if v not in allowed:
                        out.append(unknown_reference(src.at(i) if isinstance(value, list) else src,
                                                     "tier", v, allowed))
            elif key in ("in_segment", "not_in_segment"):
                for i, v in enumerate(values):
                    s = src.at(i) if isinstance(value, list) else src
                    if v not in segs:
                        out.append(unknown_reference(s, "segment", v, segs))
                    elif v == seg.id:
                        out.append(s.diag("E310", f"segment '{seg.id}' refers to itself"))
            elif key == "attributes":
                for col in value:
                    if col not in customer_cols:
                        out.append(Diagnostic(*relocate_key(
                            src.at(col), "E301", f"unknown customer column '{col}'",
                            customer_cols, col)))
            elif key == "sql":
                try:
                    parse_filter(value, columns)
                except SqlFilterError as exc:
                    out.append(_sql_diag(src, value, exc))
    out.extend(_segment_cycles(plan))
    return out


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
