"""One test per hook of crmspec.hookspecs, with the test plugin tests/plugins/all_hooks.py.

`test_every_hook_has_a_test` fails when a hook is added to hookspecs without a test here
(each test registers the hook it covers with @covers).
"""

import csv
import inspect
import json

from click.testing import CliRunner
from conftest import add_plugins

from crmspec import hookspecs
from crmspec.build import build
from crmspec.cli import main
from crmspec.plugins import (
    HOOKS,
    collect_channels,
    collect_commands,
    collect_site_pages,
    get_plugin_manager,
)
from crmspec.templates import make_environment
from crmspec.validate import validate_project

TESTED: dict[str, str] = {}


def covers(hook):
    def mark(fn):
        TESTED[hook] = fn.__name__
        return fn
    return mark


def manager(root):
    add_plugins(root, "all_hooks")
    return get_plugin_manager(root, entry_points=False)


def test_every_hook_has_a_test():
    assert sorted(TESTED) == sorted(HOOKS)
    assert set(HOOKS) == {"register_channels", "validate_plan", "prepare_connection",
                          "prepare_jinja_environment", "build_finished", "register_commands",
                          "register_site_pages"}


def test_every_hook_is_documented():
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 80, name
        assert "Called" in doc and ("Returns" in doc or "returns" in doc), name


@covers("register_channels")
def test_register_channels_adds_a_channel_usable_in_plans(tiny):
    pm = manager(tiny)
    channels = collect_channels(pm)
    assert sorted(channels) == ["email", "memo", "parcel", "phone", "sms", "wangwang", "wechat"]
    (tiny / "plans/templates/care.memo.j2").write_text("{{ stage.name }}，{{ customer.id }}\n",
                                                       encoding="utf-8")
    acts = (tiny / "plans/activities.yaml").read_text(encoding="utf-8")
    acts = acts.replace("    template: active_care\n", "    template: care\n").replace(
        "    segment: active_not_fans\n    channel: sms\n",
        "    segment: active_not_fans\n    channel: memo\n    channel_options: {prefix: 关怀}\n")
    (tiny / "plans/activities.yaml").write_text(acts, encoding="utf-8")
    result = build(tiny, pm=manager(tiny))
    with open(result.out_dir / "memo/active_care.csv", encoding="utf-8", newline="") as f:
        assert list(csv.reader(f)) == [
            ["customer_id", "memo", "loud"],
            ["c03", "关怀: 活跃期，c03", "C03!"],
            ["c14", "关怀: 活跃期，c14", "C14!"],
            ["c15", "关怀: 活跃期，c15", "C15!"],
            ["c16", "关怀: 活跃期，c16", "C16!"],
        ]
    # its options are part of the schema validate checks against
    bad = acts.replace("{prefix: 关怀}", "{prefx: 关怀}")
    (tiny / "plans/activities.yaml").write_text(bad, encoding="utf-8")
    v = validate_project(tiny, manager(tiny))
    assert [d.text() for d in v.diagnostics] == [
        "plans/activities.yaml:33:23: error[E202]: unknown key 'prefx'\n"
        "  hint: did you mean 'prefix'?",
        # checked around the broken activity: no activity uses the SMS template any more
        "plans/templates/active_care.sms.j2:1:1: warning[W519]: template file not used by "
        "any activity (no activity on channel 'sms' says template: active_care)"]


@covers("validate_plan")
def test_validate_plan_diagnostics_are_reported_with_the_plan_line(tiny):
    acts = (tiny / "plans/activities.yaml").read_text(encoding="utf-8")
    (tiny / "plans/activities.yaml").write_text(acts.replace("name: 召回", "name: 召回!"),
                                                encoding="utf-8")
    v = validate_project(tiny, manager(tiny))
    assert [d.text() for d in v.diagnostics] == [
        "plans/activities.yaml:35:11: warning[W901]: activity 'winback' shouts"]


@covers("prepare_connection")
def test_prepare_connection_runs_before_the_plan(tiny):
    import duckdb

    from crmspec.engine.session import prepare

    con = duckdb.connect()
    try:
        prepare(tiny, None, con, pm=manager(tiny))
        assert con.execute("SELECT shout('ok'), shop FROM plugin_note").fetchall() == [
            ("OK!", "小测试店")]
    finally:
        con.close()


@covers("prepare_jinja_environment")
def test_prepare_jinja_environment_adds_filters(tiny):
    pm = manager(tiny)
    env = make_environment(tiny, collect_channels(pm), pm, None)
    assert env.from_string("{{ '好' | shout }}").render() == "好!"
    # and templates using the filter validate
    (tiny / "plans/templates/winback.sms.j2").unlink()  # replaced by w
    (tiny / "plans/templates/w.sms.j2").write_text("{{ shop.name | shout }}\n", encoding="utf-8")
    acts = (tiny / "plans/activities.yaml").read_text(encoding="utf-8")
    (tiny / "plans/activities.yaml").write_text(
        acts.replace("    template: winback\n", "    template: w\n"),
        encoding="utf-8")
    assert validate_project(tiny, manager(tiny)).diagnostics == []
    # without the plugin the filter is unknown: an error at the template line
    (tiny / "plugins/all_hooks.py").unlink()
    v = validate_project(tiny, get_plugin_manager(tiny, entry_points=False))
    assert [d.text() for d in v.diagnostics] == [
        "plans/templates/w.sms.j2:1:1: error[E512]: template error: No filter named 'shout'."]


@covers("build_finished")
def test_build_finished_sees_the_outputs_in_place(tiny):
    result = build(tiny, pm=manager(tiny))
    handed = (result.out_dir / "handed_over.txt").read_text(encoding="utf-8").split()
    assert handed == [f for a in result.manifest["activities"] for f in a["files"]]
    assert "audience/winback.csv" in handed
    # not called on a dry run
    out = tiny / "dry"
    build(tiny, out=out, dry_run=True, pm=manager(tiny))
    assert not out.exists()


@covers("register_commands")
def test_register_commands_adds_cli_commands(tiny, monkeypatch):
    pm = manager(tiny)
    assert {k: v[0] for k, v in collect_commands(pm).items()} == {
        "explode": "all_hooks", "hello": "all_hooks"}
    monkeypatch.chdir(tiny)
    runner = CliRunner()
    result = runner.invoke(main, ["hello", "店主"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello 店主\n"
    assert "hello" in runner.invoke(main, ["--help"]).output
    # a failing plugin command names the plugin, without a traceback
    failed = runner.invoke(main, ["explode"])
    assert failed.exit_code == 1
    assert failed.stderr.splitlines()[0].startswith("plugins/all_hooks.py:")
    assert "error[E502]: plugin 'all_hooks': command 'explode' failed: RuntimeError: kaboom" \
        in failed.stderr
    assert "Traceback" not in failed.stderr


@covers("register_site_pages")
def test_register_site_pages_collects_checked_pages(tiny):
    pm = manager(tiny)
    plan = validate_project(tiny, pm).plan
    pages = collect_site_pages(pm, plan, {"activities": [{"sent": 3}, {"sent": 4}]})
    assert [(p.plugin, p.path, p.text) for p in pages] == [
        ("all_hooks", "plugins/memo.md", "# Memo\n\n小测试店: 7 sent\n")]
    assert collect_site_pages(pm, plan, None)[0].text == "# Memo\n\n小测试店: 0 sent\n"
    add_plugins(tiny, "bad_site_page")
    from crmspec.plugins import PluginError

    try:
        collect_site_pages(get_plugin_manager(tiny, entry_points=False), plan, None)
    except PluginError as exc:
        [d] = exc.diagnostics
        assert d.code == "E503" and d.path == "plugins/bad_site_page.py" and d.line == 6
        assert d.message == ("plugin 'bad_site_page': hook register_site_pages returned page "
                             "path '../escape.md': it must be relative, stay inside the site "
                             "and end with .md")
    else:
        raise AssertionError("a page outside the site was accepted")


def test_plugins_json_lists_hooks_per_plugin(tiny):
    add_plugins(tiny, "all_hooks")
    result = CliRunner().invoke(main, ["plugins", "--project", str(tiny), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    mine = next(p for p in data["plugins"] if p["name"] == "all_hooks")
    assert mine == {"name": "all_hooks", "source": "local (plugins/all_hooks.py)",
                    "hooks": sorted(HOOKS), "channels": ["memo"], "overridden": []}
