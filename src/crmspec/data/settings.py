"""Where a shop's data is and how its columns map onto the canonical tables: the
`data` section of shop.yaml as the data package needs it (`crmspec.plan.model` builds
it from the plan; nothing here reads YAML)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from crmspec.core.diagnostics import Src


@dataclass(frozen=True)
class DataSource:
    source: str  # demo | duckdb | parquet | csv
    path: str
    tables: dict[str, str]
    columns: dict[str, dict[str, str]]
    demo_customers: int
    demo_seed: int
    demo_end_date: date
    src: Src  # shop.yaml `data`, for diagnostics about the data
