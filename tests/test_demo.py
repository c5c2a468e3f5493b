"""The demo generator: contract, determinism, atomic replacement and realism.

Realism is checked with concrete numbers on the default 20k demo because the rest of
crmspec (segments, tiers, contact plans, data-quality report) is demonstrated on it:
every stage, tier and audience has to be there.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from crmspec.data import demo
from crmspec.data.demo import DemoSummary, generate_demo
from crmspec.data.tables import EVENT_TYPES, ORDER_STATUSES, TABLES

END = date(2026, 6, 30)
AS_OF = END + timedelta(days=1)
FILES = ("customers.parquet", "orders.parquet", "events.parquet")
MOBILE = r"^1[3-9]\d{9}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in ("customers", "orders", "events"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM '{path / name}.parquet'")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    row = con.execute(sql).fetchone()
    return row[0] if len(row) == 1 else row


def _count(con: duckdb.DuckDBPyConnection, table: str, where: str) -> int:
    return _one(con, f"SELECT count(*) FROM {table} WHERE {where}")


def _bytes(path: Path) -> dict[str, bytes]:
    return {f: (path / f).read_bytes() for f in FILES}


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSummary, Path]:
    path = tmp_path_factory.mktemp("default") / "demo"
    return generate_demo(path), path


@pytest.fixture(scope="module")
def db(default_demo: tuple[DemoSummary, Path]):
    con = _connect(default_demo[1])
    # One row per customer: what lifecycle, tier and audience logic is built from.
    con.execute(f"""
        CREATE TABLE facts AS
        SELECT c.customer_id, c.source,
               count(o.order_id) AS purchases,
               coalesce(sum(o.amount), 0) AS spend,
               DATE '{AS_OF}' - max(o.paid_at)::DATE AS days_since
        FROM customers c
        LEFT JOIN orders o ON o.customer_id = c.customer_id AND o.status = 'paid'
        GROUP BY ALL
    """)
    yield con
    con.close()


# -- contract -----------------------------------------------------------------------------


def test_columns_and_types_match_the_table_contract(default_demo):
    path = default_demo[1]
    con = duckdb.connect()
    for table, columns in TABLES.items():
        described = con.execute(f"DESCRIBE SELECT * FROM '{path / table}.parquet'").fetchall()
        assert [(r[0], r[1]) for r in described] == [(c.name, c.type) for c in columns]
    assert sorted(p.name for p in path.iterdir()) == sorted(FILES)


def test_summary_describes_what_was_written(default_demo, db):
    summary, path = default_demo
    assert summary.path == path
    assert summary.customers == 20_000 == _one(db, "SELECT count(*) FROM customers")
    assert summary.orders == _one(db, "SELECT count(*) FROM orders")
    assert summary.events == _one(db, "SELECT count(*) FROM events")
    assert summary.first_order == _one(db, "SELECT min(created_at)::DATE FROM orders")
    assert summary.last_order == END
    assert END - summary.first_order > timedelta(days=3 * 365 - 10)


def test_ids_are_formatted_unique_and_referenced(db):
    assert _one(db, r"SELECT bool_and(regexp_full_match(customer_id, 'C\d{7}')) FROM customers")
    assert _one(db, r"SELECT bool_and(regexp_full_match(order_id, 'O\d{8}')) FROM orders")
    assert _one(db, "SELECT count(DISTINCT customer_id) = count(*) FROM customers")
    assert _one(db, "SELECT count(DISTINCT order_id) = count(*) FROM orders")
    firsts = "SELECT (SELECT min(customer_id) FROM customers), min(order_id) FROM orders"
    assert _one(db, firsts) == ("C0000001", "O00000001")
    for table in ("orders", "events"):
        orphans = _one(db, f"SELECT count(*) FROM {table} ANTI JOIN customers USING (customer_id)")
        assert orphans == 0


def test_rows_are_sorted_for_deterministic_files(db):
    ids = [r[0] for r in db.execute("SELECT customer_id FROM customers").fetchall()]
    assert ids == sorted(ids)
    orders = db.execute("SELECT order_id, created_at FROM orders").fetchall()
    assert [r[0] for r in orders] == sorted(r[0] for r in orders)
    # Order ids follow time, as a shop's order numbers do.
    assert [r[1] for r in orders] == sorted(r[1] for r in orders)
    events = db.execute("SELECT customer_id, event_at, event_type, item_id FROM events").fetchall()
    assert events == sorted(events, key=lambda r: (r[0], r[1], r[2], r[3] is None, r[3] or ""))


# -- determinism --------------------------------------------------------------------------


def test_same_seed_same_bytes_whatever_the_thread_count(tmp_path, monkeypatch):
    first = generate_demo(tmp_path / "a", customers=3000, seed=11)
    assert first.orders > 3000
    real_connect = duckdb.connect
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(
            demo.duckdb,
            "connect",
            lambda *a, _t=threads, **k: real_connect(*a, config={"threads": _t}),
        )
        generate_demo(tmp_path / f"t{threads}", customers=3000, seed=11)
        results.append(_bytes(tmp_path / f"t{threads}"))
    assert _bytes(tmp_path / "a") == results[0] == results[1]


def test_different_seed_different_data(tmp_path):
    generate_demo(tmp_path / "a", customers=3000, seed=1)
    generate_demo(tmp_path / "b", customers=3000, seed=2)
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert all(a[f] != b[f] for f in FILES)
    con = duckdb.connect()
    same_phone = _one(
        con,
        f"SELECT count(*) FROM '{tmp_path}/a/customers.parquet' x "
        f"JOIN '{tmp_path}/b/customers.parquet' y USING (customer_id) WHERE x.phone = y.phone",
    )
    assert same_phone < 30


def test_fields_are_not_correlated(db):
    # Guards the double hash: a single hash(seed, id, field) gives correlated fields.
    corr = _one(
        db,
        "SELECT corr((phone IS NULL)::INT, (email IS NULL)::INT) FROM customers",
    )
    assert abs(corr) < 0.03
    both = _one(
        db,
        "SELECT avg((wechat_openid IS NOT NULL AND name IS NOT NULL)::INT) FROM customers",
    )
    assert both == pytest.approx(0.4 * 0.8, abs=0.02)


# -- atomic replacement -------------------------------------------------------------------


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_replaces_an_existing_demo_whole(tmp_path):
    out = tmp_path / "demo"
    generate_demo(out, customers=300, seed=1)
    (out / "stale.csv").write_text("old")
    generate_demo(out, customers=300, seed=2)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert _siblings(out) == []
    fresh = tmp_path / "fresh"
    generate_demo(fresh, customers=300, seed=2)
    assert _bytes(out) == _bytes(fresh)


def test_failure_midway_leaves_the_old_demo_intact(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    generate_demo(out, customers=300, seed=1)
    (out / "stale.csv").write_text("old")
    before = _bytes(out)
    real_write = demo._write
    calls = []

    def failing_write(con, query, path):
        calls.append(path.name)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real_write(con, query, path)

    monkeypatch.setattr(demo, "_write", failing_write)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_demo(out, customers=300, seed=2)
    assert calls == ["customers.parquet", "orders.parquet"]
    assert _bytes(out) == before
    assert (out / "stale.csv").read_text() == "old"
    assert _siblings(out) == []


def test_refuses_to_replace_a_directory_that_is_not_a_demo(tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    (out / "shop.yaml").write_text("precious")
    with pytest.raises(FileExistsError):
        generate_demo(out, customers=100)
    assert (out / "shop.yaml").read_text() == "precious"
    assert _siblings(out) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    assert generate_demo(empty, customers=100).customers == 100


def test_path_with_quotes_and_spaces(tmp_path):
    out = tmp_path / "it's a demo" / "out"
    summary = generate_demo(out, customers=100)
    assert summary.path == out
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": 0},
        {"orders_per_customer": 0},
        {"events_per_customer": -1.0},
        {"events_per_customer": float("nan")},
        {"seed": 2**64},
    ],
)
def test_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_demo(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


# -- realism: lifecycle, frequency, tiers --------------------------------------------------


def test_every_lifecycle_stage_is_populated(db):
    stages = dict(
        db.execute("""
            SELECT CASE WHEN days_since IS NULL THEN 'potential'
                        WHEN days_since < 7 THEN 'after_sale'
                        WHEN days_since < 45 THEN 'active'
                        WHEN days_since < 90 THEN 'silent'
                        WHEN days_since < 140 THEN 'sleeping'
                        WHEN days_since < 365 THEN 'churning'
                        ELSE 'dead' END, count(*)
            FROM facts GROUP BY 1
        """).fetchall()
    )
    for stage in ("after_sale", "active", "silent", "sleeping", "churning", "dead", "potential"):
        assert stages.get(stage, 0) >= 300, stages
    # More customers lapsed than recent, as in a real shop.
    assert stages["dead"] > stages["churning"] > stages["active"] > stages["after_sale"]
    assert 0.06 <= stages["potential"] / 20_000 <= 0.10
    # The latest purchase is on end_date: a build as of end_date + 1 sees day-1 customers.
    assert _one(db, "SELECT min(days_since) FROM facts") == 1
    assert _one(db, "SELECT count(*) FROM facts WHERE days_since = 1") >= 20


def test_potential_customers_are_registered_with_or_without_orders(db):
    with_orders, without = _one(
        db,
        """SELECT count(*) FILTER (WHERE n > 0), count(*) FILTER (WHERE n = 0)
           FROM facts f
           JOIN (SELECT c.customer_id, count(o.order_id) AS n
                 FROM customers c LEFT JOIN orders o USING (customer_id) GROUP BY ALL)
           USING (customer_id)
           WHERE f.days_since IS NULL""",
    )
    assert with_orders >= 300 and without >= 300


def test_repeat_buying_is_heavy_tailed(db):
    buyers, once, five, ten, twenty = _one(
        db,
        """SELECT count(*), count(*) FILTER (WHERE purchases = 1),
                  count(*) FILTER (WHERE purchases >= 5), count(*) FILTER (WHERE purchases >= 10),
                  count(*) FILTER (WHERE purchases >= 20)
           FROM facts WHERE purchases > 0""",
    )
    assert 0.6 <= once / buyers <= 0.8
    assert five >= 500 and ten >= 150 and twenty >= 50
    assert _one(db, "SELECT max(purchases) FROM facts") >= 40


def test_group_buy_customers_repeat_about_half_as_often(db):
    rates = dict(
        db.execute("""
            SELECT source = 'group_buy', avg((purchases >= 2)::INT)
            FROM facts WHERE purchases > 0 GROUP BY 1
        """).fetchall()
    )
    assert 0.35 <= rates[True] / rates[False] <= 0.65


def test_every_member_tier_band_is_populated(db):
    bands = dict(
        db.execute("""
            SELECT CASE WHEN spend < 500 THEN 0 WHEN spend < 1500 THEN 500
                        WHEN spend < 5000 THEN 1500 WHEN spend < 7000 THEN 5000 ELSE 7000 END,
                   count(*)
            FROM facts WHERE purchases > 0 GROUP BY 1
        """).fetchall()
    )
    assert bands[0] > bands[500] > bands[1500] > bands[5000]
    assert bands[5000] >= 20 and bands[7000] >= 20, bands


# -- realism: orders ----------------------------------------------------------------------


def test_no_timestamp_after_end_date(db):
    limit = f"TIMESTAMP '{END} 23:59:59'"
    latest = "greatest(max(created_at), max(paid_at), max(shipped_at), max(signed_at))"
    assert _one(db, f"SELECT {latest} <= {limit} FROM orders")
    assert _one(db, f"SELECT max(event_at) <= {limit} FROM events")
    assert _one(db, f"SELECT max(registered_at) <= {limit} FROM customers")
    assert _one(db, "SELECT max(created_at)::DATE FROM orders WHERE status = 'paid'") == END


def test_statuses_and_payment_timestamps(db):
    shares = dict(
        db.execute(
            "SELECT status, count(*) / sum(count(*)) OVER () FROM orders GROUP BY 1"
        ).fetchall()
    )
    assert set(shares) == set(ORDER_STATUSES)
    assert shares["paid"] > 0.85
    assert 0.035 <= shares["refunded"] <= 0.065
    assert 0.025 <= shares["closed"] <= 0.055
    assert 0 < shares["unpaid"] < 0.02
    # paid_at is NULL exactly for orders never paid.
    assert _count(db, "orders", "(paid_at IS NULL) <> (status IN ('unpaid', 'closed'))") == 0
    # The payment-reminder audience: unpaid orders are from the last two days only.
    first_unpaid = _one(db, "SELECT min(created_at)::DATE FROM orders WHERE status = 'unpaid'")
    assert first_unpaid == END - timedelta(days=1)
    late_payment = "NOT (paid_at >= created_at AND paid_at <= created_at + INTERVAL 60 MINUTE)"
    assert _count(db, "orders", late_payment) == 0


def test_fulfilment_timestamps_are_ordered(db):
    shipped = "NOT (shipped_at >= paid_at AND shipped_at <= paid_at + INTERVAL 3 DAY)"
    signed = """NOT (signed_at >= shipped_at + INTERVAL 1 DAY
                     AND signed_at <= shipped_at + INTERVAL 5 DAY)"""
    assert _count(db, "orders", shipped) == 0
    assert _count(db, "orders", signed) == 0
    assert _count(db, "orders", "shipped_at IS NOT NULL AND paid_at IS NULL") == 0
    assert _count(db, "orders", "signed_at IS NOT NULL AND shipped_at IS NULL") == 0
    # Recent paid orders are still on their way; old ones have arrived.
    on_the_way = f"""status = 'paid' AND created_at::DATE = DATE '{END}'
                     AND shipped_at IS NOT NULL AND signed_at IS NULL"""
    assert _count(db, "orders", on_the_way) > 0
    not_arrived = f"status = 'paid' AND created_at < DATE '{END}' - 10 AND signed_at IS NULL"
    assert _count(db, "orders", not_arrived) == 0


def test_amounts_are_lognormal_ish(db):
    median, p99, top, cents = _one(
        db,
        """SELECT median(amount), quantile_cont(amount, 0.99), max(amount),
                  avg((amount * 100 % 100 <> 0)::INT) FROM orders""",
    )
    assert 120 <= median <= 180
    assert p99 > 5 * median and top > 20 * median
    assert cents > 0.9
    assert _one(db, "SELECT min(amount) > 0 FROM orders")


def test_orders_happen_in_the_evening(db):
    evening, night = _one(
        db,
        """SELECT count(*) FILTER (WHERE hour(created_at) BETWEEN 19 AND 22),
                  count(*) FILTER (WHERE hour(created_at) BETWEEN 2 AND 5) FROM orders""",
    )
    assert evening > 5 * night


def test_promotion_days_spike_and_are_labelled(db):
    promo_day = "strftime(created_at, '%m-%d') IN ('06-18', '11-11', '12-12')"
    assert _count(db, "orders", f"source = 'promotion' AND NOT {promo_day}") == 0
    assert _count(db, "orders", f"source = 'normal' AND {promo_day}") == 0
    per_day = dict(
        db.execute(f"""SELECT {promo_day}, count(*) / count(DISTINCT created_at::DATE)
                       FROM orders GROUP BY 1""").fetchall()
    )
    assert per_day[True] > 4 * per_day[False]
    days = "SELECT count(DISTINCT created_at::DATE) FROM orders WHERE source = 'promotion'"
    assert _one(db, days) == 9  # three promotions a year over three years


def test_group_buy_orders_are_group_buy_customers_first_orders(db):
    assert _one(
        db,
        """SELECT bool_and(c.source = 'group_buy') FROM orders o
                       JOIN customers c USING (customer_id) WHERE o.source = 'group_buy'""",
    )
    repeated = """SELECT count(*) FROM (
                      SELECT customer_id, count(*) FILTER (WHERE status <> 'closed') AS n
                      FROM orders WHERE source = 'group_buy' GROUP BY 1) WHERE n > 1"""
    assert _one(db, repeated) == 0
    assert _count(db, "orders", "source = 'group_buy'") >= 1000


# -- realism: customer profiles -----------------------------------------------------------


def test_phone_numbers(db):
    valid, null, bad = _one(
        db,
        f"""SELECT avg(regexp_full_match(coalesce(phone, ''), '{MOBILE[1:-1]}')::INT),
                   avg((phone IS NULL)::INT),
                   avg((phone IS NOT NULL AND NOT regexp_full_match(phone, '{MOBILE[1:-1]}'))::INT)
            FROM customers""",
    )
    assert 0.91 <= valid <= 0.95
    assert 0.05 <= null <= 0.07
    assert 0.002 <= bad <= 0.01
    prefixes = {r[0] for r in db.execute("SELECT DISTINCT phone[1:2] FROM customers").fetchall()}
    assert {"13", "15", "17", "18", "19"} <= prefixes
    malformed = [
        r[0]
        for r in db.execute(
            f"SELECT phone FROM customers WHERE NOT regexp_full_match(phone, '{MOBILE[1:-1]}')"
        ).fetchall()
    ]
    assert any(p.startswith("+86 ") for p in malformed)
    assert any("-" in p for p in malformed)
    assert any(re.fullmatch(r"\d{10}", p) for p in malformed)


def test_email_addresses(db):
    present, bad = _one(
        db,
        f"""SELECT avg((email IS NOT NULL)::INT),
                   avg((email IS NOT NULL AND NOT regexp_full_match(email, '{EMAIL[1:-1]}'))::INT)
            FROM customers""",
    )
    assert 0.67 <= present <= 0.73
    assert 0.0005 <= bad <= 0.006
    domains = db.execute("""SELECT split_part(email, '@', 2), count(*) FROM customers
                            WHERE regexp_full_match(email, '[^@]+@[^@]+\\.[^@]+')
                            GROUP BY 1 ORDER BY 2 DESC""").fetchall()
    assert domains[0][0] == "qq.com"
    assert {d for d, _ in domains} == {"qq.com", "163.com", "126.com", "sina.com", "gmail.com"}


def test_wechat_nick_and_name(db):
    share, valid = _one(
        db,
        """SELECT avg((wechat_openid IS NOT NULL)::INT),
                  bool_and(regexp_full_match(wechat_openid, 'o[A-Za-z0-9_-]{27}'))
           FROM customers""",
    )
    assert 0.37 <= share <= 0.43 and valid
    assert _one(db, "SELECT count(*) FROM customers WHERE nick IS NULL OR nick = ''") == 0
    assert _one(db, "SELECT avg((nick LIKE 'tb%')::INT) FROM customers") > 0.3
    named, chinese = _one(
        db,
        """SELECT avg((name IS NOT NULL)::INT),
                  bool_and(regexp_full_match(name, '[\u4e00-\u9fff]{2,3}')) FROM customers""",
    )
    assert 0.77 <= named <= 0.83 and chinese
    surnames = {s for s, _ in demo._SURNAMES}
    firsts = {r[0] for r in db.execute("SELECT DISTINCT name[1] FROM customers").fetchall()}
    assert firsts - {None} <= surnames


def test_birthday_gender_and_region(db):
    share, youngest, oldest = _one(
        db,
        f"""SELECT avg((birthday IS NOT NULL)::INT),
                   min(datediff('day', birthday, DATE '{END}')),
                   max(datediff('day', birthday, DATE '{END}')) FROM customers""",
    )
    assert 0.57 <= share <= 0.63
    assert END - timedelta(days=youngest) <= date(END.year - 18, END.month, END.day)
    assert END - timedelta(days=oldest) > date(END.year - 61, END.month, END.day)
    genders = dict(
        db.execute("SELECT gender, count(*) / 20000 FROM customers GROUP BY 1").fetchall()
    )
    assert 0.67 <= genders["F"] <= 0.73 and 0.22 <= genders["M"] <= 0.28 and genders[None] > 0
    provinces = db.execute(
        "SELECT province, avg(city_tier) FROM customers GROUP BY 1 ORDER BY count(*) DESC"
    ).fetchall()
    assert provinces[0][0] == "广东"
    assert {p for p, _ in provinces} == {p for p, _, _ in demo._PROVINCES}
    tier = dict(provinces)
    assert tier["上海"] < 2 and tier["北京"] < 2 and tier["河南"] > 3.5
    tiers = [
        r[0] for r in db.execute("SELECT DISTINCT city_tier FROM customers ORDER BY 1").fetchall()
    ]
    assert tiers == [1, 2, 3, 4, 5]


def test_registration_and_sources(db):
    late = _one(
        db,
        """SELECT count(*) FROM customers c
                       JOIN (SELECT customer_id, min(created_at) AS first FROM orders GROUP BY 1)
                       USING (customer_id) WHERE c.registered_at > first""",
    )
    assert late == 0
    assert _one(db, "SELECT count(*) FROM customers WHERE registered_at IS NULL") == 0
    sources = dict(
        db.execute("SELECT source, count(*) / 20000 FROM customers GROUP BY 1").fetchall()
    )
    assert set(sources) == {"organic", "search", "ad", "live", "group_buy"}
    assert 0.10 <= sources["group_buy"] <= 0.14


def test_opt_outs(db):
    rates = _one(
        db,
        """SELECT avg(opt_out_sms::INT), avg(opt_out_email::INT), avg(opt_out_wechat::INT),
                  avg(opt_out_phone::INT), avg(opt_out_all::INT) FROM customers""",
    )
    for rate, expected in zip(rates, (0.03, 0.05, 0.02, 0.04, 0.005), strict=True):
        assert rate == pytest.approx(expected, rel=0.3)
    flags = ("sms", "email", "wechat", "phone", "all")
    assert _count(db, "customers", " OR ".join(f"opt_out_{f} IS NULL" for f in flags)) == 0


# -- realism: events ----------------------------------------------------------------------


def test_events_are_recent_and_mixed(db):
    recent = _one(db, f"SELECT avg((event_at >= DATE '{END}' - 89)::INT) FROM events")
    assert 0.75 <= recent <= 0.85
    types = db.execute("SELECT event_type FROM events GROUP BY 1 ORDER BY count(*) DESC").fetchall()
    assert types[0] == ("visit",)
    assert {t for (t,) in types} == set(EVENT_TYPES)
    items, valid = _one(
        db,
        "SELECT count(DISTINCT item_id), bool_and(regexp_full_match(item_id, 'SKU\\d{4}')) "
        "FROM events",
    )
    assert 100 <= items <= 400 and valid
    assert _count(db, "events", "event_type = 'search' AND item_id IS NOT NULL") == 0


def test_intent_audience_exists(db):
    # Favourited or carted in the last 30 days, without paying since.
    intent = _one(
        db,
        f"""SELECT count(DISTINCT e.customer_id) FROM events e
            WHERE e.event_type IN ('favorite', 'cart')
              AND e.event_at >= DATE '{AS_OF}' - 30
              AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = e.customer_id
                              AND o.paid_at >= e.event_at)""",
    )
    assert 500 <= intent <= 10_000
    never_paid = _one(
        db,
        f"""SELECT count(DISTINCT e.customer_id) FROM events e JOIN facts f USING (customer_id)
            WHERE f.days_since IS NULL AND e.event_type IN ('favorite', 'cart')
              AND e.event_at >= DATE '{AS_OF}' - 30""",
    )
    assert never_paid >= 50


# -- benchmark scaling --------------------------------------------------------------------


def test_scaling_to_a_target_volume_keeps_every_stage(tmp_path):
    summary = generate_demo(
        tmp_path / "big", customers=3000, orders_per_customer=10, events_per_customer=20
    )
    assert 9 <= summary.orders / 3000 <= 11
    assert 19 <= summary.events / 3000 <= 21
    con = _connect(tmp_path / "big")
    stages = con.execute(f"""
        SELECT CASE WHEN d < 7 THEN 0 WHEN d < 45 THEN 7 WHEN d < 90 THEN 45
                    WHEN d < 140 THEN 90 WHEN d < 365 THEN 140 ELSE 365 END, count(*)
        FROM (SELECT DATE '{AS_OF}' - max(paid_at)::DATE AS d FROM orders
              WHERE status = 'paid' GROUP BY customer_id)
        GROUP BY 1
    """).fetchall()
    assert len(stages) == 6 and min(n for _, n in stages) >= 20
    once = """SELECT count(*) FROM (SELECT customer_id FROM orders WHERE status = 'paid'
                                    GROUP BY 1 HAVING count(*) = 1)"""
    assert _one(con, once) > 1000
