"""Many activities judged at once, on a simulated demo that knows the truth.

24 activities split the demo's buyers by the last two digits of their id (so no customer
gets two of them) and go to every buyer once a week, four weeks after the demo's last
order (so every purchase after a send is a simulated one, and no window overlaps the
next send: a perfect evaluation expects exactly the configured uplift):

- 20 with a half hold-out and known uplifts 0, +3, +6, +9 and +12 points over a 4%
  baseline: pooled over the four runs, the 95% intervals must hold the truth for about
  95% of them (and of their runs);
- 4 with a 5% hold-out (a handful held out per run) and a huge true uplift (+40 points):
  raw p-values mostly below 0.05, but groups below the power check's minimum, so never
  called significant, before or after the false-discovery-rate adjustment.

The Benjamini-Hochberg q-values are checked against the procedure worked by hand.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmspec.analysis.evaluate import evaluate
from crmspec.cli import main

MAIN, TINY = 20, 4
UPLIFTS = (0.0, 0.03, 0.06, 0.09, 0.12)
WEEKS = ["2026-06-01", "2026-06-08", "2026-06-15", "2026-06-22"]


def _slices() -> list[list[str]]:
    """The 100 two-digit endings dealt out to MAIN + TINY activities."""
    endings = [f"{i:02d}" for i in range(100)]
    n = MAIN + TINY
    return [endings[i::n] for i in range(n)]


def make_project(root: Path) -> Path:
    (root / "plans/templates").mkdir(parents=True)
    shop = """name: 多活动模拟店
data:
  source: demo
  path: data/demo
  demo: {customers: 4000, seed: 3, end_date: "2026-05-31"}
contact:
  salt: many-activities
evaluation:
  baseline_response: 0.04
  min_effect: 0.08
  window_days: 7
"""
    lifecycle = "stages:\n" + "".join(
        f"  - {{id: {sid}, name: {sid}, {band}, maintenance_required: false}}\n"
        for sid, band in (("potential", "never_purchased: true"),
                          ("recent", "from_days: 0, to_days: 45"),
                          ("lapsed", "from_days: 45")))
    segments, activities, truth = ["segments:\n"], ["activities:\n"], [
        "seed: 8\nbaseline: 0.04\nactivities:\n"]
    for i, endings in enumerate(_slices()):
        tiny = i >= MAIN
        aid = f"{'tiny' if tiny else 'act'}_{i:02d}"
        listed = ", ".join(f"'{e}'" for e in endings)
        segments.append(f"  - {{id: s_{i:02d}, name: 切片{i}, where: {{purchases: {{min: 1}}, "
                        f"sql: \"right(customer_id, 2) IN ({listed})\"}}}}\n")
        activities.append(
            f"  - {{id: {aid}, name: 活动{i}, kind: marketing, stage: [recent, lapsed], "
            f"segment: s_{i:02d}, channel: sms, template: nudge, "
            f"holdout: {0.05 if tiny else 0.5}, trigger: {{type: state, cooldown_days: 6}}}}\n")
        truth.append(f"  {aid}: {{uplift: {0.4 if tiny else UPLIFTS[i % len(UPLIFTS)]}}}\n")
    files = {"shop": shop, "lifecycle": lifecycle, "segments": "".join(segments),
             "activities": "".join(activities),
             "tiers": "tiers:\n  - {id: vip1, name: 会员, min_spend: 500}\n"}
    for name, text in files.items():
        (root / f"plans/{name}.yaml").write_text(text, encoding="utf-8")
    (root / "plans/templates/nudge.sms.j2").write_text("好久不见，送您一张回购券\n",
                                                      encoding="utf-8")
    (root / "truth.yaml").write_text("".join(truth), encoding="utf-8")
    return root


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("many") / "shop")
    for day in WEEKS:
        cli("build", "--project", str(root), "--as-of", day)
        cli("simulate", "--project", str(root), "--truth", str(root / "truth.yaml"))
    return evaluate(root, as_of=date(2026, 7, 5), save=False)


def _rows(report, level: str, prefix: str) -> list:
    return [r for r in report.rows if r.level == level and r.activity.startswith(prefix)]


def test_the_intervals_hold_the_truth_about_95_percent_of_the_time(report):
    pooled = _rows(report, "activity", "act_")
    runs = _rows(report, "run", "act_")
    assert len(pooled) == MAIN and len(runs) == MAIN * len(WEEKS)
    # no overlap, no real purchase: what a perfect evaluation finds is the truth itself
    for r in pooled:
        assert r.expected_uplift == pytest.approx(r.true_uplift, abs=1e-9)
        assert r.treatment > 200 and r.control > 200  # four runs of ~65 per group pooled
    covered = sum(r.uplift_low <= r.true_uplift <= r.uplift_high for r in pooled)
    covered_runs = sum(r.uplift_low <= r.true_uplift <= r.uplift_high for r in runs)
    # 95% of 20 is 19 (a binomial 20 x 0.95 is 17 or more 98% of the time); of 80, 76
    # (71 or more 98% of the time)
    assert covered >= 17, [(r.activity, r.uplift_low, r.true_uplift, r.uplift_high)
                           for r in pooled]
    assert covered_runs >= 71
    # the point estimates are unbiased: their mean error is within 2 standard errors
    errors = [r.uplift - r.true_uplift for r in pooled]
    se = math.sqrt(sum((r.uplift_high - r.uplift_low) ** 2 / (2 * 1.96) ** 2
                       for r in pooled)) / len(pooled)
    assert abs(sum(errors) / len(errors)) < 2 * se


def test_tiny_control_groups_are_never_called_significant(report):
    tiny = _rows(report, "activity", "tiny_") + _rows(report, "run", "tiny_")
    assert len(tiny) == TINY * (1 + len(WEEKS))
    for r in tiny:
        assert r.control < 30 < r.treatment
        assert r.status == "underpowered" and r.underpowered
        assert r.runs_needed and r.runs_needed > r.runs
    # what the raw test alone would have called significant (3 of the 4 pooled rows, and
    # several runs)
    assert sum(r.p_value < 0.05 for r in tiny) >= 8
    for r in _rows(report, "activity", "tiny_"):
        assert r.fdr_status == "underpowered"
        assert f"pool about {r.runs_needed:,} runs like these (4 so far)" in r.note


def test_benjamini_hochberg_across_the_activities(report):
    """q_(i) = min over j >= i of p_(j) x m / j, the p-values sorted ascending; the
    verdict is significant when q < alpha (0.05) and the groups are big enough."""
    tested = [r for r in report.rows if r.level == "activity"]
    assert len(tested) == MAIN + TINY and all(r.p_value is not None for r in tested)
    m = len(tested)
    ranked = sorted(tested, key=lambda r: r.p_value)
    q, running = {}, 1.0
    for j in range(m, 0, -1):
        running = min(running, ranked[j - 1].p_value * m / j)
        q[ranked[j - 1].activity] = running
    for r in tested:
        assert r.q_value == pytest.approx(q[r.activity], rel=1e-12)
        assert r.q_value >= r.p_value
        want = ("underpowered" if r.underpowered
                else "significant" if q[r.activity] < 0.05 else "not_significant")
        assert r.fdr_status == want
    assert all(r.q_value is None and r.fdr_status is None
               for r in report.rows if r.level != "activity")
    # the adjustment only takes verdicts away, and the big uplifts keep theirs
    raw = {r.activity for r in tested if r.status == "significant"}
    fdr = {r.activity for r in tested if r.fdr_status == "significant"}
    assert fdr <= raw
    assert fdr >= {r.activity for r in tested if r.true_uplift == 0.12}
