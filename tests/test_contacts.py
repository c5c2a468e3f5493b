"""The contact rules on hand-made tables; as of D = 2026-07-10 throughout."""

import re
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

from crmspec.contact import decide
from crmspec.contact.holdout import bucket, bucket_sql
from crmspec.contact.rules import ActivityRule, ContactRules, StageRule, Window

D = date(2026, 7, 10)


def rule(aid, channel="sms", kind="marketing", priority=500, **kw):
    return ActivityRule(aid, channel, kind, kw.pop("service", False), priority,
                        kw.pop("holdout", 0.0), kw.pop("once", None), kw.pop("cost", 0.05), **kw)


@pytest.fixture
def con():
    c = duckdb.connect()
    # x4 last bought 07-01 (9 days, active from day 7: entered the stage on 07-08)
    c.execute("""CREATE TABLE features AS SELECT * FROM (VALUES
        ('x1', 'active', DATE '2026-06-20', 100.0),
        ('x2', 'active', DATE '2026-06-20', 300.0),
        ('x3', 'active', DATE '2026-06-20', 200.0),
        ('x4', 'active', DATE '2026-07-01', 50.0),
        ('x5', 'silent', DATE '2026-04-01', 80.0)
      ) AS t(customer_id, stage, last_purchase_date, spend)""")
    c.execute("ALTER TABLE features ADD COLUMN purchases INTEGER DEFAULT 1")
    for col in ("days_since_last_purchase", "r", "f", "m"):
        c.execute(f"ALTER TABLE features ADD COLUMN {col} INTEGER DEFAULT 1")
    c.execute("""CREATE TABLE orders AS SELECT * FROM (VALUES
        ('x3', 'refunded', TIMESTAMP '2026-07-08 10:00'),
        ('x1', 'refunded', TIMESTAMP '2026-06-01 10:00')
      ) AS t(customer_id, status, created_at)""")
    c.execute("CREATE TABLE suppressions (customer_id VARCHAR, channel VARCHAR)")
    c.execute("INSERT INTO suppressions VALUES ('x5', 'sms')")
    c.execute("""CREATE TABLE history (as_of DATE, activity_id VARCHAR, customer_id VARCHAR,
        channel VARCHAR, grp VARCHAR, service BOOLEAN, stage VARCHAR, scheduled_at TIMESTAMP,
        cost DECIMAL(12,4))""")
    c.execute("CREATE TABLE candidates (activity_id VARCHAR, customer_id VARCHAR, "
              "channel VARCHAR, stage VARCHAR, status VARCHAR, address VARCHAR, "
              "segment VARCHAR)")
    return c


def add(con, table, rows):
    marks = ", ".join("?" * len(rows[0]))
    con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def hist(day, activity, customer, channel="sms", grp="treatment", service=False, cost=0.05):
    return (day, activity, customer, channel, grp, service, "active", None, cost)


def cand(activity, customer, channel="sms", status="send", stage="active"):
    return (activity, customer, channel, stage, status, f"addr-{customer}", "seg")


def result(con):
    return {(a, c): s for a, c, s in con.execute(
        "SELECT activity_id, customer_id, status FROM decisions").fetchall()}


def test_equal_priority_cap_is_broken_by_activity_id_and_windows_are_calendar_days(con):
    # x1: no history. x2: a contact on 07-04 (6 days ago: inside 7 days).
    # x3 is out of this test's way (refund only matters to marketing with refund_days).
    add(con, "history", [hist(date(2026, 7, 4), "old", "x2"), hist(date(2026, 7, 3), "old", "x1")])
    add(con, "candidates", [cand("b_act", "x1"), cand("a_act", "x1"), cand("a_act", "x2"),
                            cand("svc", "x2")])
    rules = ContactRules("salt", [rule("a_act"), rule("b_act"),
                                  rule("svc", kind="maintenance", service=True, priority=1)],
                         overall=[Window(7, 1)], refund_days=None)
    decide(con, rules, D)
    # x1's contact on 07-03 is 7 days ago: outside the 7-day window (07-04..07-10)
    assert result(con) == {("a_act", "x1"): "send", ("b_act", "x1"): "contact_limit",
                           ("a_act", "x2"): "contact_limit", ("svc", "x2"): "send"}


def test_channel_limit_then_overall_limit(con):
    add(con, "candidates", [cand("a", "x2"), cand("b", "x2"), cand("c", "x2", "email"),
                            cand("d", "x2", "email")])
    rules = ContactRules("s", [rule("a", priority=900), rule("b", priority=800),
                               rule("c", "email", priority=700), rule("d", "email", priority=600)],
                         overall=[Window(30, 2)], per_channel={"sms": [Window(30, 1)]},
                         refund_days=None)
    decide(con, rules, D)
    # sms allows 1: a; b loses on channel. Overall 2 among a, c, d: a and c; d loses.
    assert result(con) == {("a", "x2"): "send", ("b", "x2"): "channel_limit",
                           ("c", "x2"): "send", ("d", "x2"): "contact_limit"}


def test_stage_upper_bound_counts_contacts_since_entering_the_stage(con):
    # x4 entered 'active' on 07-08 (last purchase 07-01 + 7): the 07-05 contact is from
    # the after-sale stage and does not count; the 07-09 one does. Max 2 -> 1 left.
    add(con, "history", [hist(date(2026, 7, 5), "old", "x4"), hist(date(2026, 7, 9), "old", "x4")])
    add(con, "candidates", [cand("a", "x4"), cand("b", "x4")])
    rules = ContactRules("s", [rule("a"), rule("b")], stages=[StageRule("active", 7, 2)],
                         overall=[Window(30, 5)], refund_days=None)
    decide(con, rules, D)
    assert result(con) == {("a", "x4"): "send", ("b", "x4"): "stage_limit"}


def test_suppressions_refunds_cooldown_and_channel_verdicts(con):
    add(con, "history", [hist(date(2026, 6, 27), "nudge", "x1"),
                         hist(date(2026, 6, 26), "nudge", "x2")])
    add(con, "candidates", [
        cand("promo", "x5"), cand("promo_mail", "x5", "email"),  # sms do-not-contact only
        cand("promo", "x3"), cand("care", "x3"),  # x3 refunded on 07-08: marketing stops
        cand("promo", "x1"),  # x1's refund was in June: older than 30 days
        cand("nudge", "x1"), cand("nudge", "x2"),  # cooldown 14 days: 06-27 is inside
        cand("promo", "x4", status="opted_out"),
    ])
    rules = ContactRules("s", [rule("promo"), rule("promo_mail", "email"),
                               rule("care", kind="maintenance"), rule("nudge", once=14)],
                         refund_days=30)
    decide(con, rules, D)
    assert result(con) == {
        ("promo", "x5"): "do_not_contact", ("promo_mail", "x5"): "send",
        ("promo", "x3"): "open_refund", ("care", "x3"): "send",
        ("promo", "x1"): "send",
        ("nudge", "x1"): "cooldown", ("nudge", "x2"): "send",  # 06-26 is 14 days ago
        ("promo", "x4"): "opted_out",
    }


def test_budgets_trim_in_the_declared_order(con):
    add(con, "history", [hist(date(2026, 7, 2), "old", "x5", cost=0.90),
                         hist(date(2026, 6, 30), "old", "x5", cost=5.0)])  # last month
    add(con, "candidates", [cand("a", c) for c in ("x1", "x2", "x3", "x4")]
        + [cand("svc", "x1"), cand("b", "x1", "email")])
    rules = ContactRules(
        "s", [rule("a", cost=0.05, budget_cap=0.10),  # keeps the two highest spenders
              rule("svc", kind="maintenance", service=True, cost=0.05),
              rule("b", "email", priority=100, cost=0.05)],
        refund_days=None, monthly_cap=1.0)
    decide(con, rules, D)
    # spend: x2 300, x3 200, x1 100, x4 50 -> a keeps x2, x3.
    # month: 0.90 so far; svc (0.05, first) -> 0.95; a x2 -> 1.00; a x3 -> 1.05 > 1.0
    assert result(con) == {("a", "x2"): "send", ("a", "x3"): "budget_month",
                           ("a", "x1"): "budget_activity", ("a", "x4"): "budget_activity",
                           ("svc", "x1"): "send", ("b", "x1"): "budget_month"}
    costs = dict(con.execute("SELECT activity_id || ':' || customer_id, CAST(cost AS DOUBLE) "
                             "FROM decisions WHERE status = 'send'").fetchall())
    assert costs == {"a:x2": 0.05, "svc:x1": 0.05}


def test_control_group_is_the_hash_bucket(con):
    add(con, "candidates", [cand("a", c, "email") for c in ("x1", "x2", "x3", "x4", "x5")])
    decide(con, ContactRules("salt-1", [rule("a", "email", holdout=0.5)], refund_days=None), D)
    expected = {("a", c): ("control" if bucket("salt-1", f"a:{c}") < 0.5 else "send")
                for c in ("x1", "x2", "x3", "x4", "x5")}
    assert result(con) == expected
    assert set(expected.values()) == {"control", "send"}  # the salt splits these five
    grp = dict(con.execute("SELECT customer_id, grp FROM decisions").fetchall())
    assert all((grp[c] == "control") == (s == "control") for (_, c), s in expected.items())


def test_bucket_sql_equals_python_and_is_uniform():
    con = duckdb.connect()
    key = bucket_sql("'a:c' || range", "k")
    rows = con.execute(f"SELECT 'c' || range, {key} "
                       "FROM range(20000)").fetchall()
    assert all(abs(v - bucket("k", "a:" + cid)) < 1e-12 for cid, v in rows[:500])
    share = sum(v < 0.1 for _, v in rows) / len(rows)
    assert 0.09 < share < 0.11


def test_held_out_contacts_count_against_limits_like_sent_ones(con):
    # x1 was held out of an activity on 07-08: as far as limits go it was contacted, so
    # that it does not get more of the other activities than the treated customers do
    add(con, "history", [hist(date(2026, 7, 8), "old", "x1", grp="control", cost=0)])
    add(con, "candidates", [cand("a", "x1"), cand("a", "x2")])
    decide(con, ContactRules("s", [rule("a")], overall=[Window(7, 1)], refund_days=None), D)
    assert result(con) == {("a", "x1"): "contact_limit", ("a", "x2"): "send"}


def test_channel_limit_window_is_the_as_of_date_and_the_days_before_it(con):
    """sms: 1 in 7 days (07-04..07-10). x1's sms of 07-03 is outside, x2's of 07-04
    inside; x3's email of 07-09 is another channel; x4's service sms never counts."""
    add(con, "history", [hist(date(2026, 7, 3), "old", "x1"), hist(date(2026, 7, 4), "old", "x2"),
                         hist(date(2026, 7, 9), "old", "x3", channel="email"),
                         hist(date(2026, 7, 9), "svc", "x4", service=True)])
    add(con, "candidates", [cand("a", c) for c in ("x1", "x2", "x3", "x4")])
    decide(con, ContactRules("s", [rule("a")], per_channel={"sms": [Window(7, 1)]},
                             refund_days=None), D)
    assert result(con) == {("a", "x1"): "send", ("a", "x2"): "channel_limit",
                           ("a", "x3"): "send", ("a", "x4"): "send"}


def test_stage_limit_counts_contacts_from_the_day_the_stage_began(con):
    """x4 entered 'active' on 07-08 (07-01 + 7 days): a contact that day counts, one on
    07-07 (still after-sale) does not."""
    add(con, "history", [hist(date(2026, 7, 7), "old", "x4"), hist(date(2026, 7, 8), "old", "x4")])
    add(con, "candidates", [cand("a", "x4")])
    decide(con, ContactRules("s", [rule("a")], stages=[StageRule("active", 7, 1)],
                             refund_days=None), D)
    assert result(con) == {("a", "x4"): "stage_limit"}
    con.execute("DELETE FROM history WHERE as_of = DATE '2026-07-08'")
    decide(con, ContactRules("s", [rule("a")], stages=[StageRule("active", 7, 1)],
                             refund_days=None), D)
    assert result(con) == {("a", "x4"): "send"}


def test_contacts_out_before_the_limits_take_no_place_in_them(con):
    """Overall 1 a week: x1's higher-priority candidates are out already (opted out, an
    activity without a send file) or service (never limited, never counted), so the
    limit's one place goes to `a`, and `b` is the one over it."""
    add(con, "candidates", [cand("opt", "x1", status="opted_out"), cand("ns", "x1"),
                            cand("svc", "x1"), cand("a", "x1"), cand("b", "x1")])
    rules = ContactRules("s", [rule("opt", priority=900), rule("ns", priority=850, not_sent=True),
                               rule("svc", kind="maintenance", service=True, priority=1000),
                               rule("a", priority=500), rule("b", priority=400)],
                         overall=[Window(7, 1)], refund_days=None)
    decide(con, rules, D)
    assert result(con) == {("opt", "x1"): "opted_out", ("ns", "x1"): "not_sent",
                           ("svc", "x1"): "send", ("a", "x1"): "send",
                           ("b", "x1"): "contact_limit"}


def test_contacts_left_out_by_a_limit_spend_no_budget(con):
    """b (email, 0.05 a contact, capped at 0.05) trims by spend: x2 (300) first, then x3
    (200), x1 (100). x1 and x2 already have `a` and may have one contact a week, so b's
    budget is x3's: had the limited contacts spent it, x3 would be trimmed."""
    add(con, "candidates", [cand("a", "x1"), cand("a", "x2"), cand("b", "x1", "email"),
                            cand("b", "x2", "email"), cand("b", "x3", "email")])
    rules = ContactRules("s", [rule("a", priority=900),
                               rule("b", "email", priority=500, budget_cap=0.05)],
                         overall=[Window(7, 1)], refund_days=None, monthly_cap=0.15)
    decide(con, rules, D)
    assert result(con) == {("a", "x1"): "send", ("a", "x2"): "send",
                           ("b", "x1"): "contact_limit", ("b", "x2"): "contact_limit",
                           ("b", "x3"): "send"}


def test_decisions_carry_what_the_ledger_and_the_send_lists_read(con):
    """Every candidate's row: its own columns, its activity's kind, service, priority and
    first send slot, the status, the group and the cost (0 unless sent)."""
    slot = datetime(2026, 7, 10, 9, 30)
    add(con, "candidates", [cand("a", c, "email") for c in ("x1", "x2", "x3")]
        + [cand("a", "x4", "email", status="no_address")])
    decide(con, ContactRules("salt-1", [rule("a", "email", priority=7, holdout=0.5, cost=0.25,
                                             scheduled_at=slot)], refund_days=None), D)
    rows = con.execute("SELECT * FROM decisions ORDER BY customer_id").fetchall()
    assert [d[0] for d in con.execute("DESCRIBE decisions").fetchall()] == [
        "activity_id", "customer_id", "channel", "address", "segment", "stage", "kind",
        "service", "priority", "scheduled_at", "status", "grp", "cost"]
    held = {c for c in ("x1", "x2", "x3") if bucket("salt-1", f"a:{c}") < 0.5}
    assert held and held != {"x1", "x2", "x3"}
    assert rows == [
        ("a", c, "email", f"addr-{c}", "seg", "active", "marketing", False, 7, slot,
         status, "treatment" if status == "send" else "control",
         Decimal("0.2500") if status == "send" else Decimal("0.0000"))
        for c, status in [(c, "control" if c in held else "send") for c in ("x1", "x2", "x3")]
        + [("x4", "no_address")]]


def _statements(con, rules, as_of):
    """The statements `decide` runs, in order."""
    seen = []

    class Recording:
        def execute(self, sql, *args):
            seen.append(sql)
            return con.execute(sql, *args)

        def executemany(self, sql, *args):
            return con.executemany(sql, *args)

    decide(Recording(), rules, as_of)
    return seen


def test_the_contact_plan_is_few_statements_in_sparks_portable_set(con):
    """With every rule in use: the rule tables, then `contact_cut` (limits), `budget_cut`
    (budgets) and `decisions`, each a CREATE ... AS SELECT of the constructs checked on
    both engines (engine.spark.dialect), over the `verdicts` and `decisions_pre` views;
    without a budget and without limits, no window statement at all."""
    from crmspec.engine.spark.dialect import unportable

    add(con, "candidates", [cand("a", "x1"), cand("b", "x2", "email")])
    full = ContactRules("s", [rule("a", once=7, budget_cap=1.0), rule("b", "email")],
                        stages=[StageRule("active", 7, 2)], overall=[Window(7, 2)],
                        per_channel={"sms": [Window(1, 1)]}, global_holdout=0.1,
                        refund_days=30, monthly_cap=10.0)
    created = [(m.group(1), sql) for sql in _statements(con, full, D)
               if (m := re.match(r"\s*CREATE OR REPLACE TEMP (?:TABLE|VIEW) (\w+) AS\b", sql))]
    assert [name for name, _ in created] == [
        "rule_flags", "verdicts", "contact_cut", "decisions_pre", "budget_cut", "decisions"]
    assert {name: unportable(sql) for name, sql in created} == {
        name: [] for name, _ in created}
    bare = ContactRules("s", [rule("a"), rule("b", "email")], refund_days=None)
    statements = _statements(con, bare, D)
    assert not any("OVER" in s for s in statements)
    assert sum(s.lstrip().startswith("CREATE OR REPLACE TEMP TABLE decisions ") for s in
               statements) == 1


def test_a_contact_over_both_the_stage_and_the_overall_limit_is_a_contact_limit(con):
    """x1 may have one contact a week and one in its stage: b is over both, and the
    reason named is the overall limit's (the stage's only when it is the tighter)."""
    add(con, "candidates", [cand("a", "x1"), cand("b", "x1")])
    decide(con, ContactRules("s", [rule("a", priority=900), rule("b")], overall=[Window(7, 1)],
                             stages=[StageRule("active", 7, 1)], refund_days=None), D)
    assert result(con) == {("a", "x1"): "send", ("b", "x1"): "contact_limit"}
