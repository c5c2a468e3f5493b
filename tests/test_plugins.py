"""The plugin manager: defaults, local plugins, CRMSPEC_PLUGINS, failures, overriding."""

import pytest
from click.testing import CliRunner
from conftest import add_plugins

from crmspec.build import build
from crmspec.channels.sms import SmsChannel
from crmspec.cli import main
from crmspec.plugins import (
    DEFAULT_PLUGINS,
    PluginError,
    channel_set,
    collect_channels,
    describe_plugins,
    get_plugin_manager,
)
from crmspec.validate import validate_project

BUILTIN = ["email", "parcel", "phone", "sms", "wangwang", "wechat"]


def failure(root, *plugins, entry_points=False) -> PluginError:
    add_plugins(root, *plugins)
    with pytest.raises(PluginError) as info:
        get_plugin_manager(root, entry_points=entry_points)
    return info.value


def test_a_fresh_manager_per_call_with_the_builtin_channels_as_defaults(tiny):
    a = get_plugin_manager(tiny, entry_points=False)
    b = get_plugin_manager(tiny, entry_points=False)
    assert a is not b
    assert [n for n, _ in a.list_name_plugin()] == list(DEFAULT_PLUGINS)
    assert sorted(collect_channels(a)) == BUILTIN
    for impl in a.hook.register_channels.get_hookimpls():
        assert impl.trylast, impl.plugin_name
    # a plugin registered on one manager does not leak into the next
    add_plugins(tiny, "all_hooks")
    assert "memo" in collect_channels(get_plugin_manager(tiny, entry_points=False))
    assert "memo" not in collect_channels(a)


def test_local_plugins_load_from_top_level_files_only(tiny):
    add_plugins(tiny, "all_hooks")
    nested = tiny / "plugins/some-distribution/inner"
    nested.mkdir(parents=True)
    (nested / "oops.py").write_text("raise SystemExit('must not be imported')\n")
    (tiny / "plugins/_helper.py").write_text("raise SystemExit('private: not a plugin')\n")
    pm = get_plugin_manager(tiny, entry_points=False)
    assert pm.has_plugin("all_hooks") and not pm.has_plugin("oops")


def test_crmspec_plugins_restricts_non_default_plugins(tiny, monkeypatch):
    add_plugins(tiny, "all_hooks", "sms_override")
    monkeypatch.setenv("CRMSPEC_PLUGINS", "sms_override")
    pm = get_plugin_manager(tiny, entry_points=False)
    assert not pm.has_plugin("all_hooks") and pm.has_plugin("sms_override")
    monkeypatch.setenv("CRMSPEC_PLUGINS", "")
    assert sorted(collect_channels(get_plugin_manager(tiny, entry_points=False))) == BUILTIN
    monkeypatch.setenv("CRMSPEC_PLUGINS", "all_hooks, sms_overide")
    with pytest.raises(PluginError) as info:
        get_plugin_manager(tiny, entry_points=False)
    assert [d.text() for d in info.value.diagnostics] == [
        "CRMSPEC_PLUGINS:1:1: error[E505]: CRMSPEC_PLUGINS names plugin 'sms_overide', which "
        "is not installed and not in plugins/\n  hint: plugins found: all_hooks, sms_override"]


def test_an_import_error_names_the_plugin_and_its_line(tiny):
    exc = failure(tiny, "broken_import")
    assert [d.text() for d in exc.diagnostics] == [
        "plugins/broken_import.py:5:1: error[E501]: plugin 'broken_import': failed to load: "
        "ModuleNotFoundError: No module named 'crmspec_no_such_module_xyz'\n"
        "  hint: run with --debug for the traceback"]
    assert isinstance(exc.originals[0], ModuleNotFoundError)


def test_a_syntax_error_in_a_local_plugin_is_located(tiny):
    (tiny / "plugins").mkdir()
    (tiny / "plugins/typo.py").write_text("from crmspec import hookimpl\n\ndef f(:\n    pass\n")
    with pytest.raises(PluginError) as info:
        get_plugin_manager(tiny, entry_points=False)
    [d] = info.value.diagnostics
    assert (d.path, d.line, d.code) == ("plugins/typo.py", 3, "E501")
    assert d.message.startswith("plugin 'typo': failed to load: SyntaxError:")


def test_a_raising_hook_names_the_plugin_and_masks_contact_details(tiny):
    add_plugins(tiny, "raising_hook")
    pm = get_plugin_manager(tiny, entry_points=False)
    with pytest.raises(PluginError) as info:
        collect_channels(pm)
    assert [d.text() for d in info.value.diagnostics] == [
        "plugins/raising_hook.py:9:1: error[E502]: plugin 'raising_hook': hook "
        "register_channels failed: ValueError: cannot reach the channel registry for "
        "138****5678\n  hint: run with --debug for the traceback"]


def test_a_misspelt_hook_fails_loudly(tiny):
    exc = failure(tiny, "misspelt_hook")
    [d] = exc.diagnostics
    assert (d.path, d.line, d.code) == ("plugins/misspelt_hook.py", 6, "E504")
    assert d.message == "plugin 'misspelt_hook': unknown hook 'register_chanels'"
    assert d.hint.startswith("crmspec hooks: register_channels, validate_plan,")


def test_wrappers_and_invalid_channels_are_refused(tiny):
    [d] = failure(tiny, "wrapper_hook").diagnostics
    assert (d.code, d.path) == ("E503", "plugins/wrapper_hook.py")
    (tiny / "plugins/wrapper_hook.py").unlink()
    add_plugins(tiny, "bad_channel")
    with pytest.raises(PluginError) as info:
        collect_channels(get_plugin_manager(tiny, entry_points=False))
    assert [d.text() for d in info.value.diagnostics] == [
        "plugins/bad_channel.py:13:1: error[E503]: plugin 'bad_channel': hook "
        "register_channels returned channel 'fax': contact_field 'fax_number' is not a "
        "customers column"]


def test_a_user_plugin_overrides_a_builtin_channel_and_the_later_one_wins(tiny):
    add_plugins(tiny, "sms_override")
    cs = channel_set(get_plugin_manager(tiny, entry_points=False))
    assert cs.channels["sms"].title == "SMS (other gateway)"
    assert cs.owner["sms"] == "sms_override"
    assert cs.overridden["sms"] == ["crmspec.channels.sms"]
    # two user plugins: the later registered (file name order) wins
    add_plugins(tiny, "sms_override_b")
    cs = channel_set(get_plugin_manager(tiny, entry_points=False))
    assert cs.channels["sms"].title == "SMS (third gateway)"
    assert cs.overridden["sms"] == ["crmspec.channels.sms", "sms_override"]
    infos = {i.name: i for i in describe_plugins(get_plugin_manager(tiny, entry_points=False))}
    assert infos["crmspec.channels.sms"].overridden == ["sms"]
    assert infos["sms_override_b"].channels == ["sms"]
    assert isinstance(cs.channels["sms"], SmsChannel)


def test_the_overriding_writer_is_the_one_used(channels_shop):
    add_plugins(channels_shop, "sms_override")
    out = build(channels_shop, pm=get_plugin_manager(channels_shop, entry_points=False)).out_dir
    assert (out / "sms/winback.csv").read_text(encoding="utf-8").splitlines()[0] == "mobile,msg"


def test_a_plugin_writer_sorting_its_join_writes_the_rows_of_the_unsorted_builtin(channels_shop):
    """The writer contract did not change with the built-in writers' unsorted COPY of
    ctx.table (stored in customer order): a plugin's writer that joins (ctx.rows) and
    says ORDER BY customer_id gets the same rows, in the same order."""
    import csv

    def rows(path, *cols):
        with open(path, encoding="utf-8", newline="") as f:
            return [tuple(r[c] for c in cols) for r in csv.DictReader(f)]

    pm = get_plugin_manager(channels_shop, entry_points=False)
    builtin = rows(build(channels_shop, pm=pm).out_dir / "sms/winback.csv", "phone", "content")
    add_plugins(channels_shop, "sms_override")
    pm = get_plugin_manager(channels_shop, entry_points=False)
    plugin = rows(build(channels_shop, pm=pm).out_dir / "sms/winback.csv", "mobile", "msg")
    assert len(builtin) >= 2 and plugin == builtin


def test_an_unknown_channel_lists_the_plugin_channels_too(tiny):
    add_plugins(tiny, "all_hooks")
    acts = (tiny / "plans/activities.yaml").read_text(encoding="utf-8")
    (tiny / "plans/activities.yaml").write_text(acts.replace("channel: email", "channel: fax"),
                                                encoding="utf-8")
    v = validate_project(tiny, get_plugin_manager(tiny, entry_points=False))
    [d] = [d for d in v.diagnostics if d.code == "E301"]
    assert d.message == "unknown channel 'fax'"
    assert "memo" in d.hint and "wechat" in d.hint


def test_cli_reports_plugin_failures_without_traceback_unless_debug(tiny):
    add_plugins(tiny, "raising_hook")
    runner = CliRunner()
    result = runner.invoke(main, ["validate", "--project", str(tiny)])
    assert result.exit_code == 1
    assert result.stderr.startswith("plugins/raising_hook.py:9:1: error[E502]: plugin "
                                    "'raising_hook': hook register_channels failed")
    assert "Traceback" not in result.output + result.stderr
    debug = runner.invoke(main, ["--debug", "validate", "--project", str(tiny)])
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert 'raising_hook.py", line 9, in register_channels' in debug.stderr
    # import errors too
    (tiny / "plugins/raising_hook.py").unlink()
    add_plugins(tiny, "broken_import")
    result = runner.invoke(main, ["build", "--project", str(tiny)])
    assert result.exit_code == 1
    assert "plugins/broken_import.py:5:1: error[E501]: plugin 'broken_import'" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugins_command_lists_plugins_channels_and_hooks(tiny):
    add_plugins(tiny, "all_hooks", "sms_override")
    result = CliRunner().invoke(main, ["plugins", "--project", str(tiny)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if "all_hooks" in line)
    assert "local (plugins/all_hooks.py)" in row and "memo" in row
    assert "register_channels" in result.output and "register_site_pages" in result.output
    sms = next(line for line in lines if "crmspec.channels.sms" in line)
    assert "overridden: sms" in sms


def test_plugins_command_lists_every_channel_with_its_windows_and_cost(tiny):
    add_plugins(tiny, "all_hooks")
    result = CliRunner().invoke(main, ["plugins", "--project", str(tiny)])
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert "marketing Mon-Fri 10:00-12:00" in rows["sms"] and "0.05 per segment" in rows["sms"]
    assert "Tue-Thu 08:00-10:00" in rows["email"]
    assert "all_hooks" in rows["memo"] and "customer_id" in rows["memo"]


def test_schemas_command_writes_the_project_schemas_with_plugin_options(tiny, tmp_path):
    import json

    from crmspec.plan.schemas import build_schemas, dumps

    add_plugins(tiny, "all_hooks")
    out = tmp_path / "schemas"
    runner = CliRunner()
    result = runner.invoke(main, ["schemas", "--project", str(tiny), "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = build_schemas(collect_channels(get_plugin_manager(tiny, entry_points=False)))
    for kind, schema in expected.items():
        assert (out / f"{kind}.schema.json").read_text(encoding="utf-8") == dumps(schema)
    shop = json.loads((out / "shop.schema.json").read_text(encoding="utf-8"))
    assert "prefix" in shop["properties"]["channels"]["properties"]["memo"]["properties"]
    check = runner.invoke(main, ["schemas", "--project", str(tiny), "--out", str(out), "--check"])
    assert check.exit_code == 0 and "are current" in check.output
    (out / "shop.schema.json").write_text("{}", encoding="utf-8")
    check = runner.invoke(main, ["schemas", "--project", str(tiny), "--out", str(out), "--check"])
    assert check.exit_code == 1 and check.output == f"{out / 'shop.schema.json'}: differ\n"
