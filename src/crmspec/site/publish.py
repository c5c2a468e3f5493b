"""The pages become a site: written into MkDocs' docs folder, built by MkDocs with
Material into the output folder.

`mkdocs.yml` (the project root) is the theme, the navigation's look, the search and the
Markdown extensions; crmspec supplies the pages and the navigation (`nav`), so the
configuration stays to what Material and its successor read. Paths in it are relative to
its folder: `docs_dir` is where crmspec writes the pages (a folder it owns: one that holds
files crmspec did not write is refused, E703), `site_dir` the default output, and the
search plugin's `jieba_dict_user` where the shop's terms are written (`terms`).

Both folders are swapped into place whole (`crmspec.outputs.files.atomic_dir`): a
failed build leaves the previous site as it was. The build is reproducible: MkDocs'
timestamps come from SOURCE_DATE_EPOCH, set to the data's as-of date.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Iterator

from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.outputs.files import atomic_dir

CONFIG = "mkdocs.yml"
MARKER = ".crmspec-site"  # in docs_dir: crmspec wrote this folder (MkDocs skips dotfiles)

DEFAULT_CONFIG = """\
# The shop's SOP site (`crmspec site`): crmspec writes the pages into docs_dir and sets
# the navigation; this file keeps to the theme, search and Markdown extensions, so that
# the site survives a change of engine. Paths are relative to this file.
site_name: {name}
docs_dir: site/docs          # written by crmspec site (git-ignore it)
site_dir: site/build         # the built site (git-ignore it)
use_directory_urls: true
theme:
  name: material
  language: zh
  font: false                # no Google Fonts: the site works offline
  features:
    - navigation.sections
    - navigation.top
    - search.highlight
plugins:
  - search:
      lang: [zh, en]
      jieba_dict_user: site/terms.txt   # the shop's terms, written by crmspec site
markdown_extensions:
  - tables
  - attr_list
  - toc:
      permalink: true
"""


def default_config(shop_name: str) -> str:
    """The mkdocs.yml of a new shop (`crmspec site` writes it when there is none)."""
    import json

    return DEFAULT_CONFIG.format(name=json.dumps(shop_name, ensure_ascii=False))


def _error(code: str, message: str, hint: str, path: str = CONFIG) -> PlanError:
    return PlanError([Diagnostic(path, 1, 1, code, message, hint)])


def _docs_dir(config: Path) -> Path:
    """mkdocs.yml's docs_dir, read before MkDocs loads the file (which wants it to exist)."""
    from mkdocs.utils.yaml import yaml_load

    try:
        with config.open("rb") as f:
            raw = yaml_load(f) or {}
    except Exception as exc:  # noqa: BLE001 - any YAML problem is the file's
        raise _error("E706", f"mkdocs.yml cannot be read: {str(exc).splitlines()[0]}",
                     "fix the YAML (docs/site.md shows the expected file)") from None
    if not isinstance(raw, dict):
        raise _error("E706", "mkdocs.yml is not a mapping of settings",
                     "docs/site.md shows the expected file")
    return (config.parent / str(raw.get("docs_dir", "docs"))).resolve()


def _load(config: Path, nav: list):
    try:
        from mkdocs.config import load_config
        from mkdocs.exceptions import Abort, ConfigurationError
    except ImportError:
        raise _error("E705", "MkDocs is not installed",
                     "install the site extra: pip install 'crmspec[site]'") from None
    docs = _docs_dir(config)
    _owned(docs)
    docs.mkdir(parents=True, exist_ok=True)
    with _quiet(logging.ERROR) as problems:
        try:
            return load_config(config_file=str(config), nav=nav)
        except (Abort, ConfigurationError) as exc:
            said = "; ".join(problems) or str(exc)
            raise _error("E706", f"mkdocs.yml is not a valid MkDocs configuration: {said}",
                         "docs/site.md shows the expected file") from None


def _owned(folder: Path) -> None:
    """Refuse to replace a folder crmspec did not write (hand-written docs are lost)."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise _error("E703", f"docs_dir {folder} holds files crmspec did not write",
                     "point mkdocs.yml docs_dir at a folder of its own (crmspec replaces "
                     "it on every build), e.g. site/docs")


def _search_plugin(cfg):
    for name, plugin in cfg.plugins.items():
        if name.endswith("search") and "jieba_dict_user" in getattr(plugin, "config", {}):
            return plugin
    return None


@contextmanager
def _quiet(level: int = logging.WARNING) -> Iterator[list[str]]:
    """MkDocs' and jieba's log lines collected (those of `level` and above), not printed."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= level:
                found.append(record.getMessage())

    handler = Collect()
    loggers = [logging.getLogger(n) for n in ("mkdocs", "material", "jieba")]
    saved = [(lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    for lg in loggers:
        lg.handlers = [handler]
        lg.propagate = False
        lg.setLevel(logging.WARNING)
    try:
        yield found
    finally:
        for lg, (level, propagate, handlers) in zip(loggers, saved):
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)


@contextmanager
def _build_date(as_of: date) -> Iterator[None]:
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = datetime(as_of.year, as_of.month, as_of.day, tzinfo=timezone.utc).timestamp()
    os.environ["SOURCE_DATE_EPOCH"] = str(int(stamp))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved


def publish(root: Path, files: dict[str, str], nav: list, terms: str, as_of: date,
            out: Path | None = None) -> tuple[Path, list[str]]:
    """Write `files` (docs-relative path -> text) and build the site; returns the output
    folder and MkDocs' warnings."""
    config = root / CONFIG
    cfg = _load(config, nav)
    with atomic_dir(Path(cfg.docs_dir)) as tmp:
        (tmp / MARKER).write_text("written by crmspec site; replaced on every build\n",
                                  encoding="utf-8")
        for rel, text in sorted(files.items()):
            target = tmp / PurePosixPath(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    search = _search_plugin(cfg)
    if search is not None and search.config.get("jieba_dict_user"):
        dictionary = (config.parent / search.config["jieba_dict_user"]).resolve()
        dictionary.parent.mkdir(parents=True, exist_ok=True)
        dictionary.write_text(terms, encoding="utf-8")
        search.config["jieba_dict_user"] = str(dictionary)
    target = (out or Path(cfg.site_dir)).resolve()
    from mkdocs.commands.build import build

    with _build_date(as_of), _quiet() as warnings, atomic_dir(target) as tmp:
        cfg["site_dir"] = str(tmp)
        cfg.plugins.on_startup(command="build", dirty=False)
        try:
            build(cfg)
        finally:
            cfg.plugins.on_shutdown()
    return target, warnings
