"""Control-group evaluation (crmspec.evaluate, docs/evaluate.md) and the reactivation /
activation KPIs that read the same ledger: hand-worked answers on a small shop whose
ledger is written directly, the statistics against independent computations (scipy, the
textbook formulas, a coverage simulation), and real builds of the tiny shop through the
CLI.

The hand-made shop (window 7 days, purchases = paid orders):

  run 2026-03-02 of activity `nudge`, send time Mon 03-02 10:00, window [03-02 10:00,
  03-09 10:00). Treatment t1..t6 (cost 0.05 each), control k1..k4:
    t1  paid 03-02 10:00:00, 100   exactly at the send: responds
    t2  paid 03-09 09:59:59, 200   the last second of the window: responds
    t3  paid 03-09 10:00:00, 300   the first second after it: does not
    t4  paid 03-02 09:59:00, 400   a minute before the send: does not
    t5  refunded 03-03, 500        a refund is no purchase: does not
    t6  paid 03-04 50 and 03-05 70 two orders: responds once, revenue 120
    k1  paid 03-05, 80             responds
    k2  nothing; k3 a closed order 03-04; k4 an unpaid order 03-04: do not
  treatment 3/6 = 50%, control 1/4 = 25%, uplift +25 points; revenue per responder
  (100 + 200 + 120) / 3 = 140; incremental orders 6 x 0.25 = 1.5, incremental revenue
  1.5 x 140 = 210; cost 6 x 0.05 = 0.30; ROI 210 / 0.30 = 700.

  run 2026-03-09, send 03-09 10:00, window to 03-16 10:00: treatment t7 (paid 03-10,
  90: responds), control k5 (nothing). With data as of 03-15 the window is still open
  (the data ends 03-15 23:59:59 < 03-16 10:00): pending; as of 03-16 it has closed.

Purchases before the sends (for the KPIs' new/returning): t1, t2, t5 one in January; t4
its 09:59 order (before the send); t3 and t6 two in January; the others none.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from crmspec.analysis.evaluate import evaluate
from crmspec.analysis.evaluate.render import render
from crmspec.analysis.evaluate.stats import compare
from crmspec.analysis.kpi import compute_kpis
from crmspec.cli import main
from crmspec.contact.ledger import SCHEMA
from crmspec.contact.power import achieved_power
from crmspec.core.diagnostics import PlanError

LIFECYCLE = """stages:
  - {id: potential, name: 潜在客户, never_purchased: true}
  - {id: after_sale, name: 售后期, from_days: 0, to_days: 7}
  - {id: active, name: 活跃期, from_days: 7, to_days: 45}
  - {id: silent, name: 沉默期, from_days: 45, to_days: 90}
  - {id: sleeping, name: 睡眠期, from_days: 90, to_days: 140}
  - {id: churning, name: 流失期, from_days: 140, to_days: 365}
  - {id: dead, name: 死亡, from_days: 365, maintenance_required: false}
"""

ORDERS = [
    # (customer, paid_at 'YYYY-MM-DD HH:MM:SS', amount, status)
    ("t1", "2026-01-10 12:00:00", 60, "paid"),
    ("t1", "2026-03-02 10:00:00", 100, "paid"),
    ("t2", "2026-01-10 12:00:00", 60, "paid"),
    ("t2", "2026-03-09 09:59:59", 200, "paid"),
    ("t3", "2026-01-10 12:00:00", 60, "paid"),
    ("t3", "2026-02-01 12:00:00", 60, "paid"),
    ("t3", "2026-03-09 10:00:00", 300, "paid"),
    ("t4", "2026-03-02 09:59:00", 400, "paid"),
    ("t5", "2026-01-10 12:00:00", 60, "paid"),
    ("t5", "2026-03-03 12:00:00", 500, "refunded"),
    ("t6", "2026-01-05 12:00:00", 60, "paid"),
    ("t6", "2026-01-20 12:00:00", 60, "paid"),
    ("t6", "2026-03-04 12:00:00", 50, "paid"),
    ("t6", "2026-03-05 12:00:00", 70, "paid"),
    ("t7", "2026-03-10 12:00:00", 90, "paid"),
    ("k1", "2026-03-05 12:00:00", 80, "paid"),
    ("k3", "2026-03-04 12:00:00", 80, "closed"),
    ("k4", "2026-03-04 12:00:00", 80, "unpaid"),
]
CUSTOMERS = ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "k1", "k2", "k3", "k4", "k5"]
RUN1, RUN2 = date(2026, 3, 2), date(2026, 3, 9)
CONTACTS = (
    [(RUN1, "nudge", c, "treatment", datetime(2026, 3, 2, 10), 0.05)
     for c in ("t1", "t2", "t3", "t4", "t5", "t6")]
    + [(RUN1, "nudge", c, "control", datetime(2026, 3, 2, 10), 0.0)
       for c in ("k1", "k2", "k3", "k4")]
    + [(RUN2, "nudge", "t7", "treatment", datetime(2026, 3, 9, 10), 0.05),
       (RUN2, "nudge", "k5", "control", datetime(2026, 3, 9, 10), 0.0)]
)


def make_shop(root: Path, evaluation: dict | None = None, kpis: list[dict] | None = None
              ) -> Path:
    (root / "plans").mkdir(parents=True)
    (root / "data").mkdir()
    shop = {"name": "评估测试店", "as_of": "2026-03-16", "currency": "CNY",
            "data": {"source": "csv", "path": "data"},
            "evaluation": {"baseline_response": 0.04, "window_days": 7, **(evaluation or {})}}
    files = {
        "shop.yaml": yaml.safe_dump(shop, allow_unicode=True, sort_keys=False),
        "lifecycle.yaml": LIFECYCLE,
        "tiers.yaml": "tiers:\n  - {id: vip1, name: 会员, min_spend: 500}\n",
        "segments.yaml": "segments:\n  - {id: active, name: 活跃, where: {stage: active}}\n",
        "activities.yaml": "activities:\n  - {id: nudge, name: 复购提醒, kind: maintenance, "
                           "stage: active, segment: active, channel: sms, holdout: 0.4}\n"
                           "  - {id: other, name: 其他, kind: maintenance, "
                           "stage: active, segment: active, channel: sms}\n",
    }
    if kpis:
        files["kpis.yaml"] = yaml.safe_dump({"kpis": kpis}, allow_unicode=True,
                                            sort_keys=False)
    for name, text in files.items():
        (root / "plans" / name).write_text(text, encoding="utf-8")
    (root / "data/customers.csv").write_text(
        "customer_id,phone\n" + "".join(f"{c},1380000{i:04d}\n" for i, c in enumerate(CUSTOMERS)),
        encoding="utf-8")
    lines = ["order_id,customer_id,created_at,paid_at,shipped_at,signed_at,amount,status,source"]
    for i, (cust, paid, amount, status) in enumerate(ORDERS):
        paid_at = paid if status in ("paid", "refunded") else ""
        lines.append(f"o{i:03d},{cust},{paid},{paid_at},,,{amount},{status},normal")
    (root / "data/orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "data/events.csv").write_text("customer_id,event_type,event_at,item_id\n",
                                          encoding="utf-8")
    return root


def write_ledger(root: Path, contacts=CONTACTS) -> None:
    """The ledger a build would have written: runs and contacts."""
    path = root / "state/ledger.duckdb"
    path.parent.mkdir(exist_ok=True)
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS ledger")
    for statement in SCHEMA:
        con.execute(statement)
    for run in sorted({c[0] for c in contacts}):
        mine = [c for c in contacts if c[0] == run]
        con.execute("INSERT INTO ledger.runs VALUES (?, 'h', 'f', ?, ?, ?)",
                    [run, sum(c[3] == "treatment" for c in mine),
                     sum(c[3] == "control" for c in mine), sum(c[5] for c in mine)])
    con.executemany("INSERT INTO ledger.contacts VALUES (?, ?, ?, 'sms', ?, false, 'active', "
                    "?, ?)", [list(c) for c in contacts])
    con.close()


@pytest.fixture
def shop(tmp_path) -> Path:
    root = make_shop(tmp_path / "shop")
    write_ledger(root)
    return root


def rows(report) -> dict:
    return {(r.level, r.activity, r.run): r for r in report.rows}


# ---------------------------------------------------------------------------- hand-worked


def test_responders_at_the_window_boundaries_refunds_and_before_the_send(shop):
    report = evaluate(shop, as_of=date(2026, 3, 16))
    r = rows(report)[("run", "nudge", RUN1)]
    assert (r.treatment, r.control) == (6, 4)
    assert (r.treatment_responders, r.control_responders) == (3, 1)  # t1 t2 t6 | k1
    assert (r.treatment_rate, r.control_rate) == (0.5, 0.25)
    assert r.uplift == pytest.approx(0.25)
    assert r.treatment_revenue == 420 and r.revenue_per_responder == 140
    assert r.incremental_orders == pytest.approx(1.5)
    assert r.incremental_revenue == pytest.approx(210)
    assert r.cost == pytest.approx(0.30)
    assert r.roi == pytest.approx(700)
    assert r.relative_uplift == pytest.approx(1.0)  # 0.5 / 0.25 - 1
    # p = 0.43 (below), but no verdict from groups this small: the shop sets no
    # min_effect, so the z-test's own minimum applies: 4 of 10 responded (0.4), the
    # control group of 4 expects 1.6 responders, fewer than 5. Enough would be 5 / 0.4 =
    # 12.5 held out, at this 4-in-10 share 31.25 -> 32 customers: 4 runs of 10
    assert r.p_value == pytest.approx(0.4292, abs=1e-4)
    assert r.status == "underpowered" and r.underpowered and r.power is None
    assert (r.needed_audience, r.runs_needed) == (32, 4)
    assert r.note == ("underpowered: fewer than 5 expected responders or non-responders in "
                      "a group, the z-test's minimum (no min_effect to check power against); "
                      "about 32 customers (treated + held out) are needed at this hold-out "
                      "share: pool about 4 runs like this one")
    assert r.sent_at == datetime(2026, 3, 2, 10)
    assert r.window_closes == datetime(2026, 3, 9, 10)


def test_an_open_window_is_pending_and_left_out_of_the_activity_total(shop):
    # as of 03-15 the second run's window (to 03-16 10:00) is open: sizes and cost only
    early = rows(evaluate(shop, as_of=date(2026, 3, 15)))
    r2 = early[("run", "nudge", RUN2)]
    assert r2.status == "pending"
    assert (r2.treatment, r2.control, r2.cost) == (1, 1, pytest.approx(0.05))
    assert r2.treatment_responders is None and r2.uplift is None and r2.p_value is None
    assert "closes 2026-03-16 10:00" in r2.note
    total = early[("activity", "nudge", None)]
    assert (total.runs, total.treatment, total.control) == (1, 6, 4)  # run 1 only
    assert total.treatment_responders == 3 and "1 run(s) pending" in total.note
    # as of 03-16 it has closed: t7 responded (03-10), k5 did not; pooled 4/7 vs 1/5
    late = rows(evaluate(shop, as_of=date(2026, 3, 16)))
    assert late[("run", "nudge", RUN2)].status == "underpowered"  # 1 treated, 1 held out
    total = late[("activity", "nudge", None)]
    assert (total.runs, total.treatment, total.treatment_responders) == (2, 7, 4)
    assert (total.control, total.control_responders) == (5, 1)
    assert total.uplift == pytest.approx(4 / 7 - 1 / 5)
    assert total.revenue_per_responder == pytest.approx((420 + 90) / 4)
    assert total.cost == pytest.approx(0.35)
    # as of 03-08 even the first run is open (it closes 03-09 10:00)
    first = rows(evaluate(shop, as_of=date(2026, 3, 8)))
    assert first[("run", "nudge", RUN1)].status == "pending"
    assert first[("activity", "nudge", None)].status == "pending"


def test_the_window_option_shortens_the_response_window(shop):
    # one day: [03-02 10:00, 03-03 10:00) holds only t1's purchase
    r = rows(evaluate(shop, window_days=1, as_of=date(2026, 3, 16)))[("run", "nudge", RUN1)]
    assert (r.window_days, r.treatment_responders, r.control_responders) == (1, 1, 0)
    assert r.relative_uplift is None  # no control responder: no ratio


def test_without_a_send_time_the_window_starts_at_the_run_date(tmp_path):
    root = make_shop(tmp_path / "s")
    # no scheduled_at: from 03-02 00:00, so t4's purchase at 09:59 now counts
    write_ledger(root, [(RUN1, "nudge", c, g, None, 0.0)
                        for c, g in (("t4", "treatment"), ("k2", "control"))])
    r = rows(evaluate(root, as_of=date(2026, 3, 16)))[("run", "nudge", RUN1)]
    assert r.sent_at == datetime(2026, 3, 2) and r.treatment_responders == 1


def test_no_control_group_and_no_contacts(tmp_path):
    root = make_shop(tmp_path / "s")
    write_ledger(root, [(RUN1, "other", "t1", "treatment", datetime(2026, 3, 2, 10), 0.05)])
    report = evaluate(root, as_of=date(2026, 3, 16))
    r = rows(report)[("activity", "other", None)]
    assert r.status == "no_control" and r.uplift is None and r.treatment_rate == 1.0
    total = rows(report)[("total", "(all activities)", None)]
    assert total.status == "nothing_measured"
    # an activity of the plan the ledger never recorded
    one = evaluate(root, "nudge", as_of=date(2026, 3, 16))
    assert [(r.level, r.status) for r in one.rows] == [("activity", "no_contacts")]


def test_underpowered_results_are_flagged_with_the_plans_settings(tmp_path):
    root = make_shop(tmp_path / "s", evaluation={"min_effect": 0.05, "power": 0.8})
    write_ledger(root)
    r = rows(evaluate(root, as_of=date(2026, 3, 16)))[("activity", "nudge", None)]
    # 7 treated, 5 held out cannot show 0.04 -> 0.09: power from statsmodels, checked
    # against Cohen's h by hand: lambda = |h| sqrt(n1 n2 / (n1 + n2)) = 0.20666 x 1.70783
    # = 0.35294; power = Phi(lambda - 1.95996) + Phi(-lambda - 1.95996) = 0.05403 + 0.01036
    h = 2 * math.asin(math.sqrt(0.09)) - 2 * math.asin(math.sqrt(0.04))
    lam, z = abs(h) * math.sqrt(7 * 5 / 12), stats.norm.ppf(0.975)
    by_hand = stats.norm.cdf(lam - z) + stats.norm.cdf(-lam - z)
    assert r.power == pytest.approx(by_hand, rel=1e-9)
    assert r.power == pytest.approx(0.0644, abs=1e-4)
    assert r.underpowered is True and r.needed_audience > 500
    # no verdict whatever the p-value; every figure is still there
    assert r.status == "underpowered" and r.uplift is not None and r.p_value is not None
    assert r.runs_needed == math.ceil(r.needed_audience / 6)  # 12 contacts in 2 runs
    assert r.note.startswith("underpowered: 6% power to show the plan's minimum effect (+5 "
                             f"pp); about {r.needed_audience:,} customers")
    assert r.note.endswith(f"pool about {r.runs_needed:,} runs like these (2 so far)")


def test_results_are_stored_per_activity_and_run_and_replaced(shop):
    evaluate(shop, as_of=date(2026, 3, 16))
    con = duckdb.connect(str(shop / "state/ledger.duckdb"), read_only=True)
    got = con.execute("SELECT level, activity, run, treatment, control, uplift, status "
                      "FROM evaluations ORDER BY level, run").fetchall()
    con.close()
    assert [g[:5] for g in got] == [
        ("activity", "nudge", None, 7, 5),
        ("run", "nudge", RUN1, 6, 4), ("run", "nudge", RUN2, 1, 1),
        ("total", "(all activities)", None, 7, 5)]
    # evaluating again (with another window) replaces, never duplicates
    evaluate(shop, window_days=1, as_of=date(2026, 3, 16))
    evaluate(shop, "nudge", window_days=1, as_of=date(2026, 3, 16))
    con = duckdb.connect(str(shop / "state/ledger.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), min(window_days), max(window_days) FROM evaluations"
                       ).fetchone() == (4, 1, 1)
    con.close()


def test_unknown_activity_and_empty_ledger_are_located_errors(tmp_path):
    root = make_shop(tmp_path / "s")
    with pytest.raises(PlanError) as err:
        evaluate(root)
    d = err.value.diagnostics[0]
    assert (d.code, d.path) == ("E603", "plans/shop.yaml") and "no runs" in d.message
    write_ledger(root)
    with pytest.raises(PlanError) as err:
        evaluate(root, "nudg")
    d = err.value.diagnostics[0]
    assert (d.code, d.path, d.line) == ("E301", "plans/activities.yaml", 2)
    assert d.hint == "did you mean 'nudge'?"


# ---------------------------------------------------------------------------- statistics


def newcombe_by_hand(r1, n1, r2, n2):
    """Newcombe (1998) method 10 from two Wilson score intervals."""
    z = stats.norm.ppf(0.975)

    def wilson(r, n):
        p = r / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return centre - half, centre + half

    p1, p2 = r1 / n1, r2 / n2
    l1, u1 = wilson(r1, n1)
    l2, u2 = wilson(r2, n2)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


@pytest.mark.parametrize("r1,n1,r2,n2", [(3, 6, 1, 4), (141, 1396, 67, 1441), (0, 50, 3, 40),
                                         (12, 300, 0, 35), (500, 10000, 410, 9000)])
def test_statistics_agree_with_independent_computations(r1, n1, r2, n2):
    s = compare(r1, n1, r2, n2)
    # p: scipy's Pearson chi-square without continuity correction (= the pooled z-test)
    table = [[r1, n1 - r1], [r2, n2 - r2]]
    if r1 + r2 > 0:
        assert s.p_value == pytest.approx(
            stats.chi2_contingency(table, correction=False)[1], rel=1e-9)
    # the uplift's interval: Newcombe by hand
    low, high = newcombe_by_hand(r1, n1, r2, n2)
    assert (s.uplift_low, s.uplift_high) == (pytest.approx(low), pytest.approx(high))
    # the ratio's interval: log scale, 0.5 added to counts and sizes (Pettigrew et al.)
    if r2 > 0:
        a, b, c, d = r1 + 0.5, n1 + 0.5, r2 + 0.5, n2 + 0.5
        se = math.sqrt(1 / a - 1 / b + 1 / c - 1 / d)
        centre = math.log((a / b) / (c / d))
        z = stats.norm.ppf(0.975)
        assert s.relative_low == pytest.approx(math.exp(centre - z * se) - 1)
        assert s.relative_high == pytest.approx(math.exp(centre + z * se) - 1)
        assert s.relative_uplift == pytest.approx((r1 / n1) / (r2 / n2) - 1)


def test_the_hand_worked_run_by_hand():
    # pooled p = 4/10; se = sqrt(0.4 * 0.6 * (1/6 + 1/4)) = sqrt(0.1); z = 0.25 / 0.31623
    # = 0.79057; p = 2 (1 - Phi(0.79057)) = 0.42919
    s = compare(3, 6, 1, 4)
    assert s.p_value == pytest.approx(0.42919, abs=1e-5)
    assert s.uplift_low < 0 < s.uplift_high


def test_nobody_or_everybody_responding_is_no_difference():
    assert compare(0, 100, 0, 20).p_value == 1.0
    assert compare(100, 100, 20, 20).p_value == 1.0
    assert compare(0, 100, 0, 20).uplift_low < 0 < compare(0, 100, 0, 20).uplift_high


def test_the_interval_covers_the_truth_about_95_percent_of_the_time():
    """2,000 simulated campaigns (numpy, fixed seed): 400 treated at 8%, 400 held out at
    5%; the 95% interval must hold the true +3 points in 93-97% of them."""
    rng = np.random.default_rng(20260701)
    t = rng.binomial(400, 0.08, 2000)
    c = rng.binomial(400, 0.05, 2000)
    covered = sum(s.uplift_low <= 0.03 <= s.uplift_high
                  for s in (compare(a, 400, b, 400) for a, b in zip(t, c)))
    assert 0.93 <= covered / 2000 <= 0.97


def test_achieved_power_matches_the_required_audience():
    from crmspec.contact.power import required_audience

    n = required_audience(0.5, 0.05, 0.01)
    assert achieved_power(n // 2, n // 2, 0.05, 0.01) == pytest.approx(0.8, abs=0.001)
    assert achieved_power(0, 10, 0.05, 0.01) is None


# ---------------------------------------------------------------------------- output


def test_formats(shop):
    report = evaluate(shop, as_of=date(2026, 3, 16))
    out = json.loads(render(report, "json"))
    assert (out["as_of"], out["window_days"], out["currency"]) == ("2026-03-16", 7, "CNY")
    run1 = out["evaluations"][0]
    assert (run1["level"], run1["run"], run1["uplift"], run1["roi"]) == (
        "run", "2026-03-02", 0.25, 700.0)
    assert run1["p_value"] == pytest.approx(0.42919, abs=1e-5)
    csv_text = render(report, "csv")
    assert csv_text.splitlines()[0].startswith("level,activity,run,runs,window_days")
    assert len(csv_text.splitlines()) == 5  # header, 2 runs, the activity, the total
    table = render(report, "table")
    assert "+25.00" in table and "all (2)" in table and "700.00" in table
    md = render(report, "markdown")
    assert md.splitlines()[2].startswith("| activity | run | status |")


# ---------------------------------------------------------------------------- KPIs


REACT = [{"id": "react", "name": "唤醒率", "metric": "reactivation_rate", "activity": "nudge"},
         {"id": "react_new", "name": "新客唤醒率", "metric": "reactivation_rate",
          "activity": "nudge", "customers": "new"},
         {"id": "act_ret", "name": "老客激活率", "metric": "activation_rate",
          "activity": "nudge", "customers": "returning"}]


def test_reactivation_and_activation_rates_from_the_ledger(tmp_path):
    """W10 (Mar 2-8) holds run 03-02: treatment t1..t6 (control k1..k4 not counted), 3
    bought in the window -> 3/6. new (1 purchase before the send): t1 t2 t4 t5, of whom
    t1 t2 bought -> 2/4. returning (2+): t3 t6, t6 bought -> 1/2. W11 holds run 03-09
    (t7), whose window closes 03-16 10:00: pending as of 03-15, 1/1 as of 03-16."""
    root = make_shop(tmp_path / "s", kpis=REACT)
    write_ledger(root)
    early = compute_kpis(root, "week", date(2026, 3, 2), date(2026, 3, 15))
    got = {(r.kpi, r.period): (r.value, r.numerator, r.denominator, r.status)
           for r in early.rows}
    assert got[("react", "2026-W10")] == (0.5, 3, 6, None)
    assert got[("react_new", "2026-W10")] == (0.5, 2, 4, None)
    assert got[("act_ret", "2026-W10")] == (0.5, 1, 2, None)
    assert got[("react", "2026-W11")] == (None, None, 1, "pending")
    note = next(r.note for r in early.rows if r.kpi == "react" and r.period == "2026-W11")
    assert "2026-03-16 10:00" in note
    # as of Sunday 03-22 (W12 complete): W11 closed, W12 has no contacts
    late = compute_kpis(root, "week", date(2026, 3, 2), date(2026, 3, 22))
    got = {(r.kpi, r.period): (r.value, r.numerator, r.denominator, r.status)
           for r in late.rows}
    assert got[("react", "2026-W11")] == (1.0, 1, 1, None)
    assert got[("react", "2026-W12")] == (None, 0, 0, "no_data")


def test_without_a_ledger_run_the_kpis_say_so(tmp_path):
    root = make_shop(tmp_path / "s", kpis=REACT[:1])
    report = compute_kpis(root, "week", date(2026, 3, 2), date(2026, 3, 15))
    assert {(r.value, r.status) for r in report.rows} == {(None, "needs_ledger")}
    assert "ledger" in report.rows[0].note


# ---------------------------------------------------------------------------- real builds


def test_build_then_evaluate_the_tiny_shop_through_the_cli(tiny):
    """winback under salt s2 with a 50% hold-out: c04, c05 treated, c06 held out (see
    test_contact_plan). As of 03-01 (Sunday) the SMS goes Monday 03-02 10:00. c05 buys on
    03-04: as of 03-10 treatment 1/2, control 0/1."""
    with open(tiny / "plans/shop.yaml", "a", encoding="utf-8") as f:
        f.write("contact:\n  salt: s2\n")
    acts = tiny / "plans/activities.yaml"
    acts.write_text(acts.read_text(encoding="utf-8").replace(
        "    segment: lapsed\n", "    segment: lapsed\n    holdout: 0.5\n"), encoding="utf-8")
    (tiny / "plans/kpis.yaml").write_text(
        "kpis:\n  - {id: react, name: 唤醒率, metric: reactivation_rate, activity: winback}\n",
        encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["build", "--project", str(tiny), "--as-of", "2026-03-01"]
                         ).exit_code == 0
    with open(tiny / "data/orders.csv", "a", encoding="utf-8") as f:
        f.write("o99,c05,2026-03-04 20:00:00,2026-03-04 20:01:00,,,88.00,paid,normal\n")
    result = runner.invoke(main, ["evaluate", "winback", "--project", str(tiny), "--as-of",
                                  "2026-03-10", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)["evaluations"]
    run = out[0]
    assert (run["run"], run["sent_at"], run["status"]) == (
        "2026-03-01", "2026-03-02 10:00:00", "underpowered")  # 2 treated, 1 held out
    assert (run["treatment"], run["treatment_responders"], run["control"],
            run["control_responders"]) == (2, 1, 1, 0)
    assert (run["uplift"], run["revenue_per_responder"], run["incremental_orders"]) == (
        0.5, 88.0, 1.0)
    assert (run["cost"], run["roi"]) == (0.1, 880.0)
    as_csv = runner.invoke(main, ["evaluate", "winback", "--project", str(tiny), "--as-of",
                                  "2026-03-10", "--format", "csv"])
    assert as_csv.stdout_bytes.startswith(b"\xef\xbb\xbflevel,activity,run,")  # for Excel
    assert runner.invoke(main, ["evaluate", "winback", "--project", str(tiny), "--as-of",
                                "2026-03-10", "--format", "csv", "--no-bom"]
                         ).stdout_bytes == as_csv.stdout_bytes[3:]
    kpi = runner.invoke(main, ["kpi", "--project", str(tiny), "--to", "2026-03-10",
                               "--from", "2026-02-23", "--format", "csv"])
    assert kpi.exit_code == 0, kpi.output
    # W09 (Feb 23 - Mar 1) holds the 03-01 run: 1 of the 2 treated bought
    assert "2026-W09,2026-02-23,2026-03-01,react,唤醒率,reactivation_rate,,rate,0.5," in kpi.stdout
    bad = runner.invoke(main, ["evaluate", "--project", str(tiny), "--window", "0"])
    assert bad.exit_code == 2 and "--window" in bad.output
