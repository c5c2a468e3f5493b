"""Plain-text renderings shared by the report commands (kpi, evaluate): CSV, and a table
as Markdown or as a rich table rendered to text."""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Collection, Iterable, Mapping, Sequence

from crmspec.core.spreadsheet import safe_cell

BOM = "\ufeff"  # Excel on Chinese Windows reads UTF-8 CSV without this mark as GBK


def for_excel(text: str, fmt: str, bom: bool) -> str:
    """A report's text, with the byte order mark in front when it is CSV for people."""
    return BOM + text if fmt == "csv" and bom else text


def csv_text(columns: list[str], rows: Iterable[dict]) -> str:
    """CSV with a header and \\n line ends: the same bytes on every platform. Opened in
    a spreadsheet: a text cell that would read as a formula (a KPI or activity named
    `=...`) is shown as text (`core.spreadsheet`); numbers (-0.5) stay numbers."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _cell(value):
    if not isinstance(value, str):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return safe_cell(value)


# Fitting a table into a terminal (80-120 columns): numbers are never cut. Text columns
# (`wrap`) may wrap, long words folded onto the next line: the `optional` columns are
# left out, first first, and named below the table, until the table fits with its text
# columns at their wrap minimum (WRAP_MIN, or the one given: an id column keeps its
# width while optional columns can go instead); a table that still does not fit has its
# text columns folded narrower, never below FOLD_MIN (or their header).
WRAP_MIN, FOLD_MIN = 16, 8
# A rich table with a border and one space of padding each side: 3 characters per
# column and 1 for the border on the left.
PER_COLUMN, BORDER = 3, 1


def _cell_width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.split("\n")), default=0)


Wrap = Collection[int] | Mapping[int, int]  # text columns, or text column -> wrap minimum


def _minimums(wrap: Wrap) -> dict[int, int]:
    return dict(wrap) if isinstance(wrap, Mapping) else {i: WRAP_MIN for i in wrap}


def fit_columns(header: list[str], lines: list[list[str]], width: int, *,
                wrap: Wrap = (), optional: Sequence[int] = ()) -> dict[int, int | None]:
    """The columns shown at `width` (see WRAP_MIN), in order: index -> the width of a
    text column (None: its own, or let the table fold it when nothing fits)."""
    natural = [max([_cell_width(h)] + [_cell_width(line[i]) for line in lines])
               for i, h in enumerate(header)]
    least = {i: min(natural[i], m) for i, m in _minimums(wrap).items()}

    def need(cols: list[int]) -> int:
        return sum(least.get(i, natural[i]) for i in cols) + PER_COLUMN * len(cols) + BORDER

    keep = list(range(len(header)))
    for i in optional:
        if need(keep) <= width:
            break
        keep.remove(i)
    widths: dict[int, int | None] = {i: None for i in keep}
    spare = width - need(keep)
    if spare >= 0:  # text columns with the biggest minimum get their full width first
        for i in sorted((i for i in keep if i in least), key=lambda i: (-least[i], i)):
            widths[i] = least[i] + min(spare, natural[i] - least[i])
            spare -= widths[i] - least[i]
    return widths


def fitted_table(title: str, header: list[str], lines: list[list[str]], width: int, *,
                 right: Collection[int], wrap: Wrap = (),
                 optional: Sequence[int] = (), sections: Collection[int] = ()):
    """A rich Table of `lines` that fits `width` columns (fit_columns), and the names of
    the columns left out. The title and cells are text, never rich markup: they hold
    the plan's names (an activity called `[/]` is shown as written)."""
    from rich.table import Table
    from rich.text import Text

    keep = fit_columns(header, lines, width, wrap=wrap, optional=optional)
    table = Table(title=Text(title), title_justify="left")
    for i, w in keep.items():
        table.add_column(header[i], justify="right" if i in right else "left",
                         no_wrap=i not in wrap, overflow="fold" if i in wrap else "ellipsis",
                         width=w, min_width=max(_cell_width(header[i]), FOLD_MIN)
                         if i in wrap and w is None else None)
    for n, line in enumerate(lines):
        table.add_row(*(Text(line[i]) for i in keep), end_section=(n + 1) in sections)
    left_out = [header[i].replace("\n", " ") for i in range(len(header)) if i not in keep]
    return table, left_out


def left_out_line(left_out: list[str], width: int, where: str) -> str:
    """What a narrow terminal does not show, and where to find it."""
    return (f"(not shown at {width} columns: {', '.join(left_out)}; a wider terminal "
            f"shows them, {where} has every figure)")


def text_table(title: str, header: list[str], lines: list[list[str]], fmt: str, *,
               right: Collection[int], sections: Collection[int] = (),
               wrap: Wrap = (), width: int | None = None,
               default_width: int = 160, optional: Sequence[int] = (),
               where: str = "--format csv") -> str:
    """`lines` under `header` as Markdown (`fmt` "markdown") or a rich table rendered to
    text at `width` (default `default_width`, wide enough for a log): columns in `right`
    right-aligned, those in `wrap` allowed to wrap, a rule after each line index in
    `sections`; columns of `optional` left out, first first, when the width needs it
    (fitted_table), and named below."""
    if fmt == "markdown":
        out = [f"**{title}**", "", "| " + " | ".join(h.replace("\n", " ") for h in header)
               + " |",
               "|" + "|".join("---:" if i in right else "---" for i in range(len(header)))
               + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in lines]
        return "\n".join(out) + "\n"
    from rich.console import Console

    width = width or default_width
    table, left_out = fitted_table(title, header, lines, width, right=right, wrap=wrap,
                                   optional=optional, sections=sections)
    buf = io.StringIO()
    Console(file=buf, width=width, highlight=False).print(table)
    if left_out:
        buf.write(textwrap.fill(left_out_line(left_out, width, where), width) + "\n")
    return buf.getvalue()
