"""The command line itself: exit codes, --project before and after the command, explain's
JSON and its suggestions for unknown ids (the tiny shop: customers in test_build_tiny)."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from click.testing import CliRunner
from conftest import add_plugins

import crmspec.build
from crmspec.cli import main


def run(*args, **kwargs):
    return CliRunner().invoke(main, list(args), **kwargs)


# -- exit codes (README: 0 success, 1 problems, 2 usage, 3 internal, 130 interrupted) ------

def test_exit_codes_tell_problems_usage_and_bugs_apart(tiny, monkeypatch):
    assert run("validate", "--project", str(tiny)).exit_code == 0
    plan = tiny / "plans/segments.yaml"
    plan.write_text(plan.read_text(encoding="utf-8") + "  - {id: x}\n", encoding="utf-8")
    assert run("validate", "--project", str(tiny)).exit_code == 1  # a plan problem
    usage = run("build", "--no-such-option", "--project", str(tiny))
    assert usage.exit_code == 2 and "No such option" in usage.output
    bad_date = run("build", "--as-of", "yesterday", "--project", str(tiny))
    assert bad_date.exit_code == 2 and "'yesterday' is not a date" in bad_date.output

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    plan.write_text(plan.read_text(encoding="utf-8").replace("  - {id: x}\n", ""),
                    encoding="utf-8")
    monkeypatch.setattr(crmspec.build, "build", broken)
    bug = run("build", "--project", str(tiny))
    assert bug.exit_code == 3
    assert bug.stderr == ("crmspec: internal error: RuntimeError: a bug\n"
                          "run again with --debug for the traceback, and report it\n")
    debug = run("--debug", "build", "--project", str(tiny))
    assert isinstance(debug.exception, RuntimeError)  # --debug lets the traceback through


def test_ctrl_c_exits_130_without_a_traceback(tiny, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(crmspec.build, "build", interrupted)
    result = run("build", "--project", str(tiny))
    assert result.exit_code == 130
    assert "Traceback" not in result.output and "interrupted" in result.stderr


# -- --project -------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--project", "{root}", "validate"],
    ["validate", "--project", "{root}"],
    ["--project", "{root}", "validate", "--project", "{root}"],
])
def test_project_before_or_after_the_command(tiny, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)  # not a project: only --project finds it
    result = run(*[a.format(root=tiny) for a in args])
    assert result.exit_code == 0, result.output
    assert result.output == "plan is valid\n"


def test_two_different_projects_are_a_usage_error(tiny, tmp_path):
    result = run("--project", str(tmp_path), "validate", "--project", str(tiny))
    assert result.exit_code == 2
    assert "--project is given twice" in result.output


def test_project_before_the_command_finds_its_plugin_commands(tiny, tmp_path, monkeypatch):
    add_plugins(tiny, "all_hooks")
    monkeypatch.chdir(tmp_path)
    result = run("--project", str(tiny), "hello", "店主")
    assert result.exit_code == 0, result.output
    assert result.output == "hello 店主\n"


# -- explain ---------------------------------------------------------------------------

def test_explain_json(tiny):
    result = run("explain", "c05", "--format", "json", "--project", str(tiny))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["customer_id"] == "c05" and out["as_of"] == "2026-03-01"
    # R: 90 days is 3rd of the 13 buyers from the oldest: ceil(5 x 3/13) = 2; M: 1500 is
    # 11th of 13: 5 (test_build_tiny)
    assert out["facts"] == {"stage": "sleeping", "customer_type": "new", "tier": "vip2",
                            "purchases": 1, "spend": 1500.0, "days_since_last_purchase": 90,
                            "r": 2, "f": 5, "m": 5}
    by_id = {a["id"]: a for a in out["activities"]}
    assert list(by_id) == ["payment_reminder", "review_invite", "cart_recovery",
                           "active_care", "winback"]
    assert by_id["winback"] == {"id": "winback", "name": "召回", "channel": "sms",
                                "contacted": True, "status": "send",
                                "why": ["sms to 138****0005 at 2026-03-02 10:00"]}
    assert by_id["active_care"]["status"] == "not_qualified"
    assert "13800000005" not in result.stdout  # masked, as on the terminal


@pytest.mark.parametrize("typed, closest", [
    ("5", "c05"),            # the number without prefix and zeros: c05 first
    ("C05", "c05"),          # case
    ("c5", "c05"),           # the same number
    ("c1", "c01"),           # c01 first (same number), then ids containing c1: c10, c11...
])
def test_explain_suggests_the_closest_ids(tiny, typed, closest):
    result = run("explain", typed, "--project", str(tiny))
    assert result.exit_code == 1
    found = re.search(r"no customer '(.+)' in the data \(closest ids: (.+)\)", result.output)
    assert found and found.group(1) == typed
    assert found.group(2).split(", ")[0] == closest


def test_closest_ids_for_zero_padded_numbers():
    """`explain 1` in a shop whose ids are 00001...: the same number first, then the ids
    containing 1, then the ones two edits away; the query the command runs."""
    import duckdb

    from crmspec.analysis.explain import closest_ids

    con = duckdb.connect()
    con.execute("CREATE TABLE customers AS SELECT * FROM (VALUES ('00001'), ('00010'), "
                "('00100'), ('20000'), ('99999'), ('C0000001')) t(customer_id)")
    assert closest_ids(con, "1") == ["00001", "C0000001", "00010"]
    assert closest_ids(con, "1", n=5) == ["00001", "C0000001", "00010", "00100"]
    # no 2 and no id containing 00002: 00001 is one edit away, then two (by id)
    assert closest_ids(con, "00002") == ["00001", "00010", "00100"]


def test_explain_suggestions_in_order_and_none_when_nothing_is_close(tiny):
    result = run("explain", "c1", "--project", str(tiny))
    assert "(closest ids: c01, c10, c11)" in result.output
    far = run("explain", "zzzzzzzzzzzz", "--project", str(tiny))
    assert far.exit_code == 1
    assert far.output.strip() == "Error: no customer 'zzzzzzzzzzzz' in the data"


# -- compile ---------------------------------------------------------------------------

def _features(con) -> list[tuple]:
    return con.execute("SELECT * FROM features ORDER BY customer_id").fetchall()


def _as_parquet(shop):
    """The tiny shop with its CSV files written as Parquet (types as DuckDB reads them)."""
    import duckdb

    con = duckdb.connect()
    for table in ("customers", "orders", "events"):
        csv = shop / "data" / f"{table}.csv"
        con.execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO "
                    f"'{shop / 'data' / (table + '.parquet')}' (FORMAT parquet)")
        csv.unlink()
    settings = shop / "plans/shop.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "source: csv", "source: parquet"), encoding="utf-8")
    return shop


def test_compile_prints_a_script_that_runs_as_printed(tiny):
    """After a build on 03-01 the 03-02 plan compares tiers with the ledger's: the script
    attaches the Parquet data, the ledger (read-only) and the plugin's macro itself, and
    run on an empty connection gives the features and audiences the build computes."""
    import duckdb

    from crmspec.build import build
    from crmspec.engine.run import run_plan
    from crmspec.engine.session import open_session

    _as_parquet(tiny)
    add_plugins(tiny, "all_hooks")
    build(tiny)
    result = run("compile", "--as-of", "2026-03-02", "--project", str(tiny))
    assert result.exit_code == 0, result.output
    script = result.stdout
    assert script.startswith("-- crmspec compiled plan, as of 2026-03-02: runs as printed on "
                             "an empty DuckDB connection")
    assert "FROM ledger.tiers" in script and "ATTACH '" in script
    assert "CREATE OR REPLACE MACRO shout(x)" in script
    con = duckdb.connect()
    winback = con.execute(script).fetchall()  # the last statement: winback's audience
    assert sorted(r[0] for r in winback) == ["c04", "c05", "c06"]
    with open_session(tiny, date(2026, 3, 2)) as (ref, p):
        run_plan(ref, p.compiled, p.plan)
        assert _features(con) == _features(ref)


def test_compile_says_what_it_assumes_of_a_csv_source(tiny):
    """CSV files are read through a decoded copy that lives only during the session
    (their encoding, line numbers): the script cannot repeat that read."""
    result = run("compile", "--project", str(tiny))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "-- crmspec compiled plan, as of 2026-03-01: assumes a DuckDB connection with the "
        "canonical tables customers, orders and events, suppressions and the ledger "
        "attached as `ledger`, as crmspec build prepares it (src_customers read from "
        "data/customers.csv through a decoded copy; src_orders read from data/orders.csv "
        "through a decoded copy; src_events read from data/events.csv through a decoded "
        "copy cannot be printed)")


def test_compile_says_what_it_assumes_when_a_step_cannot_be_printed(tiny):
    """A plugin that makes a table with a bound parameter: that statement cannot be
    printed, so the first line says what the script assumes instead."""
    (tiny / "plugins").mkdir()
    (tiny / "plugins/bound.py").write_text(
        "from crmspec import hookimpl\n\n\n@hookimpl\ndef prepare_connection(con, plan):\n"
        "    con.execute('CREATE TEMP TABLE bound AS SELECT ? AS x', [1])\n",
        encoding="utf-8")
    _as_parquet(tiny)
    result = run("compile", "--project", str(tiny))
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first == (
        "-- crmspec compiled plan, as of 2026-03-01: assumes a DuckDB connection with the "
        "canonical tables customers, orders and events, suppressions and the ledger "
        "attached as `ledger`, as crmspec build prepares it (a statement with bound "
        "parameters (CREATE TEMP TABLE bound ...) cannot be printed)")
    assert "ATTACH" not in result.stdout


# -- progress --------------------------------------------------------------------------

PHASES = ["checking the plan, attaching and checking the data",
          "running the plan as of 2026-03-01",
          "deciding the contacts (limits, budgets, control groups)",
          "writing the files of 5 activities",
          "recording the run in the ledger"]


def test_a_build_in_a_log_prints_its_phases_as_plain_lines(tiny):
    result = run("build", "--project", str(tiny))  # CliRunner: not a terminal
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:5] == PHASES
    dry = run("build", "--dry-run", "--project", str(tiny))
    assert dry.stderr.splitlines()[:4] == PHASES[:3] + [
        "costing the messages of 5 activities (dry run)"]


def test_a_build_on_a_terminal_shows_a_rich_progress_display(tiny):
    import io

    from rich.console import Console

    from crmspec.build import build
    from crmspec.cli.console import RichProgress

    buf = io.StringIO()
    progress = RichProgress(Console(file=buf, force_terminal=True, width=100,
                                    color_system=None))
    build(tiny, progress=progress)
    assert not progress.live  # the build finished the display
    final = buf.getvalue().rsplit("\x1b[2K", 1)[-1]  # the last redraw
    lines = [line.split("━")[0].strip() for line in final.splitlines()
             if line.strip() and not line.startswith("\x1b")]  # not the cursor's codes
    assert lines == [f"✓ {p}" for p in PHASES]
    assert "5/5" in final


def test_a_failed_build_leaves_no_progress_display_behind(tiny, monkeypatch):
    """The display is stopped whatever happens, so the diagnostics print cleanly."""
    import crmspec.cli.console as console

    shown = []

    class Recording(console.Lines):
        def finish(self):
            shown.append("finished")

    monkeypatch.setattr(console, "command_progress", lambda: Recording(shown.append))
    (tiny / "plans/shop.yaml").write_text(
        (tiny / "plans/shop.yaml").read_text(encoding="utf-8") + "budget:\n  monthly_cap: 0.1\n",
        encoding="utf-8")
    edit = tiny / "data/customers.csv"
    edit.write_text(edit.read_text(encoding="utf-8").replace("c13,1380000013,",
                                                              "c13,13800000013,"),
                    encoding="utf-8")
    result = run("build", "--strict", "--project", str(tiny))
    assert result.exit_code == 1 and "error[E605]" in result.stderr
    assert shown[-1] == "finished"
