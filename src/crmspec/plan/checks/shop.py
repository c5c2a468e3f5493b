"""shop.yaml: a timezone the IANA database knows, and column mappings onto columns the
canonical tables have."""

from __future__ import annotations

from crmspec.core.diagnostics import Diagnostic
from crmspec.data.tables import TABLES
from crmspec.plan.checks.references import relocate_key
from crmspec.plan.model import Plan


def check_data_mapping(plan: Plan) -> list[Diagnostic]:
    """shop.yaml data.columns maps canonical columns: each key must be one."""
    out = []
    ds = plan.shop.data
    for table, mapping in ds.columns.items():
        known = {c.name for c in TABLES[table]}
        for col in mapping:
            if col not in known:
                out.append(Diagnostic(*relocate_key(
                    ds.src.at("columns", table, col), "E301",
                    f"'{col}' is not a column of the canonical {table} table", known, col)))
    return out


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
