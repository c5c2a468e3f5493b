"""A shop's own exports read into its canonical tables: `crmspec import FORMAT FILE...`.

One module per format turns the files into staged canonical rows and lists the rows it
rejects (`taobao`: the Taobao/Tmall order report; `shopify`: Shopify's orders export;
`csvexport`: any delimited export described in shop.yaml `import`); `staging` holds
what they share (reading files with their lines, cleaning an export's text); `upsert`
writes the staged rows into the shop's DuckDB file in one transaction.

May import: `crmspec.core`, `crmspec.safesql` and the rest of `crmspec.data`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from crmspec.core.diagnostics import Diagnostic
from crmspec.data.importers import csvexport, shopify, taobao
from crmspec.data.importers.upsert import Counts, upsert
from crmspec.data.settings import DataSource

FORMATS = {"taobao": taobao.stage, "shopify": shopify.stage, "csv": csvexport.stage}


@dataclass
class ImportReport:
    format: str
    files: list[str]
    target: Path
    rows_read: int
    counts: Counts
    rejected: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def import_exports(con, fmt: str, files: list[tuple[Path, str]], target: Path,
                   source: DataSource | None = None, table: str = "orders") -> ImportReport:
    """Read `files` (path, name shown) of format `fmt` on the connection `con` (its
    TimeZone the shop's), and upsert them into the DuckDB file `target`. Raises PlanError
    (E407, E403...) before anything is written when a file cannot be read."""
    started = time.perf_counter()
    staged = FORMATS[fmt](con, files, source, table)
    counts = upsert(con, target, staged.tables, {
        "format": fmt, "files": ", ".join(shown for _, shown in files),
        "rows_read": staged.rows_read, "rejected": len(staged.rejected)})
    return ImportReport(fmt, [shown for _, shown in files], target, staged.rows_read, counts,
                        staged.rejected, staged.notes, time.perf_counter() - started)
