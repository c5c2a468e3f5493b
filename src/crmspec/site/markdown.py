"""Markdown pieces of the site's pages: text from the plan made safe, tables, numbers.

Everything a page shows from the plan or the data passes `esc`: HTML-escaped (a `<script>`
in an SOP note stays text), on one line, so that it can sit in a table cell. Numbers are
formatted once here so that every page says 3.25% and 1,234.50 the same way.
"""

from __future__ import annotations

import html

from crmspec.core.tabular import text_table


def esc(value) -> str:
    """Plan or data text, safe inside Markdown and a table cell."""
    if value is None:
        return ""
    text = html.escape(" ".join(str(value).split()), quote=False)
    return text.replace("|", "\\|")


def code(value) -> str:
    """An id as inline code (ids are slugs: nothing to escape)."""
    return f"`{value}`"


def table(title: str, header: list[str], rows: list[list[str]], right=()) -> str:
    """A Markdown table under a bold title (cells are Markdown already, see `esc`)."""
    return text_table(title, header, rows, "markdown", right=right)


def pct(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value * 100:.{digits}f}%"


def pp(value: float | None) -> str:
    """A difference of rates in percentage points, signed."""
    return "" if value is None else f"{value * 100:+.2f} pp"


def money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def count(value: int | float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{low * 100:+.2f}, {high * 100:+.2f}] pp"


def image(alt: str, src: str) -> str:
    return f"![{esc(alt)}]({src})"
