"""The compiled plan reads only what the plan uses (issue 16): the features statement
scans the event types of the plan's intents, and the unpaid orders only for an
`unpaid_order` intent, with the same intent signals as a scan of everything."""

from datetime import date

from crmspec.engine.run import run_plan
from crmspec.engine.session import open_session

AS_OF = date(2026, 3, 1)


def _features(root):
    with open_session(root, AS_OF) as (con, p):
        sql = dict(p.compiled.statements)
        features = next(v for k, v in sql.items() if k.startswith("features"))
        run_plan(con, p.compiled, p.plan)
        carted = sorted(r[0] for r in con.execute(
            "SELECT customer_id FROM features WHERE intent_cart_30d IS NOT NULL").fetchall())
    return features, carted


def _no_unpaid_intent(root):
    """The tiny plan with its one unpaid_order intent (the payment reminder's segment)
    turned into a favourite one."""
    segs = root / "plans" / "segments.yaml"
    text = segs.read_text(encoding="utf-8")
    old = "intent: {events: [unpaid_order], within_days: 1}"
    assert old in text
    segs.write_text(text.replace(old, "intent: {events: [favorite], within_days: 1}"),
                    encoding="utf-8")


def test_events_are_scanned_for_the_intents_types_only(tiny):
    features, carted = _features(tiny)
    assert "WHERE event_type IN ('cart')" in features
    assert "'unpaid_order' AS event_type" in features  # the payment reminder's segment
    assert carted == ["c09", "c15", "c16"]  # carted in the 30 days (test_build_tiny)


def test_no_unpaid_orders_scan_without_an_unpaid_order_intent(tiny):
    _no_unpaid_intent(tiny)
    features, carted = _features(tiny)
    assert "unpaid_order" not in features
    assert "WHERE event_type IN ('cart', 'favorite')" in features
    assert carted == ["c09", "c15", "c16"]
