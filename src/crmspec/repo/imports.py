"""`crmspec import FORMAT FILE...`: a shop's exports into its canonical tables.

The data goes into the shop's DuckDB file: `data.path` when shop.yaml already reads a
DuckDB file, else `data/shop.duckdb`. A shop still on the demo data is switched to it:
the `source` and `path` values of shop.yaml's `data` are rewritten in place (comments
and everything else stay as written), so that the next build reads the import. A shop
whose data is a folder of csv/Parquet files reads its files as they are and is not
imported into (the error says what to change).

Only shop.yaml is read (and checked against its schema): an import does not need the
rest of the plan to be valid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crmspec.core.diagnostics import Diagnostic, PlanError, has_errors
from crmspec.core.sql import sql_str
from crmspec.data.importers import FORMATS, ImportReport, import_exports
from crmspec.data.mapping import unknown_columns
from crmspec.engine.connection import connect
from crmspec.plan.checks.shop import check_shop_paths
from crmspec.plan.load import Document, load_file
from crmspec.plan.model import shop_settings
from crmspec.plan.project import PLAN_DIR
from crmspec.plan.schema_check import check_schema
from crmspec.plan.schemas import build_schemas
from crmspec.plugins import collect_channels, get_plugin_manager

IMPORTED = "data/shop.duckdb"  # where a shop's first import goes


@dataclass
class Imported:
    report: ImportReport
    switched: bool  # shop.yaml now reads the import (it read the demo before)
    ledger_moved: Path | None = None  # the demo's contact ledger, set aside


def _shop_document(root: Path) -> Document:
    file = root / PLAN_DIR / "shop.yaml"
    if not file.is_file():
        raise PlanError([_missing(root)])
    doc = load_file(file, f"{PLAN_DIR}/shop.yaml")
    schema = build_schemas(collect_channels(get_plugin_manager(root)))["shop"]
    problems = check_schema(doc, "shop", schema)
    if has_errors(problems):
        raise PlanError(problems)
    return doc


def _missing(root: Path) -> Diagnostic:
    return Diagnostic(str(root / PLAN_DIR / "shop.yaml"), 1, 1, "E109",
                      "no plans/shop.yaml here: import into a shop repository",
                      "`crmspec init DIR` writes one; or pass --into DIR")


def _point_at_import(doc: Document, file: Path) -> None:
    """Rewrite shop.yaml's data.source and data.path values to the imported database,
    keeping the rest of the file byte for byte."""
    text = file.read_text(encoding="utf-8")
    bom = "\ufeff" if text.startswith("\ufeff") else ""  # the marks count without it
    text = text[len(bom):]
    edits = []
    for key, value in (("source", "duckdb"), ("path", IMPORTED)):
        _, node = doc.node(("data", key))
        edits.append((node.start_mark.index, node.end_mark.index, value))
    for start, end, value in sorted(edits, reverse=True):
        text = text[:start] + value + text[end:]
    tmp = file.with_name(f".{file.name}.tmp")
    tmp.write_text(bom + text, encoding="utf-8")
    os.replace(tmp, file)


def import_into(root: Path, fmt: str, files: list[Path], table: str = "orders") -> Imported:
    """Import `files` of format `fmt` (a key of FORMATS) into the shop at `root`."""
    assert fmt in FORMATS
    doc = _shop_document(root)
    shop = shop_settings(doc)
    if outside := check_shop_paths(shop):  # import writes the data file and the ledger
        raise PlanError(outside)
    ds = shop.data
    if ds.source in ("csv", "parquet"):
        raise PlanError([ds.src.at("source").diag(
            "E401", f"this shop reads its {ds.source} files in {ds.path} as they are: "
            "crmspec import writes a DuckDB file",
            f"set data.source: duckdb and data.path: {IMPORTED} to import instead")])
    mapped = [k for k in ("tables", "columns", "values", "formats", "constants", "derived")
              if getattr(ds, k)]
    if ds.source == "duckdb" and mapped:
        raise PlanError([ds.src.at(mapped[0]).diag(
            "E401", f"this shop's DuckDB file is mapped onto the canonical tables (data."
            f"{mapped[0]}): crmspec import writes canonical tables, which the mapping would "
            "misread", f"import into a database of its own: data.path: {IMPORTED} without "
            "data." + ", data.".join(mapped), key=True)])
    if fmt == "csv" and (unknown := unknown_columns(shop.imports)):
        raise PlanError(unknown)
    target = root / (ds.path if ds.source == "duckdb" else IMPORTED)
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise PlanError([Diagnostic(str(f), 1, 1, "E407", "no such file",
                                    "check the path") for f in missing])
    shown = [(f, f.name if len({g.name for g in files}) == len(files) else str(f))
             for f in files]
    con = connect()
    try:
        con.execute("SET TimeZone = " + sql_str(shop.timezone))
        report = import_exports(con, fmt, shown, target, shop.imports, table)
    finally:
        con.close()
    switched = ds.source == "demo"
    moved = None
    if switched:
        _point_at_import(doc, root / PLAN_DIR / "shop.yaml")
        moved = _set_aside_demo_ledger(root / shop.ledger_path)
    return Imported(report, switched, moved)


def _set_aside_demo_ledger(ledger: Path) -> Path | None:
    """The ledger of builds on the demo shop holds demo contacts and costs: the shop's
    first build on its own data must not count them (limits, budgets, the run order).
    It is renamed, not deleted."""
    if not ledger.exists():
        return None
    aside = ledger.with_name(f"{ledger.stem}.demo{ledger.suffix}")
    n = 1
    while aside.exists():
        n += 1
        aside = ledger.with_name(f"{ledger.stem}.demo{n}{ledger.suffix}")
    os.replace(ledger, aside)
    wal = ledger.with_name(ledger.name + ".wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + ".wal"))
    return aside
