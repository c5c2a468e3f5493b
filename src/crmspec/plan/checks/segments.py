"""Segments: references to stages, tiers, columns and other segments, `sql:` filters
checked by `crmspec.safesql` and located in the YAML to the character, and segments
that refer to each other in a circle."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from crmspec.core.diagnostics import Diagnostic, Src
from crmspec.data.present import data_tables
from crmspec.data.tables import CUSTOMERS, filter_columns
from crmspec.plan.checks.references import relocate_key, unknown_reference
from crmspec.plan.model import Plan

if TYPE_CHECKING:
    from crmspec.safesql import SqlFilterError

CUSTOMER_TYPES = {c.name: c.type for c in CUSTOMERS}


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
    customer_cols = set(CUSTOMER_TYPES)
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
                    else:
                        out.extend(_attribute_types(col, value[col], src.at(col)))
            elif key == "sql":
                # only a plan with a sql: filter loads sqlglot, and DuckDB for the trial
                # bind (0.2 s of CPU: two thirds of a validate without them)
                from crmspec.safesql import SqlFilterError, parse_filter

                try:
                    parse_filter(value, columns)
                except SqlFilterError as exc:
                    out.append(_sql_diag(src, value, exc))
    growth = _segment_growth(plan)
    out.extend(growth)
    if not growth:  # a chain too deep would make the circle search recurse too deep
        out.extend(_segment_cycles(plan))
    return out


# What a test value of each customer column type must be, as YAML gives it.
_KINDS = {"INTEGER": "a whole number", "BOOLEAN": "true or false", "DATE": "a date (YYYY-MM-DD)",
          "TIMESTAMP": "a date or time (YYYY-MM-DD[ HH:MM[:SS]])", "VARCHAR": "text"}


def _fits(sql_type: str, v) -> bool:
    if sql_type == "INTEGER":
        return isinstance(v, int) and not isinstance(v, bool) and -2**31 <= v < 2**31
    if sql_type == "BOOLEAN":
        return isinstance(v, bool)
    if sql_type in ("DATE", "TIMESTAMP"):
        if not isinstance(v, str):
            return False
        try:
            (date.fromisoformat if sql_type == "DATE" else datetime.fromisoformat)(v)
        except ValueError:
            return False
        return True
    if sql_type == "VARCHAR":
        return isinstance(v, str)
    return isinstance(v, (int, float)) and not isinstance(v, bool)  # DECIMAL, DOUBLE


def _attribute_types(column: str, test, src: Src) -> list[Diagnostic]:
    """E201 for a test value the column's type cannot hold (`city_tier: abc`,
    `birthday: 5`, `opt_out_sms: maybe`): it would fail when the build compares it."""
    sql_type = CUSTOMER_TYPES[column]
    values: list[tuple[object, Src]] = []
    if isinstance(test, list):
        values = [(v, src.at(i)) for i, v in enumerate(test)]
    elif isinstance(test, dict):
        if "not" in test:
            nots = test["not"]
            values = ([(v, src.at("not", i)) for i, v in enumerate(nots)]
                      if isinstance(nots, list) else [(nots, src.at("not"))])
        for bound in ("min", "max"):
            if test.get(bound) is not None:
                values.append((test[bound], src.at(bound)))
    else:
        values = [(test, src)]
    kind = _KINDS.get(sql_type, "a number")
    return [at.diag("E201", f"attribute '{column}' is {kind} ({sql_type}): {v!r} is not",
                    "write the value in the column's type"
                    + ("; quote it to compare as text" if sql_type == "VARCHAR" else ""))
            for v, at in values if not _fits(sql_type, v)]


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


# Segments compile to one condition each, with the segments they name (in_segment,
# not_in_segment) copied in: a chain of references, or a segment named by several
# others that name it again, multiplies a plan's SQL (20 segments naming the two before
# them would make millions of tests). docs/security.md, Limits.
MAX_SEGMENT_DEPTH = 32  # segments inside segments
MAX_SEGMENT_TESTS = 10_000  # tests in one segment once the segments it names are copied in


def _segment_growth(plan: Plan) -> list[Diagnostic]:
    """E314 for a segment nested more than MAX_SEGMENT_DEPTH deep or whose condition,
    the segments it names copied in, has more than MAX_SEGMENT_TESTS tests. Iterative
    (no recursion whatever the chain); references in a circle are left to E310."""
    graph = {s.id: sorted(segment_refs(s.where)) for s in plan.segments}
    own = {s.id: max(1, sum(1 for _ in _walk_conditions(s.where, s.src.at("where"))))
           if s.where else 1 for s in plan.segments}
    depth: dict[str, int] = {}
    tests: dict[str, int] = {}
    for start in sorted(graph):
        stack, open_ = [(start, 0)], {start}
        while stack:
            node, i = stack.pop()
            kids = [k for k in graph[node] if k in graph and k != node]
            if i < len(kids):
                stack.append((node, i + 1))
                kid = kids[i]
                if kid not in depth and kid not in open_:
                    open_.add(kid)
                    stack.append((kid, 0))
                continue
            done = [k for k in kids if k in depth]  # a kid still open: a circle (E310)
            depth[node] = 1 + max((depth[k] for k in done), default=0)
            tests[node] = min(own[node] + sum(tests[k] for k in done), 10 * MAX_SEGMENT_TESTS)
            open_.discard(node)
    deep = {sid for sid, d in depth.items() if d > MAX_SEGMENT_DEPTH}
    large = {sid for sid in depth if sid not in deep and tests[sid] > MAX_SEGMENT_TESTS}
    parents: dict[str, list[str]] = {}
    for sid, kids in graph.items():
        for kid in kids:
            parents.setdefault(kid, []).append(sid)
    out = []
    for seg in plan.segments:
        # Only the innermost segment over a limit: those naming it are over it because
        # of it (a chain of 3,000 is one error, not 2,968).
        if seg.id in deep and not deep.intersection(graph[seg.id]):
            out.append(seg.src.diag(
                "E314", f"segment '{seg.id}' is nested {depth[seg.id]} segments deep through "
                f"in_segment/not_in_segment; at most {MAX_SEGMENT_DEPTH} are allowed"
                f"{_also_over(seg.id, parents, deep)}",
                "name the conditions the chain shares in fewer segments (docs/security.md, "
                "Limits)"))
        elif seg.id in large and not large.intersection(graph[seg.id]):
            shown = f"{tests[seg.id]:,}" if tests[seg.id] < 10 * MAX_SEGMENT_TESTS else \
                f"more than {10 * MAX_SEGMENT_TESTS:,}"
            out.append(seg.src.diag(
                "E314", f"segment '{seg.id}' has {shown} tests once the segments it names "
                f"are copied in; at most {MAX_SEGMENT_TESTS:,} are allowed"
                f"{_also_over(seg.id, parents, large)}",
                "a segment named by several others is copied into each: name it once "
                "(docs/security.md, Limits)"))
    return out


def _also_over(sid: str, parents: dict[str, list[str]], over: set[str]) -> str:
    """How many other segments over the same limit name `sid`, directly or not."""
    seen, todo = {sid}, [sid]
    while todo:
        node = todo.pop()
        for parent in (p for p in parents.get(node, ()) if p in over and p not in seen):
            seen.add(parent)
            todo.append(parent)
    n = len(seen) - 1
    return f" ({n:,} more segment{'s' if n != 1 else ''} naming it, directly or not, " \
        "over the limit because of it)" if n else ""


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
