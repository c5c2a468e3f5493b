"""The SOP site (`crmspec site`): every activity's ID card, portrait, battle record and
evolution, and the shop's pages, with the shop's numbers, as a searchable MkDocs site.

The flow: `inputs.gather` reads everything in one session (plan, templates, the latest
manifest, the ledger's runs evaluated, the KPIs, the spend per month) plus the git
history (`history`); `activity` and `shop` turn it into Markdown pages and SVG charts
(`charts`), plugins add theirs (`register_site_pages`); every page is masked
(`crmspec.core.mask.mask_text`: no phone number or email reaches the site), the shop's
terms become jieba's user dictionary (`terms`), and `publish` writes the pages and runs
MkDocs with Material. `serve` serves the result on 127.0.0.1.

Deterministic: the same plan, ledger, git history and as-of date give the same bytes.
Offline: no CDN, no web font, no script from elsewhere; charts are pre-rendered SVG.

May import: `crmspec.analysis`, `crmspec.engine`, `crmspec.plugins`, `crmspec.outputs`,
`crmspec.templates`, `crmspec.contact`, `crmspec.channels`, `crmspec.plan`,
`crmspec.core` (it sits above `analysis` and `build`, below `cli`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pluggy

from crmspec.core.diagnostics import PlanError
from crmspec.core.mask import mask_text
from crmspec.plugins import collect_site_pages, get_plugin_manager
from crmspec.plugins.failures import invalid_result
from crmspec.site import shop
from crmspec.site.activity import activity_page, page_path
from crmspec.site.inputs import SiteData, gather
from crmspec.site.publish import CONFIG, default_config, publish
from crmspec.site.serve import serve_forever, serving
from crmspec.site.terms import shop_terms, user_dictionary

PLUGIN_DIR = "plugins"  # nav section of the pages plugins add


@dataclass
class SiteResult:
    out_dir: Path
    pages: list[str]  # docs-relative paths of the Markdown pages
    seconds: float
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _title(text: str, fallback: str) -> str:
    m = re.search(r"^#\s+(.+)$", text, re.M)
    return m.group(1).strip() if m else fallback


def _nav(data: SiteData, plugin_pages: dict[str, str]) -> list:
    plan = data.plan
    nav: list = [{"总览 Overview": "index.md"}, {"生命周期 Lifecycle": "lifecycle.md"},
                 {"KPI": "kpis.md"}, {"日历 Calendar": "calendar.md"},
                 {"预算 Budget": "budget.md"}]
    by_stage = []
    for s in plan.stages:
        acts = [a for a in plan.activities if a.stages and a.stages[0] == s.id]
        if acts:
            by_stage.append({f"{s.name} {s.id}": [{a.name: page_path(a.id)} for a in acts]})
    nav.append({"活动 Activities": by_stage})
    if plugin_pages:
        nav.append({"插件 Plugins": [{_title(t, p): p} for p, t in sorted(plugin_pages.items())]})
    return nav


def render_pages(data: SiteData, pm: pluggy.PluginManager) -> tuple[dict[str, str], list]:
    """Every file of the docs folder (path -> text, masked) and the navigation."""
    files: dict[str, str] = {}
    for make in (shop.overview, shop.lifecycle, shop.kpi_page, shop.calendar_page,
                 shop.budget_page):
        files.update(make(data))
    sops = {s.activity: s for s in data.plan.sops}
    for a in data.plan.activities:
        files.update(activity_page(data, a, sops.get(a.id)))
    plugin_pages: dict[str, str] = {}
    for page in collect_site_pages(pm, data.plan, data.manifest):
        if page.path in files:
            raise invalid_result(pm, page.plugin, "register_site_pages",
                                 f"page '{page.path}', which crmspec itself writes")
        plugin_pages[page.path] = page.text
    files.update(plugin_pages)
    return {p: mask_text(t) for p, t in files.items()}, _nav(data, plugin_pages)


def build_site(root: Path, out: Path | None = None, as_of: date | None = None,
               pm: pluggy.PluginManager | None = None) -> SiteResult:
    """`crmspec site`: the pages written and the site built (raises PlanError)."""
    started = time.perf_counter()
    notes = []
    config = root / CONFIG
    pm = pm if pm is not None else get_plugin_manager(root)
    data = gather(root, as_of, pm)
    if not config.exists():
        config.write_text(default_config(data.plan.shop.name), encoding="utf-8")
        notes.append(f"wrote {CONFIG} (the site's theme, search and Markdown extensions)")
    files, nav = render_pages(data, pm)
    target, warnings = publish(root, files, nav, user_dictionary(data.plan), data.as_of, out)
    pages = sorted(p for p in files if p.endswith(".md"))
    return SiteResult(target, pages, time.perf_counter() - started, warnings, notes)


__all__ = ["PlanError", "SiteData", "SiteResult", "build_site", "default_config", "gather",
           "render_pages", "serve_forever", "serving", "shop_terms", "user_dictionary"]
