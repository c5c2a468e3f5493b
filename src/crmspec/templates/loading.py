"""Finding and compiling an activity's templates: `plans/templates/<template>.<channel>
[.<part>].j2`, or one-line parts in `channel_options`, which win over a file; errors
located at the template file's line."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError

from crmspec.channels import Channel
from crmspec.channels.base import Part
from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.plan.model import Activity, Plan, channel_options
from crmspec.templates.analysis import Ref, Usage, analyse
from crmspec.templates.environment import TEMPLATE_DIR, TemplateEnvironment, parse_file_name


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


def located_error(exc: BaseException, source: Source, template_name: str | None
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


def _compile(env: TemplateEnvironment, source: Source, name: str | None, channel: Channel
             ) -> tuple[Any, Usage] | Diagnostic:
    try:
        return _compile_nested(env, source, name, channel)
    except RecursionError:  # Jinja's parser and compiler recurse per level of nesting
        return source.diag(1, "E512", "template error: the template is nested too deeply "
                           "(brackets, operators or blocks inside each other)",
                           "split the expression into several `{% set %}` steps")


def _compile_nested(env: TemplateEnvironment, source: Source, name: str | None,
                    channel: Channel) -> tuple[Any, Usage] | Diagnostic:
    try:
        tree = env.parse(source.text, name=name, filename=source.path)
    except TemplateSyntaxError as exc:
        return source.diag(exc.lineno or 1, "E512", f"template syntax error: {exc.message}")
    usage = analyse(tree, channel.recipient_values)
    try:
        # compiled from the tree just parsed: get_template and from_string would parse the
        # text again (70 templates in the example plan: 0.02 s of every validate and build)
        if name is None:
            template = env.from_string(tree)
        else:
            text, filename, uptodate = env.loader.get_source(env, name)
            code = env.compile(tree if text == source.text else text, name, filename)
            template = env.template_class.from_code(env, code, env.make_globals(None),
                                                    uptodate)
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
                result = _compile(env, source, fname, ch)
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
            result = _compile(env, source, None, ch)
            if isinstance(result, Diagnostic):
                diags.append(result)
                continue
            parts[name] = LoadedPart(part, source, result[0], result[1])
        out[a.id] = ActivityTemplates(a, ch, options, parts)
    left_out = plan.broken.templates()  # of activities with schema errors: not unused
    for (tname, chname), parts_found in sorted(by_key.items()):
        if (tname, chname) not in used and left_out is not None and tname not in left_out:
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
