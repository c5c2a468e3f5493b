"""The SOP site (crmspec.site): the evolution read from a git repository the test makes,
the battle record against a ledger with simulated responses of a known uplift, plugin
pages, the folder crmspec owns, determinism and masking on a built site, the CLI.

The browser tests (the built site in Chromium) are in test_site_browser.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_simulate import WEEKS, make_project

from crmspec.analysis.evaluate import evaluate
from crmspec.analysis.simulate import simulate
from crmspec.build import build
from crmspec.cli import main
from crmspec.core.diagnostics import PlanError
from crmspec.plugins import get_plugin_manager
from crmspec.site import build_site, gather, render_pages
from crmspec.site.activity import subject
from crmspec.site.history import Change, History, revisions

SOP = """activity: winback
portrait:
  flow:
    - The build selects the lapsed customers.
  checklist:
    - The coupon batch exists.
"""


def git(root: Path, *args: str, when: str = "2026-06-01T10:00:00+08:00") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
           "GIT_AUTHOR_NAME": "王丽", "GIT_AUTHOR_EMAIL": "wang.li@example.com",
           "GIT_COMMITTER_NAME": "王丽", "GIT_COMMITTER_EMAIL": "wang.li@example.com"}
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          env=env, check=True)
    return done.stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def repo(tiny) -> Path:
    """The tiny shop in a git repository: a first commit, then three that change a segment
    threshold, a template and an SOP text."""
    (tiny / "plans/sop").mkdir()
    (tiny / "plans/sop/winback.yaml").write_text(SOP, encoding="utf-8")
    git(tiny, "init", "-q")
    git(tiny, "add", "plans")
    git(tiny, "commit", "-q", "-m", "The tiny shop's plan")
    edit(tiny / "plans/segments.yaml", "{stage: churning, purchases: {min: 1}}",
         "{stage: churning, purchases: {min: 2}}")
    git(tiny, "commit", "-qam", "Win-back: churning customers need two purchases",
        when="2026-06-08T10:00:00+08:00")
    edit(tiny / "plans/templates/winback.sms.j2", "10元回归券", "15元回归券")
    git(tiny, "commit", "-qam", "Win-back coupon 10 -> 15", when="2026-06-15T10:00:00+08:00")
    edit(tiny / "plans/sop/winback.yaml", "selects the lapsed customers.",
         "selects the lapsed customers; staff check the list.")
    git(tiny, "commit", "-qam", "Win-back SOP: staff check the list",
        when="2026-06-22T10:00:00+08:00")
    return tiny


def test_the_evolution_names_each_changed_field_from_git_history(repo, tiny):
    history = History.read(repo)
    revs = revisions(history, subject(gather(repo).plan.activities[4]))
    assert [(r.date.date().isoformat(), r.author, r.message) for r in revs] == [
        ("2026-06-01", "王丽", "The tiny shop's plan"),
        ("2026-06-08", "王丽", "Win-back: churning customers need two purchases"),
        ("2026-06-15", "王丽", "Win-back coupon 10 -> 15"),
        ("2026-06-22", "王丽", "Win-back SOP: staff check the list")]
    first = {c.field for c in revs[0].changes}
    assert {"activity.id", "activity.segment", "segment lapsed.name", "template sms",
            "sop.portrait.flow"} <= first and all(c.old is None for c in revs[0].changes)
    assert revs[1].changes == [Change("segment lapsed.where.any_of[2].purchases.min", "1", "2")]
    old_text = "{{ customer.name or \"亲\" }}，好久不见！{{ shop.name }}送您10元回归券，7天内有效\n"
    assert revs[2].changes == [Change("template sms", old_text,
                                      old_text.replace("10元", "15元"))]
    assert revs[3].changes == [Change("sop.portrait.flow",
                                      "[The build selects the lapsed customers.]",
                                      "[The build selects the lapsed customers; staff check "
                                      "the list.]")]
    # an activity the commits did not touch after the first has only that one
    assert len(revisions(history, subject(gather(repo).plan.activities[0]))) == 1


def test_the_evolution_section_of_the_page(repo):
    files, _ = render_pages(gather(repo), get_plugin_manager(repo))
    page = files["activities/winback.md"]
    evolution = page[page.index("## 进化图 Evolution"):]
    assert evolution.index("### 2026-06-22 · Win-back SOP") < evolution.index(
        "### 2026-06-15 · Win-back coupon 10 -&gt; 15") < evolution.index("### 2026-06-08")
    assert ("| `segment lapsed.where.any_of[2].purchases.min` | 1 | 2 |" in evolution)
    assert "| `template sms` | {{ customer.name or \"亲\" }}，好久不见！{{ shop.name }}送您10元" \
        in evolution
    assert "王丽 · commit" in evolution
    assert "@" not in page  # the author's email never reaches the site
    # no ledger: before/after has no run to show
    assert "*No recorded run before or after this revision.*" in evolution


def test_no_git_repository_no_evolution(tiny):
    files, _ = render_pages(gather(tiny), get_plugin_manager(tiny))
    assert "No revision in git history" in files["activities/winback.md"]


@pytest.fixture(scope="module")
def simulated_shop(tmp_path_factory) -> Path:
    """Two weekly builds of a demo shop, each followed by a simulated response: win-back's
    true uplift is +6 points, care's 0 (test_simulate.py)."""
    root = make_project(tmp_path_factory.mktemp("sim") / "shop")
    for day in WEEKS[:2]:
        build(root, as_of=date.fromisoformat(day))
        simulate(root, root / "truth.yaml")
    return root


def row_of(page: str, first_cell: str) -> list[str]:
    line = next(x for x in page.splitlines() if x.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_the_battle_record_shows_every_run_as_evaluate_computes_it(simulated_shop):
    as_of = date(2026, 7, 5)  # both windows closed
    files, _ = render_pages(gather(simulated_shop, as_of), get_plugin_manager(simulated_shop))
    page = files["activities/winback.md"]
    record = page[page.index("## 战功榜"):page.index("## 进化图")]
    truth = {(r.level, r.run): r for r in evaluate(simulated_shop, "winback", as_of=as_of,
                                                  save=False).rows}
    for run in WEEKS[:2]:
        r = truth[("run", date.fromisoformat(run))]
        cells = row_of(record, run)
        assert cells[1:4] == [f"{r.treatment:,}", f"{r.control:,}",
                              f"{r.treatment_responders:,} / {r.control_responders:,}"]
        assert cells[5] == f"{r.uplift * 100:+.2f} pp"
    pooled = truth[("activity", None)]
    cells = row_of(record, "all (2 runs)")
    low, high = (float(x) for x in re.findall(r"[-+][0-9.]+", cells[6]))
    assert cells[6] == f"[{pooled.uplift_low * 100:+.2f}, {pooled.uplift_high * 100:+.2f}] pp"
    assert low <= 6.0 <= high  # the simulation's true uplift, in the interval shown
    assert cells[8] == "significant"
    assert "![召回: uplift per run](../charts/winback.svg)" in record
    assert files["charts/winback.svg"].startswith("<?xml")


def test_a_run_whose_window_is_open_is_pending(simulated_shop):
    files, _ = render_pages(gather(simulated_shop, date(2026, 6, 10)),
                            get_plugin_manager(simulated_shop))
    record = files["activities/winback.md"]
    cells = row_of(record, WEEKS[1])  # sent 06-08, the 7-day window closes 06-15
    assert cells[3:9] == ["", "", "", "", "", "pending"]


def test_the_webhook_plugin_adds_a_page(tiny, tmp_path):
    from test_webhook_plugin import add_webhook_activity  # noqa: F401 - fixture module

    plugin = tmp_path / "plugins"
    plugin.mkdir()
    src = Path(__file__).resolve().parent.parent / "plugins/crmspec-webhook/crmspec_webhook"
    (tiny / "plugins").mkdir()
    shutil.copy(src / "__init__.py", tiny / "plugins/webhook.py")  # as a local plugin
    add_webhook_activity(tiny)
    build(tiny)
    files, nav = render_pages(gather(tiny), get_plugin_manager(tiny, entry_points=False))
    assert files["webhook.md"].splitlines()[-1] == "| `scrm_sync` | 私域同步 | 4 |"
    assert nav[-1] == {"插件 Plugins": [{"Webhook exports": "webhook.md"}]}


def test_a_docs_folder_crmspec_did_not_write_is_refused_and_kept(tiny):
    docs = tiny / "site/docs"
    docs.mkdir(parents=True)
    (docs / "handbook.md").write_text("# 手册\n", encoding="utf-8")
    with pytest.raises(PlanError) as err:
        build_site(tiny)
    [d] = err.value.diagnostics
    assert d.text() == (f"mkdocs.yml:1:1: error[E703]: docs_dir {docs} holds files crmspec "
                        "did not write\n  hint: point mkdocs.yml docs_dir at a folder of its "
                        "own (crmspec replaces it on every build), e.g. site/docs")
    assert (docs / "handbook.md").read_text(encoding="utf-8") == "# 手册\n"


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


PHONE = re.compile(rb"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+")


def contact_details_in(site: Path, data: Path) -> list[tuple[str, bytes]]:
    """Every phone number or email in the built site: each of the shop's own (customers.csv)
    anywhere, and any that looks like one in every file that is not the theme's own asset
    copied byte for byte (Material's scripts credit their authors by email)."""
    import csv

    import material

    theme = Path(material.__file__).parent / "templates"
    with (data / "customers.csv").open(encoding="utf-8") as f:
        own = {v.encode() for row in csv.DictReader(f) for k, v in row.items()
               if k in ("mobile", "phone", "email") and v}
    assert len(own) > 10
    found = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        rel, body = path.relative_to(site).as_posix(), path.read_bytes()
        found += [(rel, v) for v in own if v in body]
        copy = theme / rel
        if copy.is_file() and copy.read_bytes() == body:
            continue
        found += [(rel, m) for m in PHONE.findall(body) + EMAIL.findall(body)]
    return found


def test_the_cli_builds_the_site_the_same_bytes_twice_without_contact_details(tiny, tmp_path):
    build(tiny)
    runner = CliRunner()
    first = runner.invoke(main, ["site", "--project", str(tiny), "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    assert first.stderr.splitlines()[0] == ("wrote mkdocs.yml (the site's theme, search and "
                                            "Markdown extensions)")
    assert re.fullmatch(rf"site: 10 pages in {re.escape(str(tmp_path / 'a'))} \(\d+\.\d s\)\n",
                        first.stdout)
    second = runner.invoke(main, ["site", "--project", str(tiny), "--out", str(tmp_path / "b")])
    assert second.exit_code == 0, second.output
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert a == b and "activities/winback/index.html" in a and "search/search_index.json" in a
    # the tiny shop's customers have real-looking numbers and emails: none is in the site
    assert contact_details_in(tmp_path / "a", tiny / "data") == []
