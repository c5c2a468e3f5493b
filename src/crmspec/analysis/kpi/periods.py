"""Report periods: ISO weeks (Monday to Sunday) or calendar months, complete by the
as-of date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

PERIODS = ("week", "month")


DEFAULT_PERIODS = 12  # periods shown when --from is not given


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # last day, inclusive
    label: str


def period_start(d: date, unit: str) -> date:
    """First day of the week (ISO: Monday) or month containing d."""
    return d - timedelta(days=d.weekday()) if unit == "week" else d.replace(day=1)


def shift(start: date, unit: str, k: int) -> date:
    """The start of the period k periods after the one starting on `start`."""
    if unit == "week":
        return start + timedelta(weeks=k)
    m = start.year * 12 + start.month - 1 + k
    return date(m // 12, m % 12 + 1, 1)


def make_period(start: date, unit: str) -> Period:
    end = shift(start, unit, 1) - timedelta(days=1)
    if unit == "week":
        y, w, _ = start.isocalendar()
        label = f"{y}-W{w:02d}"
    else:
        label = f"{start.year}-{start.month:02d}"
    return Period(start, end, label)


def report_periods(unit: str, as_of: date, date_from: date | None,
                   date_to: date | None = None, count: int = DEFAULT_PERIODS) -> list[Period]:
    """The complete periods to report: from the one containing `date_from` to the last
    one that ends on or before `date_to` (default: the as-of date). Without `date_from`,
    the last `count` complete periods."""
    to = date_to or as_of
    last = period_start(to, unit)
    if make_period(last, unit).end > to:  # the period of `to` is not over yet
        last = shift(last, unit, -1)
    first = period_start(date_from, unit) if date_from else shift(last, unit, -(count - 1))
    out = []
    s = first
    while s <= last:
        out.append(make_period(s, unit))
        s = shift(s, unit, 1)
    return out
