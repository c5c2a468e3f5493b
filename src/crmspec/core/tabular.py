"""Plain-text renderings shared by the report commands (kpi, evaluate): CSV, and a table
as Markdown or as a rich table rendered to text."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable

BOM = "\ufeff"  # Excel on Chinese Windows reads UTF-8 CSV without this mark as GBK


def for_excel(text: str, fmt: str, bom: bool) -> str:
    """A report's text, with the byte order mark in front when it is CSV for people."""
    return BOM + text if fmt == "csv" and bom else text


def csv_text(columns: list[str], rows: Iterable[dict]) -> str:
    """CSV with a header and \\n line ends: the same bytes on every platform."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def text_table(title: str, header: list[str], lines: list[list[str]], fmt: str, *,
               right: Collection[int], sections: Collection[int] = (),
               wrap: Collection[int] = (), width: int | None = None,
               default_width: int = 160) -> str:
    """`lines` under `header` as Markdown (`fmt` "markdown") or a rich table rendered to
    text: columns in `right` right-aligned, those in `wrap` allowed to wrap, a rule
    after each line index in `sections`."""
    if fmt == "markdown":
        out = [f"**{title}**", "", "| " + " | ".join(header) + " |",
               "|" + "|".join("---:" if i in right else "---" for i in range(len(header)))
               + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in lines]
        return "\n".join(out) + "\n"
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="right" if i in right else "left", no_wrap=i not in wrap)
    for i, line in enumerate(lines):
        table.add_row(*line, end_section=(i + 1) in sections)
    buf = io.StringIO()
    Console(file=buf, width=width or default_width, highlight=False).print(table)
    return buf.getvalue()
