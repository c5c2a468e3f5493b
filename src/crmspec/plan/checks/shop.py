"""shop.yaml: a timezone the IANA database knows, and column mappings onto columns the
canonical tables have."""

from __future__ import annotations

from crmspec.core.diagnostics import Diagnostic
from crmspec.data.mapping import unknown_columns
from crmspec.plan.model import Plan


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
