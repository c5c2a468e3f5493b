"""A demo that knows the truth (crmspec.simulate): simulated responses with a known uplift,
recovered by `crmspec evaluate`.

End to end: a 4,000-customer demo shop with two activities and 50% hold-outs is built
weekly after the demo's last order (so every purchase after a send is a simulated one),
simulated after each build, then evaluated; the true uplift must lie in the confidence
interval and the estimate must be close. Then the example plan on the demo shop: builds on
several as-of dates, simulations, `crmspec kpi` and `crmspec evaluate` through the CLI.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from click.testing import CliRunner

from crmspec.analysis.evaluate import evaluate
from crmspec.analysis.simulate import expected_sql, simulate
from crmspec.cli import main
from crmspec.contact.holdout import bucket
from crmspec.core.diagnostics import PlanError

ROOT = Path(__file__).resolve().parent.parent

SHOP = """name: 模拟店
timezone: Asia/Shanghai
currency: CNY
data:
  source: demo
  path: data/demo
  demo: {customers: 4000, seed: 3, end_date: "2026-05-31"}
contact:
  salt: sim-test
evaluation:
  baseline_response: 0.04
  min_effect: 0.05
  window_days: 7
"""
LIFECYCLE = """stages:
  - {id: potential, name: 潜在客户, never_purchased: true, maintenance_required: false}
  - {id: after_sale, name: 售后期, from_days: 0, to_days: 7, maintenance_required: false}
  - {id: active, name: 活跃期, from_days: 7, to_days: 45}
  - {id: silent, name: 沉默期, from_days: 45, to_days: 90, maintenance_required: false}
  - {id: sleeping, name: 睡眠期, from_days: 90, to_days: 140, maintenance_required: false}
  - {id: churning, name: 流失期, from_days: 140, to_days: 365, maintenance_required: false}
  - {id: dead, name: 死亡, from_days: 365, maintenance_required: false}
"""
SEGMENTS = """segments:
  - {id: lapsed, name: 沉默以上, where: {stage: [silent, sleeping, churning, dead]}}
  - {id: active, name: 活跃, where: {stage: active}}
"""
# Each customer is contacted once in 60 days: no contact's window overlaps another's.
ACTIVITIES = """activities:
  - {id: winback, name: 召回, kind: marketing, stage: [silent, sleeping, churning, dead],
     segment: lapsed, channel: sms, template: winback, holdout: 0.5,
     trigger: {type: state, cooldown_days: 60}}
  - {id: care, name: 关怀, kind: maintenance, stage: active, segment: active, channel: sms,
     template: care, holdout: 0.5, trigger: {type: state, cooldown_days: 60}}
"""
TRUTH = """# what the simulation puts in
seed: 5
baseline: 0.04
activities:
  winback: {uplift: 0.06}
  care: {uplift: 0.0}
"""
WEEKS = ["2026-06-01", "2026-06-08", "2026-06-15", "2026-06-22"]


def make_project(root: Path) -> Path:
    (root / "plans/templates").mkdir(parents=True)
    for name, text in (("shop", SHOP), ("lifecycle", LIFECYCLE), ("segments", SEGMENTS),
                       ("activities", ACTIVITIES),
                       ("tiers", "tiers:\n  - {id: vip1, name: 会员, min_spend: 500}\n")):
        (root / f"plans/{name}.yaml").write_text(text, encoding="utf-8")
    (root / "plans/templates/winback.sms.j2").write_text(
        "{{ customer.name or '亲' }}，好久不见！送您10元回归券 回T退订\n", encoding="utf-8")
    (root / "plans/templates/care.sms.j2").write_text(
        "{{ customer.name or '亲' }}，最近用得还好吗？\n", encoding="utf-8")
    (root / "truth.yaml").write_text(TRUTH, encoding="utf-8")
    return root


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("sim") / "shop")
    for day in WEEKS:
        cli("build", "--project", str(root), "--as-of", day)
        cli("simulate", "--project", str(root), "--truth", str(root / "truth.yaml"))
    return root


@pytest.fixture(scope="module")
def evaluation(simulated):
    # the last window (run 06-22, sent 06-22 10:00) closes 06-29 10:00
    return evaluate(simulated, as_of=date(2026, 7, 5))


def by_key(report) -> dict:
    return {(r.level, r.activity, r.run): r for r in report.rows}


def test_evaluate_recovers_the_true_uplift(evaluation):
    rows = by_key(evaluation)
    win, care = rows[("activity", "winback", None)], rows[("activity", "care", None)]
    # about 1,500 per group over the four runs: the estimate within 2 points of +6
    assert win.treatment > 1400 and win.control > 1400
    assert win.true_uplift == 0.06
    assert win.uplift_low <= 0.06 <= win.uplift_high
    assert abs(win.uplift - 0.06) < 0.02
    assert win.status == "significant" and not win.underpowered
    # the control group responds at the baseline only: 4% (within 3 standard errors)
    assert abs(win.control_rate - 0.04) < 3 * (0.04 * 0.96 / win.control) ** 0.5
    # care has no effect: its interval holds 0
    assert care.true_uplift == 0.0 and care.uplift_low <= 0 <= care.uplift_high
    assert abs(care.uplift) < 0.04
    # no contact overlaps another and nobody buys without the simulation: a perfect
    # evaluation expects exactly the configured uplift
    assert win.expected_uplift == pytest.approx(0.06, abs=1e-3)
    assert care.expected_uplift == pytest.approx(0.0, abs=1e-3)
    # every run of the big first week holds the truth too
    first = rows[("run", "winback", date(2026, 6, 1))]
    assert first.treatment > 1300 and first.uplift_low <= 0.06 <= first.uplift_high
    # incremental orders = treated x uplift; revenue per responder near the mean order
    # value (150, log-normal)
    assert win.incremental_orders == pytest.approx(win.treatment * win.uplift)
    assert 120 < win.revenue_per_responder < 180


def test_simulated_orders_fall_in_the_window_and_follow_the_draws(simulated):
    orders = simulated / "data/demo/orders.parquet"
    con = duckdb.connect()
    con.execute(f"ATTACH '{simulated / 'state/ledger.duckdb'}' AS ledger (READ_ONLY)")
    sim = con.execute(f"""
        SELECT o.order_id, o.customer_id, o.paid_at, o.status, l.scheduled_at, l.grp,
               l.as_of, l.activity_id
        FROM read_parquet('{orders}') o JOIN ledger.contacts l
          ON o.order_id = 'SIM-' || strftime(l.as_of, '%Y%m%d') || '-' || l.activity_id
                          || '-' || l.customer_id
        WHERE o.source = 'simulated'""").fetchall()
    total = con.execute(f"SELECT count(*) FROM read_parquet('{orders}') "
                        "WHERE source = 'simulated'").fetchone()[0]
    contacts = con.execute("SELECT as_of, activity_id, customer_id, grp FROM ledger.contacts"
                           ).fetchall()
    con.close()
    assert len(sim) == total > 200  # every simulated order belongs to a contact
    for _, _, paid, status, sent, _, _, _ in sim:
        assert status == "paid" and sent <= paid < sent + timedelta(days=7)
    # the draw is md5 of the seed, run, activity and customer (crmspec.contacts.bucket):
    # a contact responds exactly when its draw is below its probability
    p = {("winback", "treatment"): 0.10, ("winback", "control"): 0.04,
         ("care", "treatment"): 0.04, ("care", "control"): 0.04}
    expected = {f"SIM-{d:%Y%m%d}-{a}-{c}" for d, a, c, g in contacts
                if bucket("simulate:5:respond", f"{d:%Y-%m-%d}:{a}:{c}") < p[(a, g)]}
    assert {s[0] for s in sim} == expected


def test_same_seed_same_orders_and_a_rerun_replaces(simulated, tmp_path):
    orders = simulated / "data/demo/orders.parquet"
    before = hashlib.sha256(orders.read_bytes()).hexdigest()
    copy = tmp_path / "before.parquet"
    shutil.copy(orders, copy)
    cli("simulate", "--project", str(simulated), "--truth", str(simulated / "truth.yaml"))
    assert hashlib.sha256(orders.read_bytes()).hexdigest() == before
    try:
        out = cli("simulate", "--project", str(simulated), "--truth",
                  str(simulated / "truth.yaml"), "--seed", "6")
        assert "seed 6" in out
        assert hashlib.sha256(orders.read_bytes()).hexdigest() != before
        con = duckdb.connect()
        n_real = con.execute(f"SELECT count(*) FROM read_parquet('{orders}') "
                             "WHERE source <> 'simulated'").fetchone()[0]
        n_before = con.execute(f"SELECT count(*) FROM read_parquet('{copy}') "
                               "WHERE source <> 'simulated'").fetchone()[0]
        assert n_real == n_before  # the demo's own orders are kept, once
        con.close()
    finally:
        cli("simulate", "--project", str(simulated), "--truth", str(simulated / "truth.yaml"))
        assert hashlib.sha256(orders.read_bytes()).hexdigest() == before


def test_over_ten_seeds_the_interval_holds_the_truth_and_the_estimate_is_unbiased(
        simulated):
    """The same contacts, ten simulations: a 95% interval should miss about one time in
    twenty, and the errors should average out near zero (standard error ~0.01 here)."""
    errors, covered = [], 0
    try:
        for seed in range(11, 21):
            cli("simulate", "--project", str(simulated), "--truth",
                str(simulated / "truth.yaml"), "--seed", str(seed))
            r = by_key(evaluate(simulated, as_of=date(2026, 7, 5), save=False))[
                ("activity", "winback", None)]
            covered += r.uplift_low <= 0.06 <= r.uplift_high
            errors.append(r.uplift - 0.06)
    finally:
        cli("simulate", "--project", str(simulated), "--truth", str(simulated / "truth.yaml"))
    assert covered >= 9
    assert abs(sum(errors) / len(errors)) < 0.006


def test_the_evaluate_table_shows_the_truth(simulated):
    out = cli("evaluate", "winback", "--project", str(simulated), "--as-of", "2026-07-05")
    assert "true pp" in out and "expected pp" in out and "+6.00" in out


# ---------------------------------------------------------------------------- checks


def test_truth_file_problems_are_located(tmp_path):
    root = make_project(tmp_path / "s")
    truth = root / "truth.yaml"
    truth.write_text("seed: 5\nbaseline: 0.04\nuplfit: 0.1\nactivities:\n"
                     "  winbak: {uplift: 0.05}\n  care: {baseline: 0.5, uplift: 0.6}\n",
                     encoding="utf-8")
    with pytest.raises(PlanError) as err:
        simulate(root, truth)
    got = [(d.path, d.line, d.col, d.code) for d in err.value.diagnostics]
    assert got == [("truth.yaml", 3, 1, "E202")]  # the schema first: 'uplfit'
    assert err.value.diagnostics[0].hint == "did you mean 'uplift'?"
    truth.write_text("seed: 5\nbaseline: 1.5\n", encoding="utf-8")
    with pytest.raises(PlanError) as err:
        simulate(root, truth)
    assert [(d.line, d.code) for d in err.value.diagnostics] == [(2, "E201")]
    truth.write_text("activities:\n  winbak: {uplift: 0.05}\n"
                     "  care: {baseline: 0.5, uplift: 0.6}\n", encoding="utf-8")
    with pytest.raises(PlanError) as err:
        simulate(root, truth)
    got = [(d.line, d.col, d.code, d.message) for d in err.value.diagnostics]
    assert got == [
        (2, 3, "E301", "unknown activity 'winbak'"),
        (3, 33, "E201", "activity 'care': baseline + uplift = 1.1 is not a probability")]


def test_bad_options_no_ledger_and_real_data_are_refused(tmp_path, tiny):
    root = make_project(tmp_path / "s")
    # options: a usage error (exit 2), before anything is read
    bad = CliRunner().invoke(main, ["simulate", "--project", str(root), "--baseline", "0.9",
                                    "--uplift", "0.2"])
    assert bad.exit_code == 2 and "not a probability" in bad.output
    # no build yet: E603, and no demo generated for nothing
    with pytest.raises(PlanError) as err:
        simulate(root, uplift=0.05)
    assert err.value.diagnostics[0].code == "E603"
    assert not (root / "data").exists()
    # a real shop's orders are never written to
    with pytest.raises(PlanError) as err:
        simulate(tiny, uplift=0.05)
    d = err.value.diagnostics[0]
    assert (d.code, d.path, d.line) == ("E604", "plans/shop.yaml", 6)


def test_expected_uplift_counts_overlapping_contacts_by_hand():
    """A: baseline 0.1, uplift 0.2; B: baseline 0.1, no uplift; both 7-day windows.
    x: A treatment sent day 0, B treatment sent day 3.5 -> B's order lands in A's window
       with probability 0.1 x 3.5/7 = 0.05: P = 1 - (1 - 0.3)(1 - 0.05) = 0.335;
       and in B's window A's lands with 0.3 x 0.5 = 0.15: P = 1 - 0.9 x 0.85 = 0.235.
    y: A control, alone: 0.1.  z: A control with a real purchase in the window: 1.
    w: A treatment in a run after the last simulation: nothing simulated, 0."""
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS ledger")
    con.execute("CREATE TABLE ledger.contacts (as_of DATE, activity_id VARCHAR, customer_id "
                "VARCHAR, channel VARCHAR, grp VARCHAR, service BOOLEAN, stage VARCHAR, "
                "scheduled_at TIMESTAMP, cost DECIMAL(12, 4))")
    t0 = datetime(2026, 6, 1)
    con.executemany("INSERT INTO ledger.contacts VALUES (?, ?, ?, 'sms', ?, false, NULL, ?, 0)", [
        (date(2026, 6, 1), "A", "x", "treatment", t0),
        (date(2026, 6, 1), "B", "x", "treatment", t0 + timedelta(days=3.5)),
        (date(2026, 6, 1), "A", "y", "control", t0),
        (date(2026, 6, 1), "A", "z", "control", t0),
        (date(2026, 6, 20), "A", "w", "treatment", datetime(2026, 6, 20))])
    con.execute("CREATE TABLE ledger.simulation AS SELECT * FROM (VALUES "
                "('A', 0.1, 0.2, 1, 7, 150.0, DATE '2026-06-10'), "
                "('B', 0.1, 0.0, 1, 7, 150.0, DATE '2026-06-10')) t(activity_id, baseline, "
                "uplift, seed, window_days, order_value, simulated_through)")
    con.execute("CREATE TABLE orders AS SELECT 'o1' AS order_id, 'z' AS customer_id, "
                "TIMESTAMP '2026-06-03 12:00' AS paid_at, 'paid' AS status, "
                "'normal' AS source")
    plan = SimpleNamespace(shop=SimpleNamespace(purchase_statuses=("paid",)))
    got = {(a, r, g): (n, round(v, 9)) for a, r, g, n, v in con.execute(
        expected_sql(plan, date(2026, 7, 1), 7, None)).fetchall()}
    assert got == {("A", date(2026, 6, 1), "treatment"): (1, 0.335),
                   ("B", date(2026, 6, 1), "treatment"): (1, 0.235),
                   ("A", date(2026, 6, 1), "control"): (2, 1.1),
                   ("A", date(2026, 6, 20), "treatment"): (1, 0.0)}


# ---------------------------------------------------------------------------- example plan


@pytest.fixture(scope="module")
def example_shop(tmp_path_factory) -> Path:
    """The example plan on a 2,500-customer demo whose last order is on 2026-05-31, built
    on 06-01, 06-02 and 06-08 with a simulation (+5 points everywhere) after each."""
    root = tmp_path_factory.mktemp("example") / "shop"
    shutil.copytree(ROOT / "plans", root / "plans")
    shop = root / "plans/shop.yaml"
    text = shop.read_text(encoding="utf-8")
    for old, new in (("customers: 20000", "customers: 2500"),
                     ('end_date: "2026-06-30"', 'end_date: "2026-05-31"')):
        assert old in text
        text = text.replace(old, new)
    shop.write_text(text, encoding="utf-8")
    for day in ("2026-06-01", "2026-06-02", "2026-06-08"):
        cli("build", "--project", str(root), "--as-of", day)
        cli("simulate", "--project", str(root), "--uplift", "0.05")
    return root


def test_kpi_and_evaluate_on_the_example_plan_after_several_builds(example_shop):
    out = json.loads(cli("evaluate", "--project", str(example_shop), "--as-of", "2026-06-20",
                         "--format", "json"))
    rows = out["evaluations"]
    runs = {r["run"] for r in rows if r["level"] == "run"}
    assert runs == {"2026-06-01", "2026-06-02", "2026-06-08"}
    measured = [r for r in rows if r["level"] == "activity" and r["uplift"] is not None]
    assert len(measured) >= 5  # the activities with hold-outs
    for r in measured:
        assert r["true_uplift"] == 0.05 and r["expected_uplift"] is not None
        assert r["uplift_low"] <= r["uplift"] <= r["uplift_high"]
    # a 95% interval misses now and then; on these small control groups it holds what a
    # perfect evaluation expects for (nearly) all of them
    covered = sum(r["uplift_low"] <= r["expected_uplift"] <= r["uplift_high"]
                  for r in measured)
    assert covered >= 0.8 * len(measured)
    total = rows[-1]
    assert total["level"] == "total" and total["cost"] > 0
    # as of 06-10 the 06-08 run's windows are open: pending
    early = json.loads(cli("evaluate", "--project", str(example_shop), "--as-of",
                           "2026-06-10", "--format", "json"))["evaluations"]
    assert {r["status"] for r in early if r["run"] == "2026-06-08"} == {"pending"}
    # the KPIs, reactivation and activation from the ledger among them
    kpis = json.loads(cli("kpi", "--project", str(example_shop), "--to", "2026-06-21",
                          "--from", "2026-06-01", "--format", "json"))["kpis"]
    ledger_kpis = [k for k in kpis if k["metric"] in ("reactivation_rate", "activation_rate")]
    assert ledger_kpis and all(k["status"] != "needs_ledger" for k in ledger_kpis)
    # W23 (Jun 1-7) holds the 06-01 and 06-02 runs
    w23 = [k for k in ledger_kpis if k["period"] == "2026-W23"]
    assert w23 and all(k["denominator"] is not None for k in w23)
