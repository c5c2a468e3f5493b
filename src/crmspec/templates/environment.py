"""The sandboxed Jinja environment of message templates: StrictUndefined (a misspelt
variable is an error, never an empty string), `trim_blocks`/`lstrip_blocks`, autoescape
for HTML parts, None rendered as an empty string, the `zhe` filter (0.95 -> 95折), and
the plugins' `prepare_jinja_environment` additions; loops, calls, sizes bounded
(`crmspec.templates.limits`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from jinja2 import StrictUndefined

from crmspec.channels import Channel
from crmspec.templates.limits import BoundedEnvironment

TEMPLATE_DIR = "plans/templates"



def zhe(value) -> str:
    """A price factor as Chinese discount text: 0.95 -> 95折, 0.9 -> 9折; None -> ''."""
    if value is None:
        return ""
    n = int((Decimal(str(value)) * 100).quantize(Decimal(1)))
    return f"{n // 10}折" if n % 10 == 0 else f"{n}折"


def _finalize(value):
    """What `{{ x }}` prints: None as nothing; a function or method is refused (`{{
    'x'.join }}` would print `<built-in method join ... at 0x7f...>`, different in every
    run, into a customer's message)."""
    if value is None:
        return ""
    if callable(value):
        from jinja2.exceptions import TemplateRuntimeError

        raise TemplateRuntimeError(
            f"prints a function ({getattr(value, '__name__', type(value).__name__)}), "
            "not a value: call it, e.g. {{ x() }}, or print a variable")
    return value


class TemplateEnvironment(BoundedEnvironment):
    """The sandboxed Jinja environment of message templates (one per validate/build),
    its rendering bounded (crmspec.templates.limits)."""

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
