"""shop.yaml: a timezone the IANA database knows, column mappings onto columns the
canonical tables have, and paths that stay inside the project."""

from __future__ import annotations

import posixpath

from crmspec.core.diagnostics import Diagnostic
from crmspec.data.mapping import unknown_columns
from crmspec.plan.model import Plan, Shop


def check_data_mapping(plan: Plan) -> list[Diagnostic]:
    """shop.yaml `data` and `import` map canonical columns: each key must be one."""
    return [d for ds in (plan.shop.data, plan.shop.imports) if ds is not None
            for d in unknown_columns(ds)]


def check_shop(plan: Plan) -> list[Diagnostic]:
    """The timezone must be one the IANA database (and so DuckDB) knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(plan.shop.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        src = plan.shop.src.at("timezone")
        return [src.diag("E201", f"unknown timezone '{plan.shop.timezone}'",
                         "use an IANA name such as Asia/Shanghai")]
    return []


def _outside(path: str) -> bool:
    """Whether a path named in the plan leaves the project folder it is relative to: an
    absolute path (also a Windows drive or a UNC path), or one whose `..` climb out.
    Judged on the text, as written in git (docs/security.md)."""
    text = path.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return True
    norm = posixpath.normpath(text)
    return norm == ".." or norm.startswith("../")


def check_paths(plan: Plan) -> list[Diagnostic]:
    return check_shop_paths(plan.shop)


def check_shop_paths(shop: Shop) -> list[Diagnostic]:
    """E315: the data's files, the ledger and the demo data stay inside the project
    (validate, build, and `crmspec import`, which writes the data and the ledger).

    The ledger and the demo data are written by crmspec, so they always must; the shop's
    own data may be elsewhere when `data.allow_outside_project: true` says so."""
    ds = shop.data
    doc = shop.src.doc
    data = doc.data.get("data", {}) if isinstance(doc.data, dict) else {}
    allowed = data.get("allow_outside_project") is True and ds.source != "demo"
    hint = ("a path relative to the project root; for the shop's exports kept elsewhere "
            "set data.allow_outside_project: true")
    out = []
    if not allowed and _outside(ds.path):
        why = ("the demo data is written there" if ds.source == "demo"
               else "data.allow_outside_project is not set")
        out.append(ds.src.at("path").diag(
            "E315", f"data.path '{ds.path}' is outside the project ({why})",
            "a path relative to the project root" if ds.source == "demo" else hint))
    if ds.source in ("parquet", "csv") and not allowed:
        for table, name in sorted(ds.tables.items()):
            if _outside(posixpath.join(ds.path.replace("\\", "/"), name.replace("\\", "/"))):
                out.append(ds.src.at("tables", table).diag(
                    "E315", f"data.tables.{table} '{name}' is outside the project "
                    "(data.allow_outside_project is not set)", hint))
    if _outside(shop.ledger_path):
        src = shop.src.at("ledger", "path")
        out.append((src if src.exists() else shop.src).diag(
            "E315", f"ledger.path '{shop.ledger_path}' is outside the project",
            "the contact ledger is the project's state: a path relative to the project "
            "root (default state/ledger.duckdb)"))
    return out
