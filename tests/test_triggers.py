"""Trigger conditions on a hand-made features table; dates checked on a calendar."""

from datetime import date

import duckdb
import pytest

from crmspec.compile.triggers import (
    TriggerContext,
    order_condition,
    order_flag_column,
    order_flags_sql,
    trigger_condition,
    trigger_orders_sql,
)
from crmspec.plan.triggers import Trigger, parse_trigger


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("""CREATE TABLE features AS SELECT * FROM (VALUES
        ('c1', DATE '1990-07-04', TIMESTAMP '2024-07-04 10:00', 2, 1, DATE '2027-01-01', 1),
        ('c2', DATE '1992-02-29', TIMESTAMP '2026-07-04 10:00', 1, 1, DATE '2027-01-01', 0),
        ('c3', DATE '1985-07-01', TIMESTAMP '2025-02-28 09:00', 3, 3, DATE '2027-01-01', 3),
        ('c4', NULL,              TIMESTAMP '2020-02-29 09:00', 0, 0, DATE '2027-01-01', 0)
      ) AS t(customer_id, birthday, registered_at, tier_rank, previous_tier_rank, review_date,
             review_tier_rank)""")
    c.execute("""CREATE TABLE orders AS SELECT * FROM (VALUES
        ('o1', 'c1', TIMESTAMP '2026-06-30 20:00', TIMESTAMP '2026-06-30 20:05', NULL::TIMESTAMP,
         NULL::TIMESTAMP, 'paid', 120.00),
        ('o2', 'c2', TIMESTAMP '2026-06-28 20:00', NULL, NULL, NULL, 'unpaid', 800.00),
        ('o3', 'c3', TIMESTAMP '2026-06-20 20:00', TIMESTAMP '2026-06-20 20:01',
         TIMESTAMP '2026-06-21 09:00', TIMESTAMP '2026-06-26 09:00', 'paid', 500.00),
        ('o4', 'c4', TIMESTAMP '2026-06-20 20:00', TIMESTAMP '2026-06-20 20:01',
         TIMESTAMP '2026-06-21 09:00', TIMESTAMP '2026-06-26 09:00', 'refunded', 300.00),
        ('o5', 'c1', TIMESTAMP '2026-06-28 21:00', NULL, NULL, NULL, 'unpaid', 499.99)
      ) AS t(order_id, customer_id, created_at, paid_at, shipped_at, signed_at, status,
             amount)""")
    return c


def who(con, raw, as_of, holidays=None):
    ctx = TriggerContext(as_of, ("paid",), holidays or {})
    trigger = parse_trigger(raw)
    cond = trigger_condition(trigger, ctx).sql("duckdb")
    table = "features"
    flag = order_flag_column(trigger)
    if flag:  # the build's features table carries the order-trigger flags
        con.execute("CREATE OR REPLACE TEMP TABLE trigger_orders AS " + trigger_orders_sql(
            {flag: order_condition(trigger, ("paid",), as_of)}))
        flags = order_flags_sql([flag])
        con.execute(f'CREATE OR REPLACE TEMP VIEW flagged AS SELECT f.*, coalesce(o."{flag}", '
                    f'false) AS "{flag}" FROM features f LEFT JOIN ({flags}) o USING (customer_id)')
        table = "flagged"
    return [r[0] for r in con.execute(
        f"SELECT customer_id FROM {table} WHERE {cond} ORDER BY 1").fetchall()]


def test_after_order_days_and_window(con):
    assert who(con, {"type": "after_order", "event": "paid", "days": 1}, date(2026, 7, 1)) == ["c1"]
    # signed 06-26: 3-5 days later is 06-29..07-01; refunded orders do not count (c4)
    win = {"type": "after_order", "event": "signed", "window": [3, 5]}
    assert who(con, win, date(2026, 6, 28)) == []
    assert who(con, win, date(2026, 6, 29)) == ["c3"]
    assert who(con, win, date(2026, 7, 1)) == ["c3"]
    assert who(con, win, date(2026, 7, 2)) == []
    assert who(con, {"type": "after_order", "event": "ordered_unpaid", "days": 3},
               date(2026, 7, 1)) == ["c1", "c2"]


def test_after_order_by_order_value(con):
    """Unpaid on 06-28: c1's o5 (499.99) and c2's o2 (800). A split at 500 puts each in
    exactly one half; the bounds are min inclusive, max exclusive (o3: 500 paid)."""
    unpaid = {"type": "after_order", "event": "ordered_unpaid", "days": 3}
    day = date(2026, 7, 1)
    assert who(con, {**unpaid, "amount": {"min": 500}}, day) == ["c2"]
    assert who(con, {**unpaid, "amount": {"max": 500}}, day) == ["c1"]
    assert who(con, {**unpaid, "amount": {"min": 499.99, "max": 800}}, day) == ["c1"]
    signed = {"type": "after_order", "event": "signed", "days": 5}
    assert who(con, {**signed, "amount": {"min": 500}}, day) == ["c3"]
    assert who(con, {**signed, "amount": {"max": 500}}, day) == []
    flag = order_flag_column(parse_trigger({**unpaid, "amount": {"min": 99.5, "max": 500}}))
    assert flag == "after_ordered_unpaid_3d_min99_5_max500"


def test_birthday_with_lead_days_and_feb_29(con):
    assert who(con, {"type": "birthday"}, date(2026, 7, 4)) == ["c1"]
    assert who(con, {"type": "birthday", "lead_days": 3}, date(2026, 7, 1)) == ["c1"]
    # 2026 is not a leap year: c2 (born Feb 29) is greeted on Feb 28
    assert who(con, {"type": "birthday"}, date(2026, 2, 28)) == ["c2"]
    assert who(con, {"type": "birthday"}, date(2028, 2, 28)) == []
    assert who(con, {"type": "birthday"}, date(2028, 2, 29)) == ["c2"]


def test_membership_anniversary_needs_a_full_year(con):
    # c1 joined 2024-07-04: anniversary 2026-07-04; c2 joined 2026-07-04: not yet a year
    assert who(con, {"type": "membership_anniversary"}, date(2026, 7, 4)) == ["c1"]
    # c4 joined 2020-02-29 -> 2026-02-28; c3 joined 2025-02-28 -> 2026-02-28 too
    assert who(con, {"type": "membership_anniversary"}, date(2026, 2, 28)) == ["c3", "c4"]


def test_calendar_and_weekly_are_constant_for_the_day(con):
    hol = {"double_11": (date(2026, 11, 11),)}
    raw = {"type": "calendar", "holiday": "double_11", "lead_days": 3}
    assert who(con, raw, date(2026, 11, 8), hol) == ["c1", "c2", "c3", "c4"]
    assert who(con, raw, date(2026, 11, 9), hol) == []
    fixed = {"type": "calendar", "dates": ["2026-12-12"]}
    assert len(who(con, fixed, date(2026, 12, 12))) == 4
    tuesday = {"type": "weekly", "weekdays": ["tue"]}
    assert len(who(con, tuesday, date(2026, 7, 7))) == 4  # a Tuesday
    assert who(con, tuesday, date(2026, 7, 8)) == []


def test_tier_events(con):
    assert who(con, {"type": "tier_upgrade"}, date(2026, 7, 1)) == ["c1"]
    warn = {"type": "tier_downgrade_warning", "days_before": 30}
    # review 2027-01-01 minus 30 days = 2026-12-02; c1 (rank 2 -> 1) and c2 (1 -> 0) drop,
    # c3 keeps rank 3, c4 has no tier to lose
    assert who(con, warn, date(2026, 12, 2)) == ["c1", "c2"]
    assert who(con, warn, date(2026, 12, 3)) == []


def test_once_within_days():
    assert parse_trigger({"type": "state", "cooldown_days": 14}).once_within_days == 14
    assert parse_trigger({"type": "after_order", "event": "signed",
                          "window": [3, 5]}).once_within_days == 3
    assert parse_trigger({"type": "after_order", "event": "paid",
                          "days": 1}).once_within_days is None
    assert parse_trigger(None) == Trigger("state")
