"""The contact rules a shop.yaml or a data file can set, each on both sides of its
boundary, through the build's own contact pass on the tiny shop (as of 2026-03-01).

Candidates as of 2026-03-01 (hand-worked in test_build_tiny): payment_reminder c08
(service), review_invite c02 (+ c12 opted out, c13 bad phone), cart_recovery c09, c15
(email, marketing), active_care c03, c14, c15, c16 (SMS, maintenance), winback c04, c05,
c06 (SMS, marketing). The shop's salt is its name, 小测试店.
"""

from __future__ import annotations

from click.testing import CliRunner
from shop_edits import add_rows, append, decisions

from crmspec.build import build
from crmspec.cli import main
from crmspec.contact.holdout import bucket

SENT_WITHOUT_RULES = {
    "payment_reminder": {"c08": "send"},
    "review_invite": {"c02": "send", "c12": "opted_out", "c13": "invalid_address"},
    "cart_recovery": {"c09": "send", "c15": "send"},
    "active_care": {"c03": "send", "c14": "send", "c15": "send", "c16": "send"},
    "winback": {"c04": "send", "c05": "send", "c06": "send"},
}


def with_changes(changes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {a: {**rows, **changes.get(a, {})} for a, rows in SENT_WITHOUT_RULES.items()}


def test_no_rule_set_sends_to_every_candidate(tiny):
    assert decisions(tiny) == SENT_WITHOUT_RULES


# --- global hold-out (contact.global_holdout) -----------------------------------------

def test_global_holdout_keeps_marketing_from_customers_whose_bucket_is_below_the_share(tiny):
    """Rule: a marketing contact is held out when bucket(salt:global, customer) < share.

    Buckets under 小测试店:global: c04 0.189, c03 0.478 (maintenance only), c16 0.598,
    c06 0.615, c15 0.737, c09 0.806, c14 0.907, c05 0.962. With a share of 0.5 only c04
    of the marketing candidates is held out; c03 is below it too but active_care is
    maintenance, which the hold-out never touches."""
    assert bucket("小测试店:global", "c04") < 0.5 < bucket("小测试店:global", "c06")
    assert bucket("小测试店:global", "c03") < 0.5
    append(tiny, "shop.yaml", "contact:\n  global_holdout: 0.5\n")
    assert decisions(tiny) == with_changes({"winback": {"c04": "global_holdout"}})


def test_global_holdout_is_strictly_below_the_share(tiny):
    """A share equal to c04's bucket does not hold c04 out (bucket < share); the next
    float up does."""
    edge = bucket("小测试店:global", "c04")
    append(tiny, "shop.yaml", f"contact:\n  global_holdout: {edge!r}\n")
    assert decisions(tiny)["winback"]["c04"] == "send"
    path = tiny / "plans/shop.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        repr(edge), repr(edge + 2 ** -40)), encoding="utf-8")
    assert decisions(tiny)["winback"]["c04"] == "global_holdout"


# --- open refunds (contact.refund_days) -----------------------------------------------

REFUNDS = ("r01,c15,2026-01-31 00:00:00,2026-01-31 00:05:00,,,80.00,refunded,normal\n"
           "r02,c09,2026-01-30 23:59:00,2026-01-30 23:59:30,,,59.00,refunded,normal\n")


def test_open_refund_window_is_the_as_of_date_and_the_days_before_it(tiny):
    """Rule: marketing skips customers with a refunded order placed on one of the
    refund_days calendar days ending on the as-of date (30: 01-31 .. 03-01).

    c15's refund placed 01-31 00:00 is inside: cart_recovery stops, active_care
    (maintenance) still goes; c09's placed 01-30 23:59 is one day out: sent."""
    add_rows(tiny, "orders.csv", REFUNDS)
    assert decisions(tiny) == with_changes({"cart_recovery": {"c15": "open_refund"}})


def test_open_refund_window_follows_refund_days(tiny):
    """refund_days 31 takes in 01-30 (c09); null turns the rule off."""
    add_rows(tiny, "orders.csv", REFUNDS)
    append(tiny, "shop.yaml", "contact:\n  refund_days: 31\n")
    assert decisions(tiny)["cart_recovery"] == {"c09": "open_refund", "c15": "open_refund"}
    path = tiny / "plans/shop.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("refund_days: 31",
                                                            "refund_days: null"), encoding="utf-8")
    assert decisions(tiny) == SENT_WITHOUT_RULES


# --- the do-not-contact list (data/suppressions.csv) ----------------------------------

def test_blank_channel_in_the_do_not_contact_file_means_every_channel(tiny):
    """Rule: a suppressions row with an empty channel (missing, quoted empty, or only
    blanks) stops every channel; a named channel stops that channel only.

    c09 (blank) loses its email, c05 ("  ") and c06 ("") their SMS; c15 (sms) loses
    active_care but keeps cart_recovery's email. c99 is not a customer: no effect."""
    (tiny / "data/suppressions.csv").write_text(
        'customer_id,channel,reason\nc09,,complaint\nc05,  ,typo\nc06,"",asked\n'
        "c15,sms,asked by phone\nc99,,unknown\n", encoding="utf-8")
    assert decisions(tiny) == with_changes({
        "cart_recovery": {"c09": "do_not_contact"},
        "active_care": {"c15": "do_not_contact"},
        "winback": {"c05": "do_not_contact", "c06": "do_not_contact"},
    })


def test_a_channel_named_in_the_do_not_contact_file_stops_only_that_channel(tiny):
    """email for c15: cart_recovery stops, the SMS of active_care go; a service message
    is stopped too (the list is the customer's word, whatever the plan says)."""
    (tiny / "data/suppressions.csv").write_text(
        "customer_id,channel\nc15,email\nc08,sms\n", encoding="utf-8")
    assert decisions(tiny) == with_changes({"cart_recovery": {"c15": "do_not_contact"},
                                            "payment_reminder": {"c08": "do_not_contact"}})


def test_the_do_not_contact_file_may_be_named_in_shop_yaml(tiny):
    (tiny / "data/dnc.csv").write_text("customer_id\nc04\n", encoding="utf-8")
    (tiny / "data/suppressions.csv").write_text("customer_id\nc05\n", encoding="utf-8")
    path = tiny / "plans/shop.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  path: data\n", "  path: data\n  tables: {suppressions: dnc.csv}\n"), encoding="utf-8")
    assert decisions(tiny)["winback"] == {"c04": "do_not_contact", "c05": "send",
                                          "c06": "send"}


def test_a_do_not_contact_table_in_a_duckdb_file(tiny):
    import duckdb

    con = duckdb.connect(str(tiny / "shop.duckdb"))
    for table in ("customers", "orders", "events"):
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv("
                    f"'{tiny / 'data' / (table + '.csv')}', header = true, auto_detect = true)")
    con.close()
    path = tiny / "plans/shop.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  source: csv\n  path: data\n", "  source: duckdb\n  path: shop.duckdb\n"),
        encoding="utf-8")
    assert decisions(tiny) == SENT_WITHOUT_RULES  # no suppressions table: an empty list
    con = duckdb.connect(str(tiny / "shop.duckdb"))
    con.execute("CREATE TABLE suppressions AS SELECT * FROM (VALUES ('c06', NULL), "
                "('c04', 'email')) AS t(customer_id, channel)")
    con.close()
    assert decisions(tiny)["winback"] == {"c04": "send", "c05": "send",
                                          "c06": "do_not_contact"}


def test_a_do_not_contact_file_without_customer_id_is_an_error(tiny):
    (tiny / "data/suppressions.csv").write_text("buyer,channel\nc04,\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "--dry-run", "--project", str(tiny)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == [
        "checking the plan, attaching and checking the data",
        "plans/shop.yaml:6:3: error[E403]: column 'customer_id' not found in the "
        "suppressions data",
        "  hint: a suppressions list has customer_id and optionally channel and reason"]
    assert "Traceback" not in result.output


def test_suppressed_customers_are_counted_per_activity_in_the_manifest(tiny):

    (tiny / "data/suppressions.csv").write_text("customer_id,channel\nc04,\nc15,sms\n",
                                                encoding="utf-8")
    m = build(tiny, dry_run=True).manifest
    by_id = {a["id"]: a for a in m["activities"]}
    assert (by_id["winback"]["sent"], by_id["winback"]["suppressed"]) == (
        2, {"do_not_contact": 1})
    assert (by_id["active_care"]["sent"], by_id["active_care"]["suppressed"]) == (
        3, {"do_not_contact": 1})
    assert (by_id["cart_recovery"]["sent"], by_id["cart_recovery"]["suppressed"]) == (2, {})
