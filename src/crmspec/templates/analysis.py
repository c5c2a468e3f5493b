"""What a template does with each variable, read from its syntax tree: printed,
tested for truth, or used in logic (then part of the rendering key). Templates may not
include, extend or import other templates: the analysis needs to see every use."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from crmspec.templates.variables import JINJA_NAMES, OBJECT_FIELDS, SCALARS, TOP_NAMES

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
    recipient_values: set[str] = field(default_factory=set)  # the channel's, printed

    def top_names(self) -> set[str]:
        return {r.path.split(".", 1)[0] for r in self.refs}


_STRUCTURE = (nodes.Template, nodes.Output, nodes.If, nodes.For)
_FORBIDDEN = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


def analyse(tree: nodes.Template, channel_values: Iterable[str] = ()) -> Usage:
    """Every variable use with its role, and the static problems (E513, E517, E512).

    `channel_values`: the names of the channel's recipient values (email's
    unsubscribe_url), usable as variables: filled in per recipient by the channel, they
    never key a rendering."""
    usage = Usage()
    channel_values = set(channel_values)
    names = TOP_NAMES | channel_values
    stored: dict[str, int] = {}
    for n in tree.find_all((nodes.Name,)):
        if n.ctx in ("store", "param"):
            stored.setdefault(n.name, n.lineno)
    for n in tree.find_all((nodes.Macro,)):
        stored.setdefault(n.name, n.lineno)
    for name, line in sorted(stored.items(), key=lambda x: x[1]):
        if name in names:
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
            if node.name in channel_values and node.name not in stored:
                usage.recipient_values.add(node.name)
            elif node.name in TOP_NAMES and node.name not in stored:
                ref(node.name, node, role if node.name in SCALARS else KEY)
            elif node.name not in stored and node.name not in JINJA_NAMES \
                    and node.name not in GLOBAL_NAMES:
                close = difflib.get_close_matches(node.name, sorted(names), n=1)
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


def role_of(refs: Iterable[Ref]) -> str:
    roles = {r.role for r in refs}
    if KEY in roles:
        return KEY
    return TEST if roles & {TEST, OUTPUT_TEST} else OUTPUT


GLOBAL_NAMES = set(SandboxedEnvironment().globals)
