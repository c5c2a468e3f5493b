"""docs/plugins.md names every hook, built-in channel option, part and template variable."""

from pathlib import Path

from crmspec.channels import builtin_channels
from crmspec.channels.base import COMMON_OPTIONS
from crmspec.plugins import HOOKS
from crmspec.templates.variables import CONSTANT_OBJECTS, CONSTANTS, KEYED_OBJECTS, PER_CUSTOMER

DOC = (Path(__file__).resolve().parent.parent / "docs/plugins.md").read_text(encoding="utf-8")


def test_every_hook_is_in_the_docs():
    for hook in HOOKS:
        assert f"`{hook}(" in DOC, hook


def test_every_builtin_channel_option_and_part_is_in_the_docs():
    for name, ch in builtin_channels().items():
        assert f"| `{name}` |" in DOC, name
        for option in ch.options:
            assert f"| `{name}` | `{option}` |" in DOC, (name, option)
        for part in ch.parts:
            assert f"`{part.name}`" in DOC, (name, part.name)
    for option in COMMON_OPTIONS:
        assert f"| every channel | `{option}` |" in DOC


def test_every_template_variable_is_in_the_docs():
    for path in PER_CUSTOMER:
        assert f"`{path}`" in DOC, path
    for obj, spec in {**KEYED_OBJECTS, **CONSTANT_OBJECTS}.items():
        fields = spec[1] if obj in KEYED_OBJECTS else spec[0]
        for f in fields:
            assert f"`{obj}.{f}`" in DOC or f"`.{f}`" in DOC, (obj, f)
    for name in CONSTANTS:
        assert f"`{name}`" in DOC, name


def test_every_template_and_plugin_code_is_in_the_docs():
    from crmspec.core.diagnostics import CODES

    for code in CODES:
        if code[1] == "5":
            assert f"`{code}`" in DOC, code
