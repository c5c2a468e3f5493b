"""Rendering for a build, without a Python loop over customers. Each use of a per-customer
variable is classified by looking at the template's syntax tree:
- printed as is (`{{ customer.name }}`, also `{{ x or '亲' }}` and `{{ a if x else b }}`):
  the value never influences the template's logic, so the template is rendered with a
  placeholder (a private-use character marker) that SQL later replaces with the column;
- only tested for truth (`{% if customer.name %}`): the key gets the column's truth
  value (two values), the placeholder carries that truth value;
- anything else (compared, filtered, used in a loop...): the value is part of the key.
The template is rendered once per DISTINCT key among the activity's send rows (stage,
tier and the keyed values; often a few dozen combinations for a million customers);
each row picks its rendering from the list of them by its key's position (a join with
a table of them when there are many), and nested `replace()` calls put each customer's
values in place. The rows come out in customer order (`create_rows`).
`tests/test_templates.py` checks the result against plain per-customer Jinja rendering,
including values full of quotes, HTML and markers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from crmspec.channels.base import sql_ident, sql_str, value_marker
from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.core.mask import mask_text
from crmspec.plan.model import Activity, Plan
from crmspec.templates.analysis import KEY, TEST, Ref, role_of
from crmspec.templates.checking import template_context, template_name
from crmspec.templates.loading import ActivityTemplates, located_error
from crmspec.templates.variables import CONSTANT_OBJECTS, CONSTANTS, KEYED_OBJECTS, PER_CUSTOMER

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"  # private-use characters, never in real text

# Up to this many distinct keys, a row finds its rendering by its key's position in the
# list of keys (list_position: a linear search per row, cheap for a few dozen); with
# more, by a join with a table of them, which does not keep the rows' order, so they
# are sorted after it.
LOOKUP_MAX = 64



class Marker(str):
    """A placeholder for a per-customer value, with that value's truth."""

    truth: bool = True

    def __new__(cls, text: str, truth: bool = True):
        obj = super().__new__(cls, text)
        obj.truth = truth
        return obj

    def __bool__(self) -> bool:
        return self.truth


def _marker(i: int) -> str:
    return f"{MARK_OPEN}{i}{MARK_CLOSE}"


@dataclass
class RenderPlan:
    """How an activity's parts are rendered: which values key, which are placeholders."""

    keys: list[str]  # paths whose value is part of the key (incl. stage, tier)
    truth: list[str]  # paths whose truth is part of the key
    columns: list[str]  # paths printed through a placeholder

    @classmethod
    def of(cls, at: ActivityTemplates) -> "RenderPlan":
        by_path: dict[str, list[Ref]] = {}
        for r in at.refs():
            by_path.setdefault(r.path, []).append(r)
        keys, truth, columns = set(), set(), set()
        for path, refs in by_path.items():
            top = path.split(".", 1)[0]
            if top in CONSTANT_OBJECTS or path in CONSTANTS:
                continue
            if top in KEYED_OBJECTS:
                keys.add(top)
                continue
            if path == "customer":  # the whole object: every field is needed
                keys.update(p for p in PER_CUSTOMER if p.startswith("customer."))
                continue
            role = role_of(refs)
            if role == KEY:
                keys.add(path)
            elif role == TEST:
                truth.add(path)
                columns.add(path)
            else:
                columns.add(path)
        columns -= keys
        truth -= keys
        return cls(sorted(keys), sorted(truth), sorted(columns))

    def key_column(self, path: str) -> str:
        return KEYED_OBJECTS[path][0] if path in KEYED_OBJECTS else PER_CUSTOMER[path].column

    def needed_columns(self) -> list[str]:
        return sorted({self.key_column(p) for p in self.keys + self.columns})


def _is_text(sql_type: str) -> bool:
    return sql_type.upper().startswith(("VARCHAR", "TEXT", "STRING"))


def _strip_sql(text_sql: str) -> str:
    """Text without the placeholder characters (two replaces: cheaper than a regexp)."""
    return f"replace(replace({text_sql}, '{MARK_OPEN}', ''), '{MARK_CLOSE}', '')"


def _clean_sql(column: str, sql_type: str) -> str:
    """A key column as the template sees it: text without the placeholder characters."""
    c = f"f.{sql_ident(column)}"
    return _strip_sql(c) if _is_text(sql_type) else c


def _truth_sql(column: str, sql_type: str) -> str:
    c = f"f.{sql_ident(column)}"
    t = sql_type.upper()
    if _is_text(t):  # the value as printed: markers removed
        return f"coalesce({_strip_sql(c)} <> '', false)"
    if t.startswith(("INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "DECIMAL", "DOUBLE",
                     "FLOAT", "REAL", "UBIGINT", "UINTEGER", "NUMERIC")):
        return f"coalesce({c} <> 0, false)"
    if t.startswith("BOOLEAN"):
        return f"coalesce({c}, false)"
    return f"({c} IS NOT NULL)"


def _html_escaped(text_sql: str) -> str:
    """What markupsafe.escape does, in SQL."""
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"),
                     ("'", "&#39;")):
        text_sql = f"replace({text_sql}, {sql_str(old)}, {sql_str(new)})"
    return text_sql


def _value_sql(column: str, html: bool) -> str:
    v = f"coalesce({_strip_sql(f'CAST(f.{sql_ident(column)} AS VARCHAR)')}, '')"
    return _html_escaped(v) if html else v


@dataclass
class RenderResult:
    parts: tuple[str, ...]  # rendered parts (msg_<part> columns)
    renderings: int  # distinct renderings


def create_send_values(con, loaded: dict[str, ActivityTemplates],
                       name: str = "send_values") -> str:
    """One join of the send rows (`sends`, status 'send') of the activities in `loaded`
    with the `features` columns their templates read: activity_id, customer_id, address
    and those columns.

    `create_rows(..., values=name)` then reads this narrow table instead of joining the
    whole `features` table once per activity (at 1M customers a join costs about as much
    as the rest of an activity's rendering). Returns the table's quoted name.
    """
    cols = sorted({c for at in loaded.values() if at.parts
                   for c in RenderPlan.of(at).needed_columns()} - {"customer_id"})
    table = sql_ident(name)
    picked = "".join(f", f.{sql_ident(c)}" for c in cols)
    ids = ", ".join(sql_str(a) for a in sorted(loaded)) or "NULL"
    # In activity and customer order: zone maps skip the other activities, and each
    # activity's rows come out of `create_rows` in customer order without a sort there.
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT s.activity_id, s.customer_id, "
                f"s.address{picked} FROM sends AS s JOIN features AS f USING (customer_id) "
                f"WHERE s.status = 'send' AND s.activity_id IN ({ids}) "
                "ORDER BY s.activity_id, s.customer_id")
    return table


def create_rows(con, plan: Plan, activity: Activity, table: str, at: ActivityTemplates | None,
                as_of: date, values: str | None = None) -> RenderResult:
    """CREATE `table`, the activity's narrow send table: customer_id, address and the
    rendered msg_<part>s of its send rows (`sends`, status 'send').

    Narrow on purpose: writers read it through `WriteContext.rows`, a view joining it with
    `features`, so a 1M-row activity never copies every customer column. Rows deleted
    from it (final decisions after rendering) disappear from that view too. `values`: a
    table made by `create_send_values` (rendering many activities), else `sends` is joined
    with `features` here.

    The table is stored in customer order, so that a writer selecting from it alone
    gets its rows in file order without sorting them (`WriteContext.table`): from
    `values`, already in that order, by SELECT and WHERE only, which keep a table's
    order (DuckDB's documentation, "Order Preservation"); otherwise sorted here.
    """
    if values is not None:  # f: the activity's rows of the shared send-values table
        frm, cond = f"{values} AS f", f"f.activity_id = {sql_str(activity.id)}"
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {values}").fetchall()}
    else:
        frm = (f"(SELECT s.customer_id, s.address, f.* EXCLUDE (customer_id) FROM sends AS s "
               f"JOIN features AS f USING (customer_id) WHERE s.activity_id = "
               f"{sql_str(activity.id)} AND s.status = 'send') AS f")
        cond = "true"
    ordered = values is not None  # `frm`'s rows are in customer order
    if at is None or not at.parts:
        where = f"WHERE s.activity_id = {sql_str(activity.id)} AND s.status = 'send'"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT s.customer_id, s.address "
                    f"FROM sends AS s {where} ORDER BY s.customer_id")
        return RenderResult((), 0)
    rp = RenderPlan.of(at)
    if values is None:
        types = {r[0]: r[1] for r in con.execute("DESCRIBE features").fetchall()}
    key_exprs = [_clean_sql(rp.key_column(p), types[rp.key_column(p)]) for p in rp.keys]
    key_exprs += [_truth_sql(rp.key_column(p), types[rp.key_column(p)]) for p in rp.truth]
    key_types = [types[rp.key_column(p)] for p in rp.keys] + ["BOOLEAN"] * len(rp.truth)
    if key_exprs:
        combos = con.execute(
            "SELECT DISTINCT " + ", ".join(f"{e} AS k{i}" for i, e in enumerate(key_exprs))
            + f" FROM {frm} WHERE {cond} ORDER BY ALL").fetchall()
    else:
        combos = [()]
    marker_of = {p: _marker(i) for i, p in enumerate(rp.columns)}
    part_names = tuple(sorted(at.parts))
    rendered: dict[str, list[str]] = {p: [] for p in part_names}
    for combo in combos:
        values: dict[str, Any] = {}
        for i, p in enumerate(rp.keys):
            values[p] = combo[i]
        truth = {p: combo[len(rp.keys) + i] for i, p in enumerate(rp.truth)}
        for p in rp.columns:
            values[p] = Marker(marker_of[p], truth.get(p, True))
        ctx = template_context(values, plan, activity, as_of, at.channel)
        for name in part_names:
            lp = at.parts[name]
            try:
                text = lp.template.render(ctx)
            except Exception as exc:  # noqa: BLE001
                line, msg = located_error(exc, lp.source, template_name(lp))
                shown = ", ".join(f"{p}={values[p]!r}" for p in rp.keys)
                raise PlanError([lp.source.diag(
                    line, "E515", mask_text(f"the template fails to render for activity "
                                            f"'{activity.id}' ({shown or 'no key'}): {msg}"))]
                ) from None
            rendered[name].append(at.channel.finish(name, text, activity, at.options, plan))
    msg_cols = []
    for name in part_names:
        html = at.parts[name].part.html
        used = {r.path for r in at.parts[name].usage.refs}
        if key_exprs:
            expr = (f"f.{sql_ident('__p_' + name)}" if len(combos) <= LOOKUP_MAX
                    else f"c.{sql_ident('p_' + name)}")
        else:
            expr = sql_str(rendered[name][0])
        for p in rp.columns:
            if p in used:
                expr = (f"replace({expr}, {sql_str(marker_of[p])}, "
                        f"{_value_sql(rp.key_column(p), html)})")
        for value in at.channel.recipient_values:  # printed, or added by finish()
            marker = value_marker(value)
            if any(marker in text for text in rendered[name]):
                filled = at.channel.recipient_value_sql(value, at.options, plan)
                expr = (f"replace({expr}, {sql_str(marker)}, "
                        f"{_html_escaped(filled) if html else filled})")
        msg_cols.append(f"{expr} AS {sql_ident('msg_' + name)}")
    select = f"SELECT f.customer_id, f.address, {', '.join(msg_cols)}"
    order = "" if ordered else " ORDER BY f.customer_id"
    if key_exprs and len(combos) <= LOOKUP_MAX:
        # Each row's rendering by its key's position among the keys: no join, so the
        # rows keep `frm`'s order. Struct equality treats NULL fields as equal, as the
        # keys' DISTINCT did (IS NOT DISTINCT FROM).
        struct = ", ".join(f"k{i} {t}" for i, t in enumerate(key_types))
        packed = ", ".join(f"k{i} := {e}" for i, e in enumerate(key_exprs))
        picked = "".join(f", (${j + 2}::VARCHAR[])[f.__combo] AS {sql_ident('__p_' + n)}"
                         for j, n in enumerate(part_names))
        params = [[{f"k{i}": v for i, v in enumerate(c)} for c in combos]]
        params += [rendered[n] for n in part_names]
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS {select} FROM (SELECT f.*{picked} "
            f"FROM (SELECT f.*, list_position($1::STRUCT({struct})[], struct_pack({packed})) "
            f"AS __combo FROM {frm} WHERE {cond}) AS f) AS f{order}", params)
    elif key_exprs:
        ctable = sql_ident(f"combos_{activity.id}")
        cols = [f"unnest(${i + 1}::{t}[]) AS k{i}" for i, t in enumerate(key_types)]
        cols += [f"unnest(${len(key_types) + j + 1}::VARCHAR[]) AS {sql_ident('p_' + n)}"
                 for j, n in enumerate(part_names)]
        params = [[c[i] for c in combos] for i in range(len(key_types))]
        params += [rendered[n] for n in part_names]
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ctable} AS SELECT {', '.join(cols)}",
                    params)
        join = " AND ".join(f"c.k{i} IS NOT DISTINCT FROM {e}" for i, e in enumerate(key_exprs))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select} FROM {frm} "
                    f"JOIN {ctable} AS c ON {join} WHERE {cond} ORDER BY f.customer_id")
        con.execute(f"DROP TABLE {ctable}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select} FROM {frm} "
                    f"WHERE {cond}{order}")
    return RenderResult(part_names, len(combos))


def template_needs(loaded: dict[str, ActivityTemplates]) -> list[tuple[str, Any]]:
    """(customer column, plan place) pairs the templates read, for the data check."""
    out = []
    for at in loaded.values():
        for col in RenderPlan.of(at).needed_columns():
            out.append((col, at.activity.src.at("template")))
    return out


def template_columns(loaded: dict[str, ActivityTemplates]) -> list[str]:
    """The columns of `features` the templates read (compile_plan's `reads`)."""
    return sorted({col for col, _ in template_needs(loaded)})


def over_limit(con, table: str, at: ActivityTemplates | None, parts: tuple[str, ...]
               ) -> tuple[str | None, list[Diagnostic]]:
    """The rows of `table` whose message is longer than the channel allows (a condition
    over the table, None: no row is), and W520 per part that has such rows, counted in
    SQL. A value only the real data has (a name of a million characters, a branch only
    some customers reach) must not multiply a message's size and cost: such a message
    is not sent (docs/security.md)."""
    if at is None:
        return None, []
    checks = []
    for name in parts:
        lp = at.parts[name]
        limit = at.channel.limit(lp.part, at.options)
        if limit is not None:
            extra = at.channel.length_overhead(name, at.options, at.activity)
            checks.append((lp, limit, f"length({sql_ident('msg_' + name)}) + {extra} > {limit}"))
    if not checks:
        return None, []
    filters = ", ".join(f"count(*) FILTER (WHERE {c[2]})" for c in checks)
    counts = con.execute(f"SELECT count(*), {filters} FROM {table}").fetchone()
    out, conds = [], []
    for (lp, limit, cond), n in zip(checks, counts[1:], strict=True):
        if n:
            conds.append(cond)
            note = at.channel.limit_note(lp.part, at.options)
            out.append(lp.source.diag(
                1, "W520", f"{n} of {counts[0]} {at.channel.name} {lp.part.name} messages of "
                f"activity '{at.activity.id}' are longer than {limit} characters"
                + (f", the limit of {note}," if note else "") + " with the real data: not sent "
                "(message_too_long), and not paid for",
                "a value longer than the plausible ones validate assumes "
                "(docs/security.md); shorten the template or raise the limit"))
    return (" OR ".join(f"({c})" for c in conds) if conds else None), out


def describe(rp: RenderPlan) -> dict:
    return {"keys": rp.keys, "truth": rp.truth, "placeholders": rp.columns}
