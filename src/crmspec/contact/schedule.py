"""When a contact goes out: the first allowed send slot on or after the as-of date.

Send windows come from the channel (domain.md's rules: SMS marketing on working days in
working hours, SMS care around commuting hours, email Tue-Thu mornings...) unless an
activity gives its own; blackout dates (shop.yaml) are skipped. The slot is the same for
every customer of an activity (all customers share the shop's timezone), so it is
computed once per activity, never per customer.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Iterable, Sequence

from crmspec.channels.base import SendWindow

HORIZON_DAYS = 366  # a window that never opens within a year is a plan error


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def windows_for(kind: str, windows: Sequence[SendWindow]) -> list[SendWindow]:
    """The windows that apply to an activity kind (maintenance or marketing)."""
    return [w for w in windows if kind in w.kinds]


def first_day(as_of: date, windows: Iterable[SendWindow], blackout: Iterable[date] = ()
              ) -> tuple[date, list[SendWindow]] | None:
    """The first allowed day on or after `as_of` with a window, and its windows by start
    time; None when no window opens within HORIZON_DAYS (no windows at all, or every
    day blacked out)."""
    windows = list(windows)
    closed = set(blackout)
    for offset in range(HORIZON_DAYS):
        day = as_of + timedelta(days=offset)
        if day in closed:
            continue
        today = sorted((w for w in windows if day.isoweekday() in w.days),
                       key=lambda w: (_hhmm(w.start), _hhmm(w.end)))
        if today:
            return day, today
    return None


def first_slot(as_of: date, windows: Iterable[SendWindow], blackout: Iterable[date] = ()
               ) -> datetime | None:
    """Start of the earliest window on the first allowed day on or after `as_of`.

    Returns a naive local datetime (shop timezone), or None when no window opens within
    HORIZON_DAYS (no windows at all, or every day blacked out).
    """
    found = first_day(as_of, windows, blackout)
    return datetime.combine(found[0], _hhmm(found[1][0].start)) if found else None


def day_hours(as_of: date, windows: Iterable[SendWindow], blackout: Iterable[date] = ()
              ) -> str | None:
    """The windows of the first slot's day as staff read them: '10:00-12:00, 14:00-18:00'
    (a call list's hours, a chat list's)."""
    found = first_day(as_of, windows, blackout)
    return ", ".join(f"{w.start}-{w.end}" for w in found[1]) if found else None
