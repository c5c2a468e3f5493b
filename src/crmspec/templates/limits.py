"""Bounds on what rendering one message may cost, so that a template cannot hang
`crmspec validate` or exhaust a build's memory (`{% for i in range(100000) %}{% for j
in range(100000) %}`, `{{ 10**(10**10) }}`, `{{ 'x' * 10**9 }}`).

Jinja's sandbox stops a template from reaching Python; it does not bound work. Here,
per rendering of one message part:

- loop iterations (every `{% for %}`, nested ones counted together) and the items a
  `range()` makes: at most MAX_ITEMS;
- calls (functions, methods, macros): at most MAX_CALLS;
- text and sequences a template makes: at most MAX_TEXT characters (items) per value,
  checked *before* the amplifying operations (`*`, `**`, `%` and format widths,
  `center`/`indent`/`replace`/`join`/`batch`...) allocate, and after the others;
- integers: at most MAX_INT_BITS bits (`**` is checked before it computes);
- the rendered text: at most MAX_TEXT characters.

Going over one is a `TemplateLimitError`, which validate and build report as the
template's render failure (E515) at the template line, naming the limit. The budget is
reset at the start of each rendering (`BoundedTemplate.render`). docs/security.md
("Limits") lists the values.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

MAX_ITEMS = 10_000
MAX_CALLS = 10_000
MAX_TEXT = 100_000
MAX_INT_BITS = 4_096

_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")
_FIELD = re.compile(r"\{[^{}]*\}")
_DIGITS = re.compile(r"\d+")


class TemplateLimitError(SecurityError):
    """A rendering went over one of this module's limits."""


def _over(what: str, limit: int) -> TemplateLimitError:
    return TemplateLimitError(f"the template {what} (the limit is {limit:,} per message; "
                              "docs/security.md, Limits)")


def _size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(value)
    return 0


def _check_size(value: Any) -> Any:
    if _size(value) > MAX_TEXT:
        raise _over(f"makes a value of {_size(value):,} characters or items", MAX_TEXT)
    if isinstance(value, int) and not isinstance(value, bool) and \
            value.bit_length() > MAX_INT_BITS:
        raise _over(f"makes a number of {value.bit_length():,} bits", MAX_INT_BITS)
    return value


def _check_width(width: Any) -> None:
    if isinstance(width, int) and width > MAX_TEXT:
        raise _over(f"asks for a width of {width:,} characters", MAX_TEXT)


def _check_format(fmt: str, args: Any = ()) -> None:
    """Widths and precisions of a `%` format and of `{}` fields, before formatting."""
    for m in _FORMAT_WIDTH.finditer(fmt):
        for group in m.groups():
            if group == "*":
                raise TemplateLimitError("the template uses a `*` width in a format; write "
                                         "the width as a number")
            if group:
                _check_width(int(group))
    if re.search(r"\{[^{}]*\{", fmt):
        raise TemplateLimitError("the template takes a format width from a value; write the "
                                 "width as a number")
    for field in _FIELD.findall(fmt):
        for digits in _DIGITS.findall(field):
            _check_width(int(digits))


def _pre_mul(left: Any, right: Any) -> None:
    for seq, n in ((left, right), (right, left)):
        if _size(seq) or isinstance(seq, (str, list, tuple)):
            if isinstance(n, int) and _size(seq) * max(n, 0) > MAX_TEXT:
                raise _over(f"repeats a value {n:,} times", MAX_TEXT)
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise _over("multiplies numbers over the size limit", MAX_INT_BITS)


def _pre_pow(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and \
            abs(base) > 1 and (abs(base).bit_length() - 1) * exponent + 1 > MAX_INT_BITS:
        raise _over(f"raises a number to the power {exponent:,}", MAX_INT_BITS)


def _pre_filter(name: str, args: tuple, kwargs: dict) -> tuple:
    """The filters whose result can be far larger than their input; `join` gets its
    items listed (and counted) first. Returns the arguments to call the filter with."""
    value = args[0] if args else None
    rest = list(args[1:]) + list(kwargs.values())
    if name in ("center", "indent", "batch", "slice", "truncate", "wordwrap"):
        for a in rest:
            _check_width(a)
    if name == "indent" and isinstance(value, str) and rest and isinstance(rest[0], int):
        if len(value) + (value.count("\n") + 1) * rest[0] > MAX_TEXT:
            raise _over("indents the text beyond the size limit", MAX_TEXT)
    if name == "format" and isinstance(value, str):
        _check_format(value)
    if name == "replace" and isinstance(value, str) and len(args) >= 3:
        _pre_replace(value, args[1], args[2])
    if name == "join" and value is not None and not isinstance(value, str):
        items = list(_counted(value))
        sep = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        total = sum(len(str(i)) for i in items) + len(sep) * len(items)
        if total > MAX_TEXT:
            raise _over("joins text beyond the size limit", MAX_TEXT)
        return (items, *args[1:])
    return args


def _pre_replace(text: str, old: Any, new: Any) -> None:
    if isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        if len(text) + hits * (len(new) - len(old)) > MAX_TEXT:
            raise _over("replaces text beyond the size limit", MAX_TEXT)


def _pre_method(obj: Any, args: tuple, kwargs: dict) -> tuple:
    """str methods that amplify; `join` gets its items listed (and counted) first."""
    # the sandbox hands out str.format wrapped (functools.update_wrapper: __wrapped__)
    owner = getattr(obj, "__self__", None)
    if owner is None:
        owner = getattr(getattr(obj, "__wrapped__", None), "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str):
        return args
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_width(args[0])
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int) and len(owner) + owner.count("\t") * size > MAX_TEXT:
            raise _over("expands tabs beyond the size limit", MAX_TEXT)
    elif name == "replace" and len(args) >= 2:
        _pre_replace(owner, args[0], args[1])
    elif name in ("format", "format_map"):
        _check_format(owner)
    elif name == "join" and args:
        items = list(_counted(args[0]))
        total = sum(len(i) for i in items if isinstance(i, str)) + len(owner) * len(items)
        if total > MAX_TEXT:
            raise _over("joins text beyond the size limit", MAX_TEXT)
        return (items, *args[1:])
    return args


class _Budget:
    def __init__(self) -> None:
        self.items = 0
        self.calls = 0


_budget = _Budget()  # the rendering under way (rendering is single-threaded)


def _counted(iterable):
    for item in iterable:
        _budget.items += 1
        if _budget.items > MAX_ITEMS:
            raise _over(f"loops more than {MAX_ITEMS:,} times", MAX_ITEMS)
        yield item


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_ITEMS:
        raise _over(f"asks for a range of {len(r):,} numbers", MAX_ITEMS)
    return r


class BoundedTemplate(Template):
    """A template whose rendering starts a fresh budget and stops at MAX_TEXT output."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        _budget.__init__()
        out: list[str] = []
        n = 0
        for piece in self.generate(*args, **kwargs):
            n += len(piece)
            if n > MAX_TEXT:
                raise _over(f"renders more than {MAX_TEXT:,} characters", MAX_TEXT)
            out.append(piece)
        return "".join(out)


class BoundedEnvironment(SandboxedEnvironment):
    """The sandbox with this module's bounds on operators, calls, loops and filters."""

    template_class = BoundedTemplate
    # Intercepted operators are also never folded at compile time (10**(10**10)).
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _range
        self.crmspec_loop = _counted
        self.crmspec_sized = _check_size

    def call_binop(self, context, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            _pre_mul(left, right)
        elif op == "**":
            _pre_pow(left, right)
        elif op == "%" and isinstance(left, str):
            _check_format(left)
        return _check_size(self.binop_table[op](left, right))

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if __obj is not _counted and __obj is not _check_size:  # the limits' own calls
            _budget.calls += 1
        if _budget.calls > MAX_CALLS:
            raise _over(f"makes more than {MAX_CALLS:,} calls", MAX_CALLS)
        args = _pre_method(__obj, args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def _generate(self, source, name, filename, defer_init=False):
        """Every `{% for %}` iterates through the loop counter and every `~` result is
        size-checked; the filters (plugins' too) are bounded, before code generation."""
        for loop in source.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.EnvironmentAttribute("crmspec_loop"), [loop.iter],
                                   [], None, None, lineno=loop.iter.lineno)
        for concat in list(source.find_all(nodes.Concat)):
            concat.nodes = [nodes.Call(nodes.EnvironmentAttribute("crmspec_sized"), [n], [],
                                       None, None, lineno=n.lineno) for n in concat.nodes]
        for fname, func in list(self.filters.items()):
            if not getattr(func, "crmspec_bounded", False):
                self.filters[fname] = _bounded_filter(fname, func)
        return super()._generate(source, name, filename, defer_init=defer_init)


def _bounded_filter(name: str, func):
    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        # pass_context/pass_environment filters get that first: skip it for the checks
        passed = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        args = args[:passed] + _pre_filter(name, args[passed:], kwargs)
        return _check_size(func(*args, **kwargs))

    bounded.crmspec_bounded = True  # type: ignore[attr-defined]
    return bounded
