"""Message templates: found next to the plan, checked by `validate`, rendered set-based.

Files. An activity says `template: review_reward`; its channel's message parts come from
`plans/templates/review_reward.<channel>.<part>.j2`, and a single-part channel's part
also from `review_reward.<channel>.j2` (an SMS: `review_reward.sms.j2`). Parts a
channel declares with an `option` (the email subject and preheader) may instead be
given as one-line templates in `channel_options`, which win over a file.

Language. Jinja2 in a sandboxed environment, StrictUndefined (a misspelt variable is an
error, never an empty string), `trim_blocks`/`lstrip_blocks` (a line holding only a tag
leaves no blank line), autoescape for HTML parts, None rendered as an empty string.
The variables (`VARIABLES`, documented in docs/plugins.md): customer (id, name, nick,
gender, province, city_tier, birthday), stage (id, name), customer_type, tier (id,
name, discount; all None below every tier), purchases, spend,
days_since_last_purchase, r, f, m, next_tier (id, name, discount, min_spend),
coupon (the activity's), shop (name, currency),
activity (id, name), as_of. Filter `zhe`: 0.95 -> 95折. Templates may not include,
extend or import other templates (the analysis below needs to see every variable use).

Checks (validate). A syntax error, an undefined variable or field (found statically in
every branch, and by rendering), a template assigning a variable's name, and a message
longer than the channel allows for the longest plausible values: each a diagnostic at
the template file's line.

Rendering (build), without a Python loop over customers. Each use of a per-customer
variable is classified by looking at the template's syntax tree:
- printed as is (`{{ customer.name }}`, also `{{ x or '亲' }}` and `{{ a if x else b }}`):
  the value never influences the template's logic, so the template is rendered with a
  placeholder (a private-use character marker) that SQL later replaces with the column;
- only tested for truth (`{% if customer.name %}`): the key gets the column's truth
  value (two values), the placeholder carries that truth value;
- anything else (compared, filtered, used in a loop...): the value is part of the key.
The template is rendered once per DISTINCT key among the activity's send rows (stage,
tier and the keyed values; often a few dozen combinations for a million customers);
the renderings land in a DuckDB table joined back to the rows, and nested `replace()`
calls put each customer's values in place. `tests/test_templates.py` checks the result
against plain per-customer Jinja rendering, including values full of quotes, HTML and
markers.
"""

from __future__ import annotations

import difflib
import traceback
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import product
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from crmspec.channels import Channel
from crmspec.channels.base import Part, sql_ident, sql_str
from crmspec.diagnostics import Diagnostic, PlanError
from crmspec.mask import mask_text
from crmspec.model import Activity, Plan, channel_options

TEMPLATE_DIR = "plans/templates"
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"  # private-use characters, never in real text


# --- the variables ------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    path: str  # as written in templates: customer.name, spend
    column: str | None  # features column for per-customer values
    doc: str
    longest: Any  # the longest plausible value (validate's length check)
    nullable: bool = True


_LONG_NICK = "小" + "甜" * 18 + "呀"  # 20 characters: Taobao nicks are at most 20-25
PER_CUSTOMER: dict[str, Var] = {v.path: v for v in (
    Var("customer.id", "customer_id", "Customer id (the platform's buyer id).", "b" * 20,
        nullable=False),
    Var("customer.name", "name", "Real name, or None.", "欧阳慧敏"),
    Var("customer.nick", "nick", "Platform nickname, or None.", _LONG_NICK),
    Var("customer.gender", "gender", "'F', 'M' or None.", "F"),
    Var("customer.province", "province", "Province in Chinese (浙江), or None.", "黑龙江"),
    Var("customer.city_tier", "city_tier", "City tier 1-4, 5 rural, or None.", 5),
    Var("customer.birthday", "birthday", "Date of birth (a date), or None.",
        date(1990, 12, 31)),
    Var("customer_type", "customer_type", "potential, new, returning or fans.", "returning",
        nullable=False),
    Var("purchases", "purchases", "Purchases up to the as-of date.", 999, nullable=False),
    Var("spend", "spend", "Spend counted for tiers (a decimal with 2 places).",
        Decimal("99999.99"), nullable=False),
    Var("days_since_last_purchase", "days_since_last_purchase",
        "Days since the last purchase; None for customers who never bought.", 9999),
    Var("r", "r", "Recency score 1-5 (5 best); None for customers who never bought.", 5),
    Var("f", "f", "Frequency score 1-5; None for customers who never bought.", 5),
    Var("m", "m", "Monetary score 1-5; None for customers who never bought.", 5),
)}
# Per-customer objects looked up in the plan by a key column (few distinct values).
KEYED_OBJECTS = {
    "stage": ("stage", ("id", "name"), "Lifecycle stage: id and name (lifecycle.yaml)."),
    "tier": ("tier", ("id", "name", "discount"),
             "Member tier: id, name, discount (0.95 = 95折); all None below every tier."),
    "next_tier": ("tier", ("id", "name", "discount", "min_spend"),
                  "The tier above the customer's (the lowest one for customers below every "
                  "tier); all None at the top tier."),
}
CONSTANT_OBJECTS = {
    "shop": (("name", "currency"), "The shop (shop.yaml)."),
    "activity": (("id", "name"), "The activity."),
    "coupon": (("name", "amount", "min_spend", "code", "valid_days"),
               "The activity's coupon (activities.yaml coupon); only the fields it sets."),
}
CONSTANTS = {"as_of": "The build's as-of date (a date)."}
CUSTOMER_FIELDS = tuple(p.split(".", 1)[1] for p in PER_CUSTOMER if p.startswith("customer."))
OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "customer": CUSTOMER_FIELDS,
    **{k: v[1] for k, v in KEYED_OBJECTS.items()},
    **{k: v[0] for k, v in CONSTANT_OBJECTS.items()},
}
SCALARS = tuple(p for p in PER_CUSTOMER if "." not in p) + tuple(CONSTANTS)
TOP_NAMES = set(OBJECT_FIELDS) | set(SCALARS)
_JINJA_NAMES = {"loop", "caller", "varargs", "kwargs", "self", "super"}


def variables_doc() -> list[tuple[str, str]]:
    """(variable, meaning) rows for the docs."""
    rows = [(p, v.doc) for p, v in PER_CUSTOMER.items()]
    rows += [(f"{k}.{{{','.join(v[1])}}}", v[2]) for k, v in KEYED_OBJECTS.items()]
    rows += [(f"{k}.{{{','.join(v[0])}}}", v[1]) for k, v in CONSTANT_OBJECTS.items()]
    rows += list(CONSTANTS.items())
    return rows


# --- the environment ----------------------------------------------------------------


def zhe(value) -> str:
    """A price factor as Chinese discount text: 0.95 -> 95折, 0.9 -> 9折; None -> ''."""
    if value is None:
        return ""
    n = int((Decimal(str(value)) * 100).quantize(Decimal(1)))
    return f"{n // 10}折" if n % 10 == 0 else f"{n}折"


def _finalize(value):
    return "" if value is None else value


class TemplateEnvironment(SandboxedEnvironment):
    """The sandboxed Jinja environment of message templates (one per validate/build)."""

    def __init__(self, root: Path, channels: dict[str, Channel]):
        from jinja2 import FileSystemLoader

        self.crmspec_channels = channels
        super().__init__(
            loader=FileSystemLoader(str(root / TEMPLATE_DIR), encoding="utf-8"),
            undefined=StrictUndefined,
            autoescape=self._autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            finalize=_finalize,
            auto_reload=False,
        )
        self.filters["zhe"] = zhe

    def _autoescape(self, name: str | None) -> bool:
        parsed = parse_file_name(name) if name else None
        if not parsed:
            return False
        _, channel, part = parsed
        ch = self.crmspec_channels.get(channel)
        if ch is None:
            return False
        p = ch.part(part or ch.main_part or "")
        return bool(p and p.html)


def make_environment(root: Path, channels: dict[str, Channel], pm=None, plan=None
                     ) -> TemplateEnvironment:
    env = TemplateEnvironment(root, channels)
    if pm is not None:
        from crmspec.plugins import call_hook

        call_hook(pm, "prepare_jinja_environment", env=env, plan=plan)
    return env


def parse_file_name(name: str) -> tuple[str, str, str | None] | None:
    """'x.sms.j2' -> ('x', 'sms', None); 'x.email.html.j2' -> ('x', 'email', 'html')."""
    if not name.endswith(".j2") or "/" in name:
        return None
    bits = name[:-3].split(".")
    if len(bits) == 2 and all(bits):
        return bits[0], bits[1], None
    if len(bits) == 3 and all(bits):
        return bits[0], bits[1], bits[2]
    return None


# --- analysing a template ------------------------------------------------------------

OUTPUT, TEST, KEY = "output", "test", "key"
OUTPUT_TEST = "output+test"  # printed, and its truth tested (`{{ x or '亲' }}`)
_PASS = (OUTPUT, TEST, OUTPUT_TEST)


@dataclass(frozen=True)
class Ref:
    path: str  # customer.name, spend, stage (whole object), customer (whole object)
    line: int
    role: str  # OUTPUT, TEST or KEY


@dataclass
class Usage:
    refs: list[Ref] = field(default_factory=list)
    problems: list[tuple[int, str, str, str | None, str | None]] = field(default_factory=list)
    # (line, code, message, hint, text to point at on the line)

    def top_names(self) -> set[str]:
        return {r.path.split(".", 1)[0] for r in self.refs}


_STRUCTURE = (nodes.Template, nodes.Output, nodes.If, nodes.For)
_FORBIDDEN = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


def analyse(tree: nodes.Template) -> Usage:
    """Every variable use with its role, and the static problems (E513, E517, E512)."""
    usage = Usage()
    stored: dict[str, int] = {}
    for n in tree.find_all((nodes.Name,)):
        if n.ctx in ("store", "param"):
            stored.setdefault(n.name, n.lineno)
    for n in tree.find_all((nodes.Macro,)):
        stored.setdefault(n.name, n.lineno)
    for name, line in sorted(stored.items(), key=lambda x: x[1]):
        if name in TOP_NAMES:
            usage.problems.append((line, "E517", f"the template assigns '{name}', the name of "
                                   "a template variable", "use another name", None))
    for n in tree.find_all(_FORBIDDEN):
        usage.problems.append((n.lineno, "E512", "templates cannot include, extend or import "
                               "other templates", "copy the shared text into the template",
                               None))

    def ref(path: str, node: nodes.Node, role: str) -> None:
        usage.refs.append(Ref(path, node.lineno, role))

    def var_path(node: nodes.Node) -> tuple[str, str] | None:
        """(object, field) of `obj.field` / `obj['field']` on a template object."""
        if isinstance(node, nodes.Getattr):
            target, attr = node.node, node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str):
            target, attr = node.node, node.arg.value
        else:
            return None
        if isinstance(target, nodes.Name) and target.ctx == "load" \
                and target.name in OBJECT_FIELDS and target.name not in stored:
            return target.name, attr
        return None

    def expr(node: nodes.Node, role: str) -> None:
        vp = var_path(node)
        if vp is not None:
            obj, attr = vp
            if attr not in OBJECT_FIELDS[obj]:
                close = difflib.get_close_matches(attr, OBJECT_FIELDS[obj], n=1)
                usage.problems.append((node.lineno, "E513", f"'{obj}' has no field '{attr}'",
                                       f"did you mean '{obj}.{close[0]}'?" if close else
                                       f"{obj} has: " + ", ".join(OBJECT_FIELDS[obj]),
                                       f"{obj}.{attr}"))
                return
            ref(f"{obj}.{attr}", node, role)
            return
        if isinstance(node, nodes.Name):
            if node.ctx != "load":
                return
            if node.name in TOP_NAMES and node.name not in stored:
                ref(node.name, node, role if node.name in SCALARS else KEY)
            elif node.name not in stored and node.name not in _JINJA_NAMES \
                    and node.name not in GLOBAL_NAMES:
                close = difflib.get_close_matches(node.name, sorted(TOP_NAMES), n=1)
                usage.problems.append((node.lineno, "E513", f"undefined variable '{node.name}'",
                                       f"did you mean '{close[0]}'?" if close else
                                       "see the template variables in docs/plugins.md",
                                       node.name))
            return
        if isinstance(node, (nodes.Or, nodes.And)) and role in _PASS:
            # `x or '亲'` prints x when x is true: x is tested and printed, nothing more
            expr(node.left, TEST if role == TEST else OUTPUT_TEST)
            expr(node.right, role)
            return
        if isinstance(node, nodes.Not):
            expr(node.node, TEST)  # only the truth of the operand matters
            return
        if isinstance(node, nodes.CondExpr):
            expr(node.test, TEST)
            expr(node.expr1, role if role in _PASS else KEY)
            if node.expr2 is not None:
                expr(node.expr2, role if role in _PASS else KEY)
            return
        for child in node.iter_child_nodes():
            expr(child, KEY)

    def stmt(node: nodes.Node, structural: bool) -> None:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    expr(child, OUTPUT if structural else KEY)
            return
        if isinstance(node, nodes.If):
            expr(node.test, TEST)
            for child in node.body + node.elif_ + node.else_:
                stmt(child, structural)
            return
        if isinstance(node, nodes.For):
            expr(node.iter, KEY)
            if node.test is not None:
                expr(node.test, KEY)
            for child in node.body + node.else_:
                stmt(child, structural)
            return
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.Stmt) or isinstance(child, nodes.Template):
                stmt(child, False)
            else:
                expr(child, KEY)

    for child in tree.body:
        stmt(child, True)
    return usage


def _role_of(refs: Iterable[Ref]) -> str:
    roles = {r.role for r in refs}
    if KEY in roles:
        return KEY
    return TEST if roles & {TEST, OUTPUT_TEST} else OUTPUT


GLOBAL_NAMES = set(SandboxedEnvironment().globals)


# --- loading an activity's templates ------------------------------------------------


@dataclass
class Source:
    """Where a template's text is: a file, or a one-line template in a YAML value."""

    path: str  # as shown in diagnostics
    line0: int = 1  # line of the text's first line
    col0: int = 1
    text: str = ""

    def where(self, line: int, needle: str | None = None) -> tuple[int, int]:
        """1-based (line, col) in the file of line `line` of the template text."""
        col = 1
        lines = self.text.split("\n")
        if needle and 1 <= line <= len(lines):
            i = lines[line - 1].find(needle)
            if i >= 0:
                col = i + 1
        if line == 1:
            col += self.col0 - 1
        return self.line0 + line - 1, col

    def diag(self, line: int, code: str, message: str, hint: str | None = None,
             needle: str | None = None) -> Diagnostic:
        ln, col = self.where(line, needle)
        return Diagnostic(self.path, ln, col, code, message, hint)


@dataclass
class LoadedPart:
    part: Part
    source: Source
    template: Any  # jinja2.Template
    usage: Usage


@dataclass
class ActivityTemplates:
    """The message parts of one activity, ready to check and render."""

    activity: Activity
    channel: Channel
    options: dict
    parts: dict[str, LoadedPart]

    def refs(self) -> list[Ref]:
        return [r for lp in self.parts.values() for r in lp.usage.refs]


def template_files(root: Path) -> list[str]:
    folder = root / TEMPLATE_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix == ".j2")


def _located_error(exc: BaseException, source: Source, template_name: str | None
                   ) -> tuple[int, str]:
    """(line in the template, text) of a render-time exception."""
    line = 1
    for frame in traceback.extract_tb(exc.__traceback__):
        if template_name and frame.filename and (
                frame.filename == template_name or frame.filename.endswith("/" + template_name)
                or frame.filename.endswith(template_name)):
            line = frame.lineno or 1
        elif not template_name and frame.filename == "<template>":
            line = frame.lineno or 1
    return line, f"{type(exc).__name__}: {exc}" if not isinstance(exc, TemplateError) \
        else str(exc.message if hasattr(exc, "message") else exc)


def _compile(env: TemplateEnvironment, source: Source, name: str | None
             ) -> tuple[Any, Usage] | Diagnostic:
    try:
        tree = env.parse(source.text, name=name, filename=source.path)
    except TemplateSyntaxError as exc:
        return source.diag(exc.lineno or 1, "E512", f"template syntax error: {exc.message}")
    usage = analyse(tree)
    try:
        if name is None:
            template = env.from_string(source.text)
        else:
            template = env.get_template(name)
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found at compile time
        return source.diag(exc.lineno or 1, "E512", f"template error: {exc.message}")
    return template, usage


def load_templates(root: Path, plan: Plan, channels: dict[str, Channel],
                   env: TemplateEnvironment
                   ) -> tuple[dict[str, ActivityTemplates], list[Diagnostic]]:
    """Every activity's templates (activities without one get no entry) and problems."""
    files = template_files(root)
    by_key: dict[tuple[str, str], dict[str | None, str]] = {}
    for f in files:
        parsed = parse_file_name(f)
        if parsed:
            by_key.setdefault((parsed[0], parsed[1]), {})[parsed[2]] = f
    diags: list[Diagnostic] = []
    used: set[tuple[str, str]] = set()
    cache: dict[str, tuple[Any, Usage] | Diagnostic] = {}
    out: dict[str, ActivityTemplates] = {}
    for a in plan.activities:
        ch = channels.get(a.channel)
        if ch is None:
            continue
        options = channel_options(plan, a, ch.option_defaults())
        option_parts = {p.name: p for p in ch.parts if p.option and options.get(p.option)}
        if not a.template and not option_parts:
            continue
        where = a.src.at("template")
        found = by_key.get((a.template, a.channel), {}) if a.template else {}
        if a.template:
            used.add((a.template, a.channel))
        if a.template and not found:
            expected = (f"{TEMPLATE_DIR}/{a.template}.{a.channel}.j2" if ch.main_part else
                        f"{TEMPLATE_DIR}/{a.template}.{a.channel}.<part>.j2")
            others = sorted(f for f in files if f.startswith(a.template + "."))
            diags.append(where.diag(
                "E511", f"template '{a.template}' has no file for channel '{a.channel}'",
                f"expected {expected}" + (f" (found: {', '.join(others)})" if others else "")))
            if not option_parts:
                continue
        parts: dict[str, LoadedPart] = {}
        for part_name, fname in sorted(found.items(), key=lambda x: x[0] or ""):
            name = part_name or ch.main_part
            part = ch.part(name) if name else None
            if part is None or (part_name is not None and part_name == ch.main_part
                                and None in found):
                known = [p.name for p in ch.parts]
                diags.append(Diagnostic(
                    f"{TEMPLATE_DIR}/{fname}", 1, 1, "E516",
                    f"channel '{a.channel}' has no message part '{part_name or ''}'"
                    if part is None else f"part '{name}' is given twice",
                    ("its parts: " + ", ".join(known)) if known else
                    "name the file <template>.<channel>.<field>.j2"))
                continue
            if fname not in cache:
                source = Source(f"{TEMPLATE_DIR}/{fname}", text=_read(root, fname))
                result = _compile(env, source, fname)
                cache[fname] = result if isinstance(result, Diagnostic) else (
                    source, result[0], result[1])
            got = cache[fname]
            if isinstance(got, Diagnostic):
                diags.append(got)
                continue
            source, template, usage = got
            parts[part.name] = LoadedPart(part, source, template, usage)
        for name, part in option_parts.items():
            text = options[part.option]
            src = a.src.at("channel_options", part.option)
            if not src.exists():  # the shop-wide default in shop.yaml
                src = plan.shop.src.at("channels", a.channel, part.option)
            line, col = src.doc.where(src.path)
            node = src.doc.node(src.path)[1]
            quoted = getattr(node, "style", None) in ("'", '"')
            source = Source(src.doc.path, line, col + (1 if quoted else 0), text)
            result = _compile(env, source, None)
            if isinstance(result, Diagnostic):
                diags.append(result)
                continue
            parts[name] = LoadedPart(part, source, result[0], result[1])
        out[a.id] = ActivityTemplates(a, ch, options, parts)
    for (tname, chname), parts_found in sorted(by_key.items()):
        if (tname, chname) not in used:
            for fname in sorted(parts_found.values()):
                diags.append(Diagnostic(
                    f"{TEMPLATE_DIR}/{fname}", 1, 1, "W519",
                    f"template file not used by any activity (no activity on channel "
                    f"'{chname}' says template: {tname})"))
    for f in files:
        if parse_file_name(f) is None:
            diags.append(Diagnostic(f"{TEMPLATE_DIR}/{f}", 1, 1, "W519",
                                    "not a template file name crmspec knows",
                                    "name it <template>.<channel>.j2 or "
                                    "<template>.<channel>.<part>.j2"))
    return out, diags


def _read(root: Path, fname: str) -> str:
    raw = (root / TEMPLATE_DIR / fname).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        raise PlanError([Diagnostic(f"{TEMPLATE_DIR}/{fname}", line, 1, "E103",
                                    f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                    "save it as UTF-8")]) from None
    return text[1:] if text.startswith("\ufeff") else text


# --- checking (validate) -------------------------------------------------------------


def _tier_obj(plan: Plan, tier_id: str | None) -> SimpleNamespace:
    t = next((t for t in plan.tiers if t.id == tier_id), None)
    if t is None:
        return SimpleNamespace(id=None, name=None, discount=None)
    return SimpleNamespace(id=t.id, name=t.name, discount=t.discount)


def _next_tier_obj(plan: Plan, tier_id: str | None) -> SimpleNamespace:
    ranks = [t.id for t in plan.tiers]
    i = ranks.index(tier_id) + 1 if tier_id in ranks else 0
    if i >= len(plan.tiers):
        return SimpleNamespace(id=None, name=None, discount=None, min_spend=None)
    t = plan.tiers[i]
    spend = int(t.min_spend) if float(t.min_spend).is_integer() else t.min_spend
    return SimpleNamespace(id=t.id, name=t.name, discount=t.discount, min_spend=spend)


def _stage_obj(plan: Plan, stage_id: str | None) -> SimpleNamespace:
    s = next((s for s in plan.stages if s.id == stage_id), None)
    return SimpleNamespace(id=stage_id, name=s.name if s else None)


def _constants(plan: Plan, activity: Activity, as_of: date | None) -> dict[str, Any]:
    coupon = activity.coupon or {}
    return {
        "shop": SimpleNamespace(name=plan.shop.name, currency=plan.shop.currency),
        "activity": SimpleNamespace(id=activity.id, name=activity.name),
        "coupon": SimpleNamespace(**coupon),
        "as_of": as_of or date(2026, 12, 31),
    }


def _context(values: dict[str, Any], plan: Plan, activity: Activity, as_of: date | None
             ) -> dict[str, Any]:
    """A template context from per-customer values by path (customer.name, spend, stage,
    tier: stage and tier as ids)."""
    ctx = _constants(plan, activity, as_of)
    ctx["customer"] = SimpleNamespace(**{f: values.get(f"customer.{f}")
                                         for f in CUSTOMER_FIELDS})
    for p in SCALARS:
        if p in PER_CUSTOMER:
            ctx[p] = values.get(p)
    ctx["stage"] = _stage_obj(plan, values.get("stage"))
    tier = values.get("tier") if "tier" in values else values.get("next_tier")
    ctx["tier"] = _tier_obj(plan, tier)
    ctx["next_tier"] = _next_tier_obj(plan, tier)
    return ctx


def sample_values(plan: Plan) -> Iterable[tuple[str, dict[str, Any]]]:
    """Plausible customers with the longest values, one per stage x type x tier, each
    with all optional customer fields filled and all empty."""
    long_ = {p: v.longest for p, v in PER_CUSTOMER.items()}
    for stage in plan.stages:
        if stage.never_purchased:
            combos = [("potential", None)]
        else:
            combos = list(product(("new", "returning", "fans"),
                                  [None] + [t.id for t in plan.tiers]))
        for (ctype, tier), filled in product(combos, (True, False)):
            values = dict(long_)
            values.update({"stage": stage.id, "tier": tier, "customer_type": ctype})
            if stage.never_purchased:
                values.update({"purchases": 0, "spend": Decimal("0.00"),
                               "days_since_last_purchase": None, "r": None, "f": None,
                               "m": None})
            if not filled:
                for p, v in PER_CUSTOMER.items():
                    if v.nullable and p.startswith("customer."):
                        values[p] = None
            desc = (f"stage={stage.id}, customer_type={ctype}, tier={tier or 'none'}"
                    + ("" if filled else ", customer fields empty"))
            yield desc, values


def check_templates(plan: Plan, loaded: dict[str, ActivityTemplates]) -> list[Diagnostic]:
    """validate's checks of every activity's templates (after load_templates)."""
    out: set[Diagnostic] = set()
    samples = list(sample_values(plan))
    for at in loaded.values():
        a = at.activity
        for lp in at.parts.values():
            for line, code, message, hint, needle in lp.usage.problems:
                out.add(lp.source.diag(line, code, message, hint, needle))
            if any(p[1] == "E513" or p[1] == "E517" for p in lp.usage.problems):
                continue
            for r in lp.usage.refs:
                obj, _, attr = r.path.partition(".")
                if obj == "coupon" and (a.coupon is None or (attr and attr not in a.coupon)):
                    what = "no coupon" if a.coupon is None else \
                        "a coupon without " + attr
                    out.add(lp.source.diag(
                        r.line, "E513", f"'{r.path}' is undefined: activity '{a.id}' has "
                        f"{what}", "set it in the activity's coupon:", needle=r.path))
            if any(d.path == lp.source.path and d.code == "E513" for d in out):
                continue
            out.update(_check_lengths(plan, at, lp, samples))
    return sorted(out)


def _check_lengths(plan: Plan, at: ActivityTemplates, lp: LoadedPart, samples
                   ) -> list[Diagnostic]:
    a, ch = at.activity, at.channel
    limit = ch.limit(lp.part, at.options)
    overhead = ch.length_overhead(lp.part.name, at.options)
    longest, longest_desc = -1, ""
    read = _sample_keys(lp.usage.refs)
    seen: set[tuple] = set()
    for desc, values in samples:
        # Samples that differ only in values the template never reads render the same
        # text (one render per stage x type x tier x fill was 15k renders per validate).
        key = tuple(repr(values.get(k)) for k in read)
        if key in seen:
            continue
        seen.add(key)
        try:
            text = lp.template.render(_context(values, plan, a, None))
        except Exception as exc:  # noqa: BLE001 - any render failure is the template's
            line, msg = _located_error(exc, lp.source, _template_name(lp))
            return [lp.source.diag(line, "E515", f"the template fails to render for "
                                   f"activity '{a.id}' ({desc}): {mask_text(msg)}")]
        text = ch.finish(lp.part.name, text, a, at.options, plan)
        n = len(text) + overhead
        if n > longest:
            longest, longest_desc = n, desc
    if limit is not None and longest > limit:
        note = ch.limit_note(lp.part, at.options)
        return [lp.source.diag(
            1, "E514", f"the {ch.name} {lp.part.name} of activity '{a.id}' can be {longest} "
            f"characters long, over the limit of {limit}" + (f" ({note})" if note else ""),
            f"longest plausible values, {longest_desc}; see docs/plugins.md for them")]
    return []


def _sample_keys(refs: list[Ref]) -> list[str]:
    """The sample values (sample_values keys) a template with these refs can read."""
    keys = set()
    for r in refs:
        top = r.path.split(".", 1)[0]
        if top == "customer":
            keys.update(p for p in PER_CUSTOMER if p.startswith("customer."))
        elif top in ("tier", "next_tier"):
            keys.add("tier")
        else:
            keys.add(top)
    return sorted(keys)


def _template_name(lp: LoadedPart) -> str | None:
    return getattr(lp.template, "name", None)


# --- rendering (build) ---------------------------------------------------------------


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
            role = _role_of(refs)
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


def _value_sql(column: str, html: bool) -> str:
    v = f"coalesce({_strip_sql(f'CAST(f.{sql_ident(column)} AS VARCHAR)')}, '')"
    if html:  # what markupsafe.escape does
        for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"),
                         ("'", "&#39;")):
            v = f"replace({v}, {sql_str(old)}, {sql_str(new)})"
    return v


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
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT s.activity_id, s.customer_id, "
                f"s.address{picked} FROM sends AS s JOIN features AS f USING (customer_id) "
                f"WHERE s.status = 'send' AND s.activity_id IN ({ids}) "
                "ORDER BY s.activity_id")  # zone maps skip the rest
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
    """
    if values is not None:  # f: the activity's rows of the shared send-values table
        frm, cond = f"{values} AS f", f"f.activity_id = {sql_str(activity.id)}"
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {values}").fetchall()}
    else:
        frm = (f"(SELECT s.customer_id, s.address, f.* EXCLUDE (customer_id) FROM sends AS s "
               f"JOIN features AS f USING (customer_id) WHERE s.activity_id = "
               f"{sql_str(activity.id)} AND s.status = 'send') AS f")
        cond = "true"
    if at is None or not at.parts:
        where = f"WHERE s.activity_id = {sql_str(activity.id)} AND s.status = 'send'"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT s.customer_id, s.address "
                    f"FROM sends AS s {where}")
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
        ctx = _context(values, plan, activity, as_of)
        for name in part_names:
            lp = at.parts[name]
            try:
                text = lp.template.render(ctx)
            except Exception as exc:  # noqa: BLE001
                line, msg = _located_error(exc, lp.source, _template_name(lp))
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
            expr = f"c.{sql_ident('p_' + name)}"
        else:
            expr = sql_str(rendered[name][0])
        for p in rp.columns:
            if p in used:
                expr = (f"replace({expr}, {sql_str(marker_of[p])}, "
                        f"{_value_sql(rp.key_column(p), html)})")
        msg_cols.append(f"{expr} AS {sql_ident('msg_' + name)}")
    if key_exprs:
        ctable = sql_ident(f"combos_{activity.id}")
        cols = [f"unnest(${i + 1}::{t}[]) AS k{i}" for i, t in enumerate(key_types)]
        cols += [f"unnest(${len(key_types) + j + 1}::VARCHAR[]) AS {sql_ident('p_' + n)}"
                 for j, n in enumerate(part_names)]
        params = [[c[i] for c in combos] for i in range(len(key_types))]
        params += [rendered[n] for n in part_names]
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ctable} AS SELECT {', '.join(cols)}",
                    params)
        join = " AND ".join(f"c.k{i} IS NOT DISTINCT FROM {e}" for i, e in enumerate(key_exprs))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT f.customer_id, f.address, "
            f"{', '.join(msg_cols)} FROM {frm} JOIN {ctable} AS c ON {join} WHERE {cond}")
        con.execute(f"DROP TABLE {ctable}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT f.customer_id, f.address, "
                    f"{', '.join(msg_cols)} FROM {frm} WHERE {cond}")
    return RenderResult(part_names, len(combos))


def template_needs(loaded: dict[str, ActivityTemplates]) -> list[tuple[str, Any]]:
    """(customer column, plan place) pairs the templates read, for the data check."""
    out = []
    for at in loaded.values():
        for col in RenderPlan.of(at).needed_columns():
            out.append((col, at.activity.src.at("template")))
    return out


def over_limit(con, table: str, at: ActivityTemplates | None, parts: tuple[str, ...]
               ) -> list[Diagnostic]:
    """W520 per part whose real messages exceed the channel's limit (counted in SQL)."""
    if at is None:
        return []
    checks = []
    for name in parts:
        lp = at.parts[name]
        limit = at.channel.limit(lp.part, at.options)
        if limit is not None:
            extra = at.channel.length_overhead(name, at.options)
            checks.append((lp, limit, f"count(*) FILTER (WHERE length("
                           f"{sql_ident('msg_' + name)}) + {extra} > {limit})"))
    if not checks:
        return []
    counts = con.execute(f"SELECT count(*), {', '.join(c[2] for c in checks)} "
                         f"FROM {table}").fetchone()
    out = []
    for (lp, limit, _), n in zip(checks, counts[1:], strict=True):
        if n:
            out.append(lp.source.diag(
                1, "W520", f"{n} of {counts[0]} {at.channel.name} {lp.part.name} messages of "
                f"activity '{at.activity.id}' are longer than {limit} characters with the "
                "real data", "a value longer than the plausible ones validate assumes "
                "(docs/plugins.md); shorten the template or raise the limit"))
    return out


def describe(rp: RenderPlan) -> dict:
    return {"keys": rp.keys, "truth": rp.truth, "placeholders": rp.columns}


__all__ = ["ActivityTemplates", "RenderPlan", "TemplateEnvironment", "analyse",
           "check_templates", "create_rows", "load_templates", "make_environment",
           "variables_doc"]
