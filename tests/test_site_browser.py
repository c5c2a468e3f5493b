"""The example shop's SOP site in a real browser: headless Chromium (Debian's package,
driven by Playwright) loads the built site from a local HTTP server.

Playwright because it drives the Debian Chromium directly (`executable_path`, no browser
download), reports every request the page makes (so that "nothing outside the local
server" is observed, not assumed), types into the search box like a person and takes
screenshots. A missing browser fails these tests (it is never skipped): `.ci/run`
installs `chromium` and `fonts-noto-cjk` with apt-get.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from crmspec.analysis.evaluate import evaluate
from crmspec.build import build
from crmspec.site import build_site, serving

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CRMSPEC_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-default-apps", "--disable-extensions"]
RUNS = (date(2026, 6, 1), date(2026, 6, 15))  # both response windows close before 07-01
ACTIVITY = "full_month_gift_sms"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The example shop built twice in June (so that the ledger has closed runs), then its
    site built as of the plan's default date."""
    root = tmp_path_factory.mktemp("example")
    shutil.copytree(ROOT / "plans", root / "plans")
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    for day in RUNS:
        build(root, as_of=day)
    result = build_site(root)
    assert result.out_dir == root / "site/build"
    return root


@pytest.fixture(scope="module")
def browser(example, tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium fonts-noto-cjk "
                    "(or set CRMSPEC_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with serving(example / "site/build") as base, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        yield context, base, requests
        context.close()


def open_page(browser, path: str):
    context, base, _ = browser
    page = context.new_page()
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    return page


def test_the_overview_shows_the_contact_plan(browser, example, tmp_path):
    page = open_page(browser, "")
    assert page.locator("h1").first.inner_text().rstrip("¶") == "暖暖家居旗舰店 · SOP archive"
    # one matrix row per activity, each linking to its page
    links = page.locator("table a[href*='activities/']")
    assert links.count() == 46
    stages = page.locator("table").first.locator("tbody tr")
    assert stages.count() == 7
    assert stages.nth(2).locator("td").first.inner_text() == "活跃期 active"
    shot = tmp_path / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    page.close()


def test_an_activity_page_has_the_four_parts_with_its_numbers(browser, example, tmp_path):
    page = open_page(browser, f"activities/{ACTIVITY}/")
    headings = page.locator("h2").all_inner_texts()
    assert [h.rstrip("¶").strip() for h in headings] == [
        "身份证 ID card", "写真照 Portrait", "战功榜 Battle record", "进化图 Evolution"]
    card = page.locator("table").first.inner_text()
    assert "新客活跃期" in card or "new_7_45" in card
    assert "30 days after the last purchase" in card
    rows = {r.run: r for r in evaluate(example, ACTIVITY, save=False).rows if r.level == "run"}
    assert set(rows) == set(RUNS)
    for run in RUNS:
        r = rows[run]
        cells = page.locator(f"tr:has(td:text-is('{run.isoformat()}')) td").all_inner_texts()
        assert cells[1:3] == [f"{r.treatment:,}", f"{r.control:,}"]
        assert cells[5] == f"{r.uplift * 100:+.2f} pp"
    # the message as rendered from the template, with the plan's coupon
    assert "送您15元满月礼券，满99可用，14天有效" in page.locator("blockquote").first.inner_text()
    # the uplift chart: an image the browser decoded, with a size
    chart = page.locator(f"img[src$='{ACTIVITY}.svg']")
    assert chart.count() == 1
    width, height = chart.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert width > 100 and height > 50
    shot = tmp_path / "activity.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    page.close()


def test_the_lifecycle_charts_are_images(browser):
    page = open_page(browser, "lifecycle/")
    sizes = page.locator("img[src$='.svg']").evaluate_all(
        "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(sizes) == 2 and all(w > 100 and h > 50 for w, h in sizes)
    page.close()


def test_a_chinese_search_finds_the_full_month_gift(browser):
    page = open_page(browser, "")
    box = page.locator("input.md-search__input")
    box.click()
    box.press_sequentially("满月礼")
    box.press("End")  # Material searches on key events
    page.wait_for_selector(".md-search-result__item", timeout=15_000)
    hrefs = page.locator(".md-search-result__item > a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    assert any(f"activities/{ACTIVITY}/" in h for h in hrefs)
    page.close()


def test_no_request_left_the_local_server(browser):
    _, base, requests = browser
    assert requests and all(url.startswith(base) for url in requests), [
        url for url in requests if not url.startswith(base)]
