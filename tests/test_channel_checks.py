"""What a plugin's channel must be (E503, crmspec.channels.base.check_channel and the
register_channels result checks) and what happens when its writer fails (E502), each
through the CLI on the tiny shop with a plugin file written by the test."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from crmspec.cli import main

HEAD = '''"""A test channel."""

from crmspec import hookimpl
from crmspec.channels import Channel, Part


class Fax(Channel):
    name = "fax"
    title = "Fax"
    contact_field = "phone"
    parts = (Part("text", "fax text"),)
    main_part = "text"
'''


def plugin(root, attributes: str = "", returned: str = "[Fax()]", extra: str = "") -> int:
    """plugins/fax.py with the given class attributes and hook result; the line where
    the register_channels hook starts (its decorator: where E503 points)."""
    text = (HEAD + attributes + extra + "\n\n@hookimpl\ndef register_channels():\n"
            f"    return {returned}\n")
    (root / "plugins").mkdir(exist_ok=True)
    (root / "plugins/fax.py").write_text(text, encoding="utf-8")
    return text.splitlines().index("@hookimpl") + 1


def first_line(root, *args: str) -> tuple[int, str]:
    """The exit code and the first error line a command printed ('' for none)."""
    result = CliRunner().invoke(main, [*args, "--project", str(root)])
    assert "Traceback" not in result.output
    return result.exit_code, next((line for line in result.stderr.splitlines()
                                   if "error[" in line), "")


def test_a_valid_plugin_channel_passes(tiny):
    plugin(tiny)
    assert first_line(tiny, "validate") == (0, "")


@pytest.mark.parametrize("attributes, returned, problem", [
    ("", "[object()]", "<object object at"),
    ("", "Fax()", "Fax, not a list of channels"),
    ("", "[Fax(), Fax()]", "channel 'fax' twice"),
    ('    name = "Fax-1"\n', "[Fax()]", "channel name 'Fax-1' is not a lower-case id"),
    ('    contact_field = "fax_number"\n', "[Fax()]",
     "channel 'fax': contact_field 'fax_number' is not a customers column"),
    ('    opt_out_field = "opt_out_fax"\n', "[Fax()]",
     "channel 'fax': opt_out_field 'opt_out_fax' is not a customers column"),
    ('    address_pattern = "^(1[3-9]"\n', "[Fax()]",
     "channel 'fax': address_pattern is not a regular expression (missing ), unterminated "
     "subpattern at position 1)"),
    ('    parts = (Part("text", "t"), Part("2nd", "second"))\n', "[Fax()]",
     "channel 'fax': part name '2nd' is not an identifier"),
    ('    main_part = "body"\n', "[Fax()]", "channel 'fax': main_part 'body' is not one of its "
     "parts"),
    ('    options = {"pages": {"type": "pages", "description": "How many."}}\n', "[Fax()]",
     "channel 'fax': options are not a valid JSON Schema ("),
    ('    options = {"pages": {"type": "integer"}}\n', "[Fax()]",
     "channel 'fax': option 'pages' needs a description"),
    ('    options = {"pages": {"type": "integer", "description": " "}}\n', "[Fax()]",
     "channel 'fax': option 'pages' needs a description"),
])
def test_an_invalid_plugin_channel_is_e503(tiny, attributes, returned, problem):
    line = plugin(tiny, attributes, returned)
    code, first = first_line(tiny, "validate")
    prefix = f"plugins/fax.py:{line}:1: error[E503]: plugin 'fax': hook register_channels returned "
    assert code == 1
    assert first.startswith(prefix + problem), first


def test_a_channel_with_several_problems_names_them_all(tiny):
    line = plugin(tiny, '    contact_field = "fax"\n    main_part = "body"\n')
    assert first_line(tiny, "validate") == (1, (
        f"plugins/fax.py:{line}:1: error[E503]: plugin 'fax': hook register_channels returned "
        "channel 'fax': contact_field 'fax' is not a customers column; channel 'fax': "
        "main_part 'body' is not one of its parts"))


WRITER = '''
    def write(self, ctx):
        raise RuntimeError("the fax gateway refused 13812345678")
'''


def test_a_failing_writer_is_e502_and_leaves_no_output(tiny):
    """A plugin channel whose writer raises: the build stops with E502 at the raise,
    contact details masked, and writes no outputs and no ledger run."""
    plugin(tiny, extra=WRITER)
    acts = tiny / "plans/activities.yaml"
    acts.write_text(acts.read_text(encoding="utf-8") + (
        "  - id: fax_care\n    name: 传真\n    kind: maintenance\n    stage: active\n"
        "    segment: active_not_fans\n    channel: fax\n    template: winback\n"),
        encoding="utf-8")
    (tiny / "plans/templates/winback.fax.j2").write_text("您好\n", encoding="utf-8")
    raise_line = (tiny / "plugins/fax.py").read_text(encoding="utf-8").splitlines().index(
        '        raise RuntimeError("the fax gateway refused 13812345678")') + 1
    assert first_line(tiny, "build") == (1, (
        f"plugins/fax.py:{raise_line}:1: error[E502]: plugin 'fax': channel 'fax' failed to "
        "write: RuntimeError: the fax gateway refused 138****5678"))
    assert not (tiny / "out").exists()
    con = duckdb.connect(str(tiny / "state/ledger.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
