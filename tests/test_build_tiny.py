"""The tiny hand-made shop (tests/fixtures/tiny), as of 2026-03-01.

Every expected value below was worked out by hand from the CSV files:

  customer  last paid     days  stage       purchases  spend    notes
  c01       2026-03-01       0  after_sale  1          100
  c02       2026-02-23       6  after_sale  2          550      returning, vip1
  c03       2026-02-22       7  active      1           80      boundary: 7 is active
  c04       2026-01-15      45  silent      1          520      boundary: 45 is silent
  c05       2025-12-01      90  sleeping    1         1500      vip2 at exactly 1500
  c06       2025-10-12     140  churning    1           60
  c07       2025-03-01     365  dead        1         5000      vip3
  c08       -                   potential   0                   unpaid order today
  c09       -                   potential   0                   carted 02-20, closed order
  c10       -                   potential   0                   refunded only: no purchase
  c11       2026-02-10      19  active      4         7000      fans, vip4
  c12       2026-02-24       5  after_sale  1          120      SMS opt-out
  c13       2026-02-25       4  after_sale  1           90      phone has 10 digits
  c14       2026-02-01      28  active      1          550      two orders one day: once
  c15       2026-02-20       9  active      1          150      carted 02-25, after paying
  c16       2026-02-20       9  active      1          150      carted 02-18, then paid
"""

import csv
import json
from datetime import date

import duckdb
from click.testing import CliRunner

from crmspec.build import build
from crmspec.cli import main
from crmspec.engine.run import run_plan


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_counts_per_stage_type_tier_and_segment(tiny):
    m = build(tiny).manifest
    assert m["as_of"] == "2026-03-01"
    assert m["stages"] == {"potential": 3, "after_sale": 4, "active": 5, "silent": 1,
                           "sleeping": 1, "churning": 1, "dead": 1}
    assert m["customer_types"] == {"potential": 3, "new": 11, "returning": 1, "fans": 1}
    assert m["tiers"] == {"none": 10, "vip1": 3, "vip2": 1, "vip3": 1, "vip4": 1}
    assert m["segments"] == {
        "after_sale_all": 4,
        "new_customers": 11,
        "returning_customers": 2,  # c02 and c11: returning includes fans
        "carted_30d": 2,  # c09 (no purchase) and c15 (carted after paying)
        "unpaid_today": 1,  # c08
        "vip2_plus": 3,  # c05, c07, c11
        "lapsed": 3,  # c04, c05, c06
        "zhejiang_women": 8,
        "active_not_fans": 4,  # active minus c11
        "fans_only": 1,
    }


def test_send_lists_exact_rows(tiny):
    """The audience lists (who and why, the address masked: a list for review) and the
    SMS gateway files (the real number: the gateway needs it).

    2026-03-01 is a Sunday: SMS go out on Monday 03-02, care messages at 08:00 (around
    commuting hours), marketing at 10:00 (working hours).
    """
    out = tiny / "out"
    build(tiny)
    reminder = rows(out / "audience/payment_reminder.csv")
    assert reminder == [{
        "customer_id": "c08", "activity_id": "payment_reminder", "channel": "sms",
        "address": "138****0008", "segment": "unpaid_today", "stage": "potential",
        "customer_type": "potential", "tier": "", "purchases": "0", "spend": "0.00",
        "days_since_last_purchase": "", "r": "", "f": "", "m": "",
        "scheduled_at": "2026-03-02 08:00",
    }]
    # a service message: signature added, no opt-out suffix; 33 characters = 1 segment
    assert rows(out / "sms/payment_reminder.csv") == [{
        "phone": "13800000008",
        "content": "【小测试店】亲，您在小测试店的订单还未付款，库存有限，请尽快完成支付哦",
        "scheduled_at": "2026-03-02 08:00", "segments": "1"}]
    winback_text = "【小测试店】亲，好久不见！小测试店送您10元回归券，7天内有效 回T退订"
    assert [(r["phone"], r["content"], r["scheduled_at"])
            for r in rows(out / "sms/winback.csv")] == [
        (f"1380000000{i}", winback_text, "2026-03-02 10:00") for i in (4, 5, 6)]
    # paid 3-6 days before 2026-03-01: c02 (02-23), c12 (02-24, opted out), c13 (bad phone)
    assert [r["customer_id"] for r in rows(out / "audience/review_invite.csv")] == ["c02"]
    assert [(r["customer_id"], r["address"]) for r in rows(out / "audience/cart_recovery.csv")] == [
        ("c09", "c***@sina.com"), ("c15", "c***@qq.com")]
    assert [r["customer_id"] for r in rows(out / "audience/active_care.csv")] == [
        "c03", "c14", "c15", "c16"]
    winback = rows(out / "audience/winback.csv")
    assert [(r["customer_id"], r["stage"], r["days_since_last_purchase"], r["tier"])
            for r in winback] == [("c04", "silent", "45", "vip1"),
                                  ("c05", "sleeping", "90", "vip2"),
                                  ("c06", "churning", "140", "")]


def test_manifest_lists_counts_and_files(tiny):
    m = json.loads((build(tiny).out_dir / "manifest.json").read_text(encoding="utf-8"))
    review = next(a for a in m["activities"] if a["id"] == "review_invite")
    assert review == {
        "id": "review_invite", "name": "评价邀请", "kind": "maintenance", "channel": "sms",
        "segment": "after_sale_all", "eligible": 3,
        "suppressed": {"invalid_address": 1, "opted_out": 1}, "sent": 1, "control": 0,
        "files": ["sms/review_invite.csv", "audience/review_invite.csv"],
        "template": "review_invite", "message": {"parts": ["text"], "renderings": 1},
        "cost": {"unit": "segment", "units": 1, "unit_price": 0.05, "total": 0.05,
                 "currency": "CNY"},
        "not_written": None,
    }
    # 9 SMS (1 + 1 + 4 + 3) at 0.05 and 2 emails at 0.01
    assert m["costs"] == {"currency": "CNY", "by_channel": {"email": 0.02, "sms": 0.45},
                          "total": 0.47, "month_to_date": 0.47, "monthly_cap": None,
                          "over_cap": None}
    assert [a["id"] for a in m["activities"]] == [
        "payment_reminder", "review_invite", "cart_recovery", "active_care", "winback"]
    assert m["data_problems"] == [{
        "code": "customers_bad_phone", "table": "customers", "count": 1,
        "message": "phone numbers that are not valid mainland mobile numbers "
                   "(not reachable by SMS)",
        "examples": ["138***0013"],
    }]
    assert set(m) >= {"as_of", "plan_hash", "data_fingerprint", "activities"}


def test_rfm_scores_follow_cume_dist(tiny):
    """13 buyers; score = ceil(5 x cume_dist), ties share a score.

    F: 11 buyers have 1 purchase: cume_dist 11/13 -> ceil(4.23) = 5 (c02 and c11 also 5).
    """
    out = tiny / "out"
    build(tiny)
    care = {r["customer_id"]: r for r in rows(out / "audience/active_care.csv")}
    assert {c: care[c]["f"] for c in care} == {"c03": "5", "c14": "5", "c15": "5", "c16": "5"}
    # days desc: 365,140,90,45,28,19,9,9,7,6,5,4,0 -> c14 (28) is 5th of 13: ceil(5*5/13)=2
    assert care["c14"]["r"] == "2"
    # c15/c16 (9 days) are 8th of 13 with their tie: ceil(5*8/13) = 4
    assert care["c15"]["r"] == care["c16"]["r"] == "4"


def rfm_scores(root, as_of=None) -> dict[str, tuple]:
    """(r, f, m) per customer from the build's `features` table (the production SQL)."""
    from crmspec.engine.session import open_session

    with open_session(root, as_of) as (con, p):
        run_plan(con, p.compiled, p.plan)
        return {c: (r, f, m) for c, r, f, m in con.execute(
            "SELECT customer_id, r, f, m FROM features ORDER BY 1").fetchall()}


# spend over all time, ascending: c06 60, c03 80, c13 90, c01 100, c12 120, c15/c16 150,
# c04 520, c02/c14 550, c05 1500, c07 5000, c11 7000; m = ceil(5 * position / 13)
M_ALL_TIME = {"c06": 1, "c03": 1, "c13": 2, "c01": 2, "c12": 2, "c15": 3, "c16": 3, "c04": 4,
              "c02": 4, "c14": 4, "c05": 5, "c07": 5, "c11": 5}


def test_rfm_m_counts_all_purchases_not_the_tier_window(tiny):
    """With a 365-day tier window, c07's 5000 of 2025-03-01 no longer counts for its tier
    spend as of 2026-03-01 (purchases after 2025-03-01 do), but it is still c07's spend:
    M ranks all purchases, so c07 is 12th of 13 (M 5), not last with 0 (M 1)."""
    tiers = tiny / "plans/tiers.yaml"
    tiers.write_text("evaluation: {window_days: 365}\n" + tiers.read_text(encoding="utf-8"),
                     encoding="utf-8")
    scores = rfm_scores(tiny)
    assert {c: s[2] for c, s in scores.items() if s[2] is not None} == M_ALL_TIME
    assert build(tiny, dry_run=True).manifest["tiers"]["vip3"] == 0  # the tier does drop


def test_rfm_window_scores_the_buyers_of_the_window(tiny):
    """segments.yaml rfm.window_days: 180 as of 2026-03-01: purchases after 2025-09-02.
    c07 (last bought 2025-03-01) has no scores; 12 buyers are scored. Spend in the window:
    c06 60, c03 80, c13 90, c01 100, c12 120, c15/c16 150, c04 520, c02/c14 550, c05 1500,
    c11 3000 (2000 + 1000; its 2025-05-01 and 08-01 orders are out). F: c02 and c11 have 2
    purchases in the window, ten have 1: ceil(5 * 10/12) = 5 for all. R by last purchase:
    c06 10-12, c05 12-01, c04 01-15, c14 02-01, c11 02-10, c15/c16 02-20, c03 02-22, c02
    02-23, c12 02-24, c13 02-25, c01 03-01."""
    seg = tiny / "plans/segments.yaml"
    seg.write_text("rfm: {window_days: 180}\n" + seg.read_text(encoding="utf-8"),
                   encoding="utf-8")
    scores = rfm_scores(tiny)
    assert scores["c07"] == (None, None, None)
    r = {"c06": 1, "c05": 1, "c04": 2, "c14": 2, "c11": 3, "c15": 3, "c16": 3, "c03": 4,
         "c02": 4, "c12": 5, "c13": 5, "c01": 5}
    m = {"c06": 1, "c03": 1, "c13": 2, "c01": 2, "c12": 3, "c15": 3, "c16": 3, "c04": 4,
         "c02": 5, "c14": 5, "c05": 5, "c11": 5}
    assert {c: s for c, s in scores.items() if s[0] is not None} == {
        c: (r[c], 5, m[c]) for c in r}


def test_same_plan_data_and_date_give_same_bytes(tiny, tmp_path):
    a = build(tiny, out=tmp_path / "a").out_dir
    b = build(tiny, out=tmp_path / "b").out_dir
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for f in files_a:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_earlier_as_of_ignores_later_rows(tiny):
    """As of 2026-02-20, later orders have not happened yet."""
    m = build(tiny, as_of=date(2026, 2, 20), dry_run=True).manifest
    assert m["as_of"] == "2026-02-20"
    # c01 (03-01), c03 (02-22), c12 (02-24), c13 (02-25) had not bought yet; c08-c10 never
    assert m["stages"]["potential"] == 7
    # c02 and c05 last bought 2025-12-01: 81 days, silent; c06 (2025-10-12): 131, sleeping
    assert m["stages"]["silent"] == 2
    assert m["stages"]["sleeping"] == 1
    assert m["customer_types"]["returning"] == 0  # c02's second purchase is 02-23
    # c15/c16 paid on 02-20: day 0 -> after_sale
    assert m["stages"]["after_sale"] == 2
    assert {p["code"] for p in m["data_problems"]} >= {"orders_after_as_of"}


def test_cli_build_prints_summary_and_warning(tiny):
    result = CliRunner().invoke(main, ["build", "--project", str(tiny)])
    assert result.exit_code == 0, result.output
    assert "payment_reminder" in result.stdout
    assert "plans/shop.yaml:6:3: warning[W404]: customers: 1 phone numbers" in result.stderr
    assert "138***0013" in result.stderr and "1380000013" not in result.stderr


def test_cli_strict_turns_data_problems_into_errors(tiny):
    result = CliRunner().invoke(main, ["build", "--strict", "--project", str(tiny)])
    assert result.exit_code == 1
    assert "plans/shop.yaml:6:3: error[E404]: customers: 1 phone numbers" in result.stderr
    assert not (tiny / "out").exists()


def test_dry_run_writes_nothing(tiny):
    r = build(tiny, dry_run=True)
    assert r.out_dir is None and not (tiny / "out").exists()
    assert r.manifest["activities"][0]["sent"] == 1


def test_build_connection_settings(monkeypatch):
    """The build's connection: memory capped (overridable), no automatic checkpoints of
    its temporary tables, no DuckDB progress bar printed into the build's output. Each
    value is compared with DuckDB's reading of the intended setting, not with how a
    DuckDB version prints it."""
    from crmspec.engine.connection import connect

    names = "('memory_limit', 'checkpoint_threshold', 'enable_progress_bar')"

    def settings(con):
        return dict(con.execute(
            f"SELECT name, value FROM duckdb_settings() WHERE name IN {names}").fetchall())

    def duckdb_with(**config):
        return settings(duckdb.connect(config=config))

    monkeypatch.delenv("CRMSPEC_MEMORY_LIMIT", raising=False)
    s = settings(connect())
    assert s["checkpoint_threshold"] == duckdb_with(checkpoint_threshold="1TB")[
        "checkpoint_threshold"] != settings(duckdb.connect())["checkpoint_threshold"]
    plain = duckdb.connect()
    plain.execute("SET enable_progress_bar = false")
    # (DuckDB's default depends on the terminal: false under pytest, so this only
    # pins the value a build runs with, not that connect() sets it)
    assert s["enable_progress_bar"] == settings(plain)["enable_progress_bar"]
    assert s["memory_limit"] == duckdb_with(memory_limit="750MB")["memory_limit"]
    # Uncapped: DuckDB's own default (80% of the machine's memory).
    assert (settings(connect(capped=False))["memory_limit"]
            == settings(duckdb.connect())["memory_limit"])
    monkeypatch.setenv("CRMSPEC_MEMORY_LIMIT", "2GB")
    assert settings(connect())["memory_limit"] == duckdb_with(memory_limit="2GB")[
        "memory_limit"] != s["memory_limit"]
