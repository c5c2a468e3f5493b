"""The example third-party plugin plugins/crmspec-webhook, installed for real.

It is pip-installed (from a copy, so the source tree stays clean) into a temporary folder
put on sys.path for this module only: importlib.metadata then finds its dist-info and
entry point, exactly as in a shop's environment, without touching the test environment.
The install needs no package index: no build isolation (the test environment's
setuptools, a dependency of the test extra, builds it), no index, no dependencies.
"""

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmspec.build import build
from crmspec.cli import main
from crmspec.plugins import channel_set, describe_plugins, get_plugin_manager
from crmspec.validate import validate_project

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    src = tmp_path_factory.mktemp("src") / "crmspec-webhook"
    shutil.copytree(ROOT / "plugins/crmspec-webhook", src)
    target = tmp_path_factory.mktemp("site-packages")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(src)],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.split(".")[0] == "crmspec_webhook"]:
        del sys.modules[name]
    importlib.invalidate_caches()


def add_webhook_activity(root: Path) -> None:
    acts = root / "plans/activities.yaml"
    acts.write_text(acts.read_text(encoding="utf-8") + """\
  - id: scrm_sync
    name: 私域同步
    kind: maintenance
    stage: [active]
    segment: active_not_fans
    channel: webhook
    template: scrm_sync
    channel_options: {max_length: 60}
""", encoding="utf-8")
    (root / "plans/templates/scrm_sync.webhook.j2").write_text(
        "{{ customer.name or '亲' }}，{{ stage.name }}关怀\n", encoding="utf-8")


def test_the_entry_point_plugin_loads_with_its_distribution(installed, channels_shop):
    pm = get_plugin_manager(channels_shop)
    cs = channel_set(pm)
    assert cs.owner["webhook"] == "webhook"
    info = next(i for i in describe_plugins(pm) if i.name == "webhook")
    assert info.source == "entry point (crmspec-webhook 0.1.0)"
    assert info.hooks == ["register_channels", "register_site_pages"]
    assert info.channels == ["webhook"]


def test_a_build_writes_the_webhook_json_lines(installed, channels_shop):
    add_webhook_activity(channels_shop)
    result = build(channels_shop)
    entry = next(a for a in result.manifest["activities"] if a["id"] == "scrm_sync")
    assert entry["files"] == ["webhook/scrm_sync.jsonl", "audience/scrm_sync.csv"]
    lines = (result.out_dir / "webhook/scrm_sync.jsonl").read_text(encoding="utf-8")
    # active_not_fans: c03, c14, c15, c16 (see test_build_tiny); c14/c16 have no name
    assert [json.loads(line) for line in lines.splitlines()] == [
        {"customer_id": "c03", "address": "13800000003", "message": "张三，活跃期关怀",
         "activity": "scrm_sync"},
        {"customer_id": "c14", "address": "13800000014", "message": "亲，活跃期关怀",
         "activity": "scrm_sync"},
        {"customer_id": "c15", "address": "13800000015", "message": "王,五，活跃期关怀",
         "activity": "scrm_sync"},
        {"customer_id": "c16", "address": "13800000016", "message": "亲，活跃期关怀",
         "activity": "scrm_sync"},
    ]


def test_its_options_and_limit_are_validated(installed, channels_shop):
    add_webhook_activity(channels_shop)
    tpl = channels_shop / "plans/templates/scrm_sync.webhook.j2"
    tpl.write_text("{{ customer.nick }}" + "长" * 50 + "\n", encoding="utf-8")
    acts = channels_shop / "plans/activities.yaml"
    acts.write_text(acts.read_text(encoding="utf-8").replace("max_length: 60",
                                                             "max_lenght: 60"), encoding="utf-8")
    assert [d.text() for d in validate_project(channels_shop).diagnostics] == [
        "plans/activities.yaml:77:23: error[E202]: unknown key 'max_lenght'\n"
        "  hint: did you mean 'max_length'?"]
    acts.write_text(acts.read_text(encoding="utf-8").replace("max_lenght: 60",
                                                             "max_length: 60"), encoding="utf-8")
    [d] = validate_project(channels_shop).diagnostics
    assert d.text().startswith("plans/templates/scrm_sync.webhook.j2:1:1: error[E514]: the "
                               "webhook text of activity 'scrm_sync' can be 70 characters "
                               "long, over the limit of 60")


def test_crmspec_plugins_can_leave_it_out(installed, channels_shop, monkeypatch):
    add_webhook_activity(channels_shop)
    monkeypatch.setenv("CRMSPEC_PLUGINS", "")
    [d] = [d for d in validate_project(channels_shop).diagnostics if d.code == "E301"]
    assert d.text() == ("plans/activities.yaml:75:14: error[E301]: unknown channel 'webhook'\n"
                        "  hint: known channels: email, parcel, phone, sms, wangwang, wechat")


def test_crmspec_plugins_command_shows_it(installed, channels_shop):
    result = CliRunner().invoke(main, ["plugins", "--project", str(channels_shop)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "│ webhook" in line)
    assert "entry point (crmspec-webhook 0.1.0)" in row and "register_channels" in row
