"""The compiled plan reads only what the plan uses (issue 16): the features statement
scans the event types of the plan's intents, and the unpaid orders only for an
`unpaid_order` intent, with the same intent signals as a scan of everything."""

from datetime import date

from crmspec.compile.facts import with_customers
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


def test_rfm_scores_come_from_distinct_values_not_a_sort_of_the_buyers(tiny):
    """R, F and M are scored from each value's count and a running sum (no cume_dist()
    over every buyer's row); the scores themselves are pinned customer by customer in
    test_build_tiny (13 buyers, ties) and test_demo_independent (3,000 customers)."""
    features, _ = _features(tiny)
    assert "cume_dist" not in features
    for column in ("last_purchase_date", "rfm_purchases", "rfm_spend"):
        assert f"(SELECT {column} AS v, count(*) AS n FROM rfm_buyers GROUP BY 1)" in features
    # Placed by four cuts per score (test_rfm_scores), not joined back buyer by buyer.
    assert features.count("JOIN rfm_") == 1 and "CROSS JOIN rfm_cuts AS k" in features
    assert "(SELECT max(v) FILTER (WHERE score <= 4) FROM rfm_m) AS m4" in features


def test_per_customer_aggregates_are_not_repeated(tiny):
    """Without a tier window every purchase counts for the tier: spend is the plain sum
    (the same aggregate as M's), and the last purchase date is the last payment's date,
    not a second max() (the tiny shop's spends and dates: test_build_tiny)."""
    features, _ = _features(tiny)
    per_customer = features[features.index("per_customer AS"):features.index("rfm_buyers AS")]
    assert "coalesce(sum(amount), 0) AS spend" in per_customer
    assert "CAST(max(paid_at) AS DATE) AS last_purchase_date" in per_customer
    assert "max(purchase_date)" not in per_customer


def test_features_carries_the_customer_columns_the_plan_reads(tiny):
    """The tiny plan reads phone (SMS), email (email), their opt-outs and opt_out_all,
    name (its templates: customer.name) and province and gender (a segment's sql:
    filter); `features` carries those and no other customer column. A writer's rows and
    explain see every column, with the values of `customers` (with_customers)."""
    read = ("customer_id", "phone", "email", "name", "gender", "province", "opt_out_sms",
            "opt_out_email", "opt_out_all")
    with open_session(tiny, AS_OF) as (con, p):
        assert p.compiled.customer_columns == read
        run_plan(con, p.compiled, p.plan)
        customer = [r[0] for r in con.execute("DESCRIBE customers").fetchall()]
        carried = [r[0] for r in con.execute("DESCRIBE features").fetchall()]
        assert [c for c in carried if c in customer] == list(read)
        whole = con.execute(f"SELECT * FROM ({with_customers(con)}) ORDER BY customer_id")
        names = [d[0] for d in whole.description]
        assert names == customer + [c for c in carried if c not in customer]
        rows = [row[:len(customer)] for row in whole.fetchall()]
        assert rows == con.execute("SELECT * FROM customers ORDER BY customer_id").fetchall()
        assert len(rows) == 16


def test_a_trigger_reads_its_customer_column(tiny):
    """A birthday trigger reads `birthday`, which no segment names: features carries it."""
    acts = tiny / "plans" / "activities.yaml"
    text = acts.read_text(encoding="utf-8")
    assert "birthday" not in text
    with open_session(tiny, AS_OF) as (con, p):
        assert "birthday" not in p.compiled.customer_columns
    old = "    segment: carted_30d\n    channel: email\n"
    assert old in text
    acts.write_text(text.replace(old, old + "    trigger: {type: birthday, lead_days: 0}\n"),
                    encoding="utf-8")
    with open_session(tiny, AS_OF) as (con, p):
        assert "birthday" in p.compiled.customer_columns
