"""Plain-text renderings shared by the report commands (kpi, evaluate)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable


def csv_text(columns: list[str], rows: Iterable[dict]) -> str:
    """CSV with a header and \\n line ends: the same bytes on every platform."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
