"""Send slots worked out by hand on a calendar: 2026-07-01 is a Wednesday."""

from datetime import date, datetime

from crmspec.channels.base import WORKDAYS, SendWindow
from crmspec.contact.schedule import first_slot, windows_for

EMAIL = (SendWindow((2, 3, 4), "08:00", "10:00", ("marketing", "maintenance")),)
SMS = (
    SendWindow(WORKDAYS, "10:00", "12:00", ("marketing",)),
    SendWindow(WORKDAYS, "14:00", "17:00", ("marketing",)),
    SendWindow(WORKDAYS, "08:00", "09:00", ("maintenance",)),
)


def test_same_day_when_the_day_is_allowed():
    assert first_slot(date(2026, 7, 1), EMAIL) == datetime(2026, 7, 1, 8, 0)


def test_friday_email_waits_for_tuesday():
    # Fri 07-03 -> Sat, Sun, Mon are not Tue-Thu -> Tue 07-07 08:00
    assert first_slot(date(2026, 7, 3), EMAIL) == datetime(2026, 7, 7, 8, 0)


def test_earliest_window_of_the_kind():
    assert first_slot(date(2026, 7, 1), windows_for("marketing", SMS)) == datetime(2026, 7, 1, 10)
    assert first_slot(date(2026, 7, 1), windows_for("maintenance", SMS)) == datetime(2026, 7, 1, 8)


def test_weekend_sms_goes_on_monday_and_blackouts_are_skipped():
    sat = date(2026, 7, 4)
    assert first_slot(sat, windows_for("marketing", SMS)) == datetime(2026, 7, 6, 10)
    # Monday blacked out -> Tuesday
    assert first_slot(sat, windows_for("marketing", SMS), [date(2026, 7, 6)]) == datetime(
        2026, 7, 7, 10)


def test_no_window_gives_none():
    assert first_slot(date(2026, 7, 1), []) is None
    assert first_slot(date(2026, 7, 1), windows_for("service", SMS)) is None
