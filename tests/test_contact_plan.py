"""The contact plan through real builds of the tiny shop, over several days.

Hand-worked facts used below (see test_build_tiny for the customers): as of 2026-03-01
active_care reaches c03, c14, c15, c16 (active, not fans) and winback c04, c05, c06
(silent/sleeping/churning); both are state triggers, so they qualify again the next day.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from shop_edits import DIES_BEFORE_COMMIT, append, edit

from crmspec.build import build
from crmspec.contact.holdout import bucket
from crmspec.core.diagnostics import PlanError

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)


def ledger(root: Path, sql: str) -> list:
    con = duckdb.connect(str(root / "state/ledger.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def statuses(manifest: dict, activity: str) -> dict:
    a = next(x for x in manifest["activities"] if x["id"] == activity)
    return {"sent": a["sent"], "control": a["control"], **a["suppressed"]}


def test_a_rerun_of_the_same_day_replaces_its_run_and_gives_the_same_bytes(tiny):
    first = files(build(tiny, as_of=D1).out_dir)
    runs = ledger(tiny, "SELECT as_of, contacts, controls FROM runs")
    second = files(build(tiny, as_of=D1).out_dir)
    assert first == second
    assert ledger(tiny, "SELECT as_of, contacts, controls FROM runs") == runs == [(D1, 11, 0)]
    # 1 + 1 + 2 + 4 + 3 contacts: payment_reminder, review_invite, cart_recovery (email),
    # active_care, winback
    assert ledger(tiny, "SELECT activity_id, count(*) FROM contacts GROUP BY 1 ORDER BY 1") == [
        ("active_care", 4), ("cart_recovery", 2), ("payment_reminder", 1),
        ("review_invite", 1), ("winback", 3)]


def test_limits_and_cooldowns_read_the_ledger_across_days(tiny):
    append(tiny, "shop.yaml", "contact:\n  limits:\n    overall: [{days: 7, max: 1}]\n")
    edit(tiny, "activities.yaml", "    segment: active_not_fans\n",
         "    segment: active_not_fans\n    trigger: {type: state, cooldown_days: 14}\n")
    m1 = build(tiny, as_of=D1).manifest
    assert statuses(m1, "active_care") == {"sent": 4, "control": 0}
    assert statuses(m1, "winback") == {"sent": 3, "control": 0}
    m2 = build(tiny, as_of=D2).manifest
    # the day after: active_care is in its cooldown for its four, and c02 (7 days since
    # 02-23: active now) already had review_invite on 03-01: the 1-per-7-days limit;
    # winback's three hit the limit too
    assert statuses(m2, "active_care") == {"sent": 0, "control": 0, "cooldown": 4,
                                           "contact_limit": 1}
    assert statuses(m2, "winback") == {"sent": 0, "control": 0, "contact_limit": 3}
    # service messages are exempt: the payment reminder never counts nor is limited
    assert ledger(tiny, "SELECT count(*) FROM runs") == [(2,)]


def test_equal_priority_activities_sharing_a_cap_are_decided_by_id(tiny):
    """c04 is in `lapsed` (winback) and gets a second marketing activity of the same
    priority on the same channel; sms allows one a week: 'another' < 'winback'."""
    append(tiny, "shop.yaml", "contact:\n  limits:\n    channels:\n"
           "      sms: [{days: 7, max: 1}]\n")
    append(tiny, "activities.yaml", """  - id: another
    name: 再来一次
    template: winback
    kind: marketing
    stage: silent
    segment: lapsed
    channel: sms
""")
    m = build(tiny, as_of=D1, dry_run=True).manifest
    assert statuses(m, "another") == {"sent": 3, "control": 0}
    assert statuses(m, "winback") == {"sent": 0, "control": 0, "channel_limit": 3}


def test_control_group_goes_to_the_ledger_not_to_the_files(tiny):
    # buckets of 'winback:c04/c05/c06' under salt s2: 0.62, 0.52, 0.27
    append(tiny, "shop.yaml", "contact:\n  salt: s2\n")
    edit(tiny, "activities.yaml", "    segment: lapsed\n",
         "    segment: lapsed\n    holdout: 0.5\n")
    out = build(tiny, as_of=D1).out_dir
    control = sorted(c for c in ("c04", "c05", "c06") if bucket("s2", f"winback:{c}") < 0.5)
    assert control == ["c06"]
    with open(out / "audience/winback.csv", encoding="utf-8") as f:
        sent = [r["customer_id"] for r in csv.DictReader(f)]
    assert sorted(sent) == sorted({"c04", "c05", "c06"} - set(control))
    assert ledger(tiny, "SELECT customer_id, grp, CAST(cost AS DOUBLE) FROM contacts "
                        "WHERE activity_id = 'winback' ORDER BY 1") == [
        (c, "control" if c in control else "treatment", 0.0 if c in control else 0.05)
        for c in ("c04", "c05", "c06")]


def test_monthly_budget_counts_earlier_runs_of_the_month(tiny):
    # 03-01 costs 0.47 (9 SMS + 2 emails); a cap of 0.60 leaves 0.13 for 03-02, where
    # the state-triggered active_care (c03, c14, c15, c16 and now c02: maintenance) and
    # winback (3, marketing) qualify. Maintenance is kept and spends first (0.25: the
    # month reaches 0.72); marketing is trimmed once the budget has run out.
    append(tiny, "shop.yaml", "budget:\n  monthly_cap: 0.60\n")
    m1 = build(tiny, as_of=D1).manifest
    assert m1["costs"]["month_to_date"] == 0.47
    m2 = build(tiny, as_of=D2).manifest
    assert statuses(m2, "active_care") == {"sent": 5, "control": 0}
    assert statuses(m2, "winback") == {"sent": 0, "control": 0, "budget_month": 3}
    assert m2["costs"]["month_to_date"] == 0.72


def test_a_month_of_its_own_replaces_the_monthly_cap(tiny):
    # As above, but March has its own cap of 10 (budget.months): the marketing the 0.60
    # cap trimmed fits, winback's three SMS (0.05 each) and cart_recovery's two emails
    # (0.01 each): 0.72 + 0.15 + 0.02 = 0.89. A cap for February changes nothing.
    append(tiny, "shop.yaml", 'budget:\n  monthly_cap: 0.60\n  months:\n'
                              '    "2026-02": 0.01\n    "2026-03": 10\n')
    build(tiny, as_of=D1)
    m2 = build(tiny, as_of=D2).manifest
    assert statuses(m2, "winback") == {"sent": 3, "control": 0}
    assert statuses(m2, "cart_recovery") == {"sent": 2, "control": 0}
    assert (m2["costs"]["month_to_date"], m2["costs"]["monthly_cap"]) == (0.89, 10.0)


def test_months_without_a_cap_of_their_own_keep_the_monthly_cap(tiny):
    append(tiny, "shop.yaml", 'budget:\n  monthly_cap: 0.60\n  months:\n'
                              '    "2026-02": 0.01\n    "2026-04": 10\n')
    build(tiny, as_of=D1)
    m2 = build(tiny, as_of=D2).manifest
    assert statuses(m2, "winback") == {"sent": 0, "control": 0, "budget_month": 3}
    assert statuses(m2, "cart_recovery") == {"sent": 0, "control": 0, "budget_month": 2}
    assert (m2["costs"]["month_to_date"], m2["costs"]["monthly_cap"]) == (0.72, 0.6)


def test_a_month_cap_must_name_a_month_and_an_amount(tiny):
    from click.testing import CliRunner

    from crmspec.cli import main

    append(tiny, "shop.yaml", 'budget:\n  months:\n    "2026-13": 10\n    "2026-04": -1\n')
    lines = (tiny / "plans/shop.yaml").read_text(encoding="utf-8").count("\n")
    result = CliRunner().invoke(main, ["validate", "--project", str(tiny)])
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == [
        f"plans/shop.yaml:{lines - 1}:5: error[E201]: '2026-13' is not a valid value here",
        "  hint: it must match ^[0-9]{4}-(0[1-9]|1[0-2])$",
        f"plans/shop.yaml:{lines}:16: error[E201]: budget.months.2026-04: -1 is less than "
        "the minimum of 0"]


def test_marketing_is_trimmed_in_priority_order_when_the_month_runs_short(tiny):
    # 03-02 with a cap of 0.62: 0.47 + active_care 0.25 = 0.72 already; raise the cap to
    # 0.80: 0.08 left for winback's three (0.05 each, keep_first spend: c05 1500, c04
    # 520, c06 60): c05 fits (0.77), c04 would make 0.82.
    append(tiny, "shop.yaml", "budget:\n  monthly_cap: 0.80\n")
    edit(tiny, "activities.yaml", "    segment: lapsed\n",
         "    segment: lapsed\n    budget: {cap: 100, keep_first: {by: spend}}\n")
    build(tiny, as_of=D1)
    result = build(tiny, as_of=D2)
    assert statuses(result.manifest, "winback") == {"sent": 1, "control": 0, "budget_month": 2}
    with open(result.out_dir / "audience/winback.csv", encoding="utf-8") as f:
        assert [r["customer_id"] for r in csv.DictReader(f)] == ["c05"]


def test_an_earlier_build_is_refused_and_a_dry_run_records_nothing(tiny):
    build(tiny, as_of=D2)
    with pytest.raises(PlanError) as err:
        build(tiny, as_of=D1)
    assert err.value.diagnostics[0].code == "E601"
    build(tiny, as_of=D1, dry_run=True)  # looking is fine
    assert ledger(tiny, "SELECT as_of FROM runs") == [(D2,)]
    build(tiny, as_of=D1, force=True)
    assert ledger(tiny, "SELECT as_of FROM runs ORDER BY 1") == [(D1,), (D2,)]


def test_dry_run_creates_no_ledger(tiny):
    build(tiny, as_of=D1, dry_run=True)
    assert not (tiny / "state").exists() and not (tiny / "out").exists()


def test_a_failing_build_leaves_outputs_and_ledger_as_they_were(tiny, monkeypatch):
    first = build(tiny, as_of=D1)
    before = files(first.out_dir)

    import crmspec.build as build_module

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "write_json", boom)
    with pytest.raises(RuntimeError):
        build(tiny, as_of=D2)
    assert files(tiny / "out") == before
    assert ledger(tiny, "SELECT as_of FROM runs") == [(D1,)]
    assert not list(tiny.glob(".out.tmp-*"))


# The 03-02 build killed inside crmspec's record_run, right before its COMMIT (the
# build's last step before the output folder is swapped into place).
KILLED = DIES_BEFORE_COMMIT + r"""
import sys
from datetime import date
from pathlib import Path
import crmspec.build as b
real = b.record_run

def record_then_die(con, *args, **kwargs):
    real(DiesBeforeCommit(con), *args, **kwargs)
b.record_run = record_then_die
b.build(Path(sys.argv[1]), as_of=date(2026, 3, 2))
"""


def test_a_killed_build_leaves_outputs_and_ledger_consistent(tiny):
    before = files(build(tiny, as_of=D1).out_dir)
    proc = subprocess.run([sys.executable, "-c", KILLED, str(tiny)],
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    assert proc.returncode == -9
    assert files(tiny / "out") == before
    assert ledger(tiny, "SELECT as_of, contacts FROM runs") == [(D1, 11)]
    assert ledger(tiny, "SELECT count(*) FROM contacts") == [(11,)]
    # and the next build cleans up the killed one's temporary folder
    build(tiny, as_of=D2)
    assert not list(tiny.glob(".out.tmp-*"))


def test_timestamps_with_time_zones_are_read_in_the_shop_timezone(tiny):
    """c03 paid 2026-02-22 08:10 local (7 days: active). Written as UTC instants in a
    Parquet file, 2026-02-22 16:30 UTC is 2026-02-23 00:30 in Shanghai: 6 days, after-sale;
    2026-02-22 15:59 UTC is 23:59 the 22nd: still 7 days, active."""
    data = tiny / "data"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    orders = f"read_csv('{data}/orders.csv', header = true, auto_detect = true)"
    for name, utc in (("late", "2026-02-22 16:30:00+00"), ("early", "2026-02-22 15:59:00+00")):
        folder = tiny / f"data_{name}"
        folder.mkdir()
        for table in ("customers", "events"):
            con.execute(f"COPY (SELECT * FROM read_csv('{data}/{table}.csv', header = true, "
                        f"auto_detect = true)) TO '{folder}/{table}.parquet'")
        con.execute(f"""COPY (SELECT * REPLACE (
              CASE WHEN order_id = 'o04' THEN TIMESTAMPTZ '{utc}'
                   ELSE CAST(paid_at AS TIMESTAMP) AT TIME ZONE 'Asia/Shanghai' END AS paid_at)
            FROM {orders}) TO '{folder}/orders.parquet'""")
    stages = {}
    for name in ("late", "early"):
        edit(tiny, "shop.yaml", "  source: csv\n  path: data\n" if name == "late" else
             "  path: data_late\n", f"  source: parquet\n  path: data_{name}\n"
             if name == "late" else f"  path: data_{name}\n")
        m = build(tiny, as_of=D1, dry_run=True).manifest
        stages[name] = (m["stages"]["after_sale"], m["stages"]["active"])
    assert stages == {"late": (5, 4), "early": (4, 5)}


def test_manifest_reports_stage_contact_bounds(tiny):
    edit(tiny, "lifecycle.yaml", "{id: active, name: 活跃期, from_days: 7, to_days: 45}",
         "{id: active, name: 活跃期, from_days: 7, to_days: 45, contacts: {min: 1, max: 3}}")
    m = build(tiny, as_of=D1).manifest
    # active: c03, c11, c14, c15, c16; active_care contacts c03, c14, c15, c16, not c11
    # (below the minimum of 1); c15 also gets cart_recovery: 2
    assert m["stage_contacts"] == {"active": {"min": 1, "max": 3, "customers": 5,
                                              "below_min": 1, "most_contacts": 2}}
    json.dumps(m)  # the manifest stays plain JSON


UPGRADE_REWARD = """  - id: upgrade_reward
    name: 升级礼
    template: winback
    kind: maintenance
    stage: [active, after_sale]
    segment: vip1_plus
    channel: sms
    trigger: {type: tier_upgrade}
"""
VIP1_PLUS = """  - id: vip1_plus
    name: 会员
    where: {tier_at_least: vip1}
"""


def test_tier_upgrades_compare_with_the_tiers_the_previous_run_recorded(tiny):
    """c03 (80 spent) pays 500 more on 03-02: vip1 from then on. The 03-01 run recorded
    the members' tiers; the 03-02 build congratulates c03 only. The first build has no
    earlier tiers on record: nobody has upgraded (docs/contact-plan.md)."""
    append(tiny, "activities.yaml", UPGRADE_REWARD)
    append(tiny, "segments.yaml", VIP1_PLUS)
    add = "o30,c03,2026-03-02 09:00:00,2026-03-02 09:05:00,,,500.00,paid,normal\n"
    with open(tiny / "data/orders.csv", "a", encoding="utf-8") as f:
        f.write(add)
    m1 = build(tiny, as_of=D1).manifest
    assert statuses(m1, "upgrade_reward") == {"sent": 0, "control": 0}
    assert ledger(tiny, "SELECT customer_id, tier_rank FROM tiers ORDER BY 1") == [
        ("c02", 1), ("c04", 1), ("c05", 2), ("c07", 3), ("c11", 4), ("c14", 1)]
    result = build(tiny, as_of=D2)
    assert statuses(result.manifest, "upgrade_reward") == {"sent": 1, "control": 0}
    with open(result.out_dir / "audience/upgrade_reward.csv", encoding="utf-8") as f:
        assert [(r["customer_id"], r["tier"]) for r in csv.DictReader(f)] == [("c03", "vip1")]
    # the ledger keeps the tiers' changes: the 03-02 run adds c03's alone
    assert ledger(tiny, "SELECT as_of, customer_id, tier_rank FROM tiers "
                  "WHERE as_of = DATE '2026-03-02'") == [(D2, "c03", 1)]


def test_a_member_who_falls_below_every_tier_and_comes_back_is_congratulated(tiny):
    """The ledger records tier changes, a fall below every tier as rank 0: c02 (vip1 on
    03-01: 300 + 250 spent) has its 250 order refunded by 03-02 (no tier: a rank-0 row),
    then pays 600 on 03-03: vip1 again, an upgrade over the 03-02 run's tier."""
    append(tiny, "activities.yaml", UPGRADE_REWARD)
    append(tiny, "segments.yaml", VIP1_PLUS)
    build(tiny, as_of=D1)
    assert ledger(tiny, "SELECT tier_rank FROM tiers WHERE customer_id = 'c02'") == [(1,)]
    orders = tiny / "data/orders.csv"
    text = orders.read_text(encoding="utf-8")
    o03 = "2026-02-26 10:00:00,250.00,paid,normal"
    assert text.count(o03) == 1
    orders.write_text(text.replace(o03, o03.replace(",paid,", ",refunded,")), encoding="utf-8")
    assert statuses(build(tiny, as_of=D2).manifest, "upgrade_reward") == {"sent": 0,
                                                                          "control": 0}
    assert ledger(tiny, "SELECT as_of, tier_rank FROM tiers WHERE customer_id = 'c02' "
                  "ORDER BY 1") == [(D1, 1), (D2, 0)]
    with open(orders, "a", encoding="utf-8") as f:
        f.write("o31,c02,2026-03-03 09:00:00,2026-03-03 09:05:00,,,600.00,paid,normal\n")
    result = build(tiny, as_of=D2 + (D2 - D1))
    with open(result.out_dir / "audience/upgrade_reward.csv", encoding="utf-8") as f:
        assert [(r["customer_id"], r["tier"]) for r in csv.DictReader(f)] == [("c02", "vip1")]


def test_members_whose_spend_did_not_change_are_not_congratulated(tiny):
    """Tiers over 365 days, kept until the 01-01 review. c07 paid 5000 on 2025-03-01:
    as of 03-03 that purchase is out of the window (it counts after 2025-03-03), but it
    was in the window of the 2026-01-01 review, so c07 keeps vip3. Nobody buys between
    the 03-03 and 03-04 builds except c03 (80 + 500 on 03-04: vip1). The first build
    congratulates nobody (no tiers on record; the old fallback compared with the spend of
    two days before, ignoring the kept tier, and congratulated c07); the second one c03
    only, although c07's windowed spend is still 0."""
    edit(tiny, "tiers.yaml", "tiers:\n",
         'evaluation: {window_days: 365, review_date: "01-01"}\ntiers:\n')
    append(tiny, "activities.yaml", UPGRADE_REWARD)
    append(tiny, "segments.yaml", VIP1_PLUS)
    with open(tiny / "data/orders.csv", "a", encoding="utf-8") as f:
        f.write("o30,c03,2026-03-04 09:00:00,2026-03-04 09:05:00,,,500.00,paid,normal\n")
    first = build(tiny, as_of=date(2026, 3, 3))
    assert first.manifest["tiers"]["vip3"] == 1  # c07, by the kept tier
    assert statuses(first.manifest, "upgrade_reward") == {"sent": 0, "control": 0}
    second = build(tiny, as_of=date(2026, 3, 4))
    assert statuses(second.manifest, "upgrade_reward") == {"sent": 1, "control": 0}
    with open(second.out_dir / "audience/upgrade_reward.csv", encoding="utf-8") as f:
        assert [(r["customer_id"], r["tier"], r["spend"]) for r in csv.DictReader(f)] == [
            ("c03", "vip1", "580.00")]
    # a third build the next day: c03 is vip1 on record now, nobody else moved
    third = build(tiny, as_of=date(2026, 3, 5))
    assert statuses(third.manifest, "upgrade_reward") == {"sent": 0, "control": 0}


def test_validate_checks_hold_outs_against_the_latest_build(tiny):
    """After a build, `crmspec validate` knows the audiences: winback's 3 customers with a
    half hold-out cannot show +0.02 over a 0.05 response rate."""
    from click.testing import CliRunner

    from crmspec.cli import main

    append(tiny, "shop.yaml", "evaluation:\n  baseline_response: 0.05\n  min_effect: 0.02\n")
    edit(tiny, "activities.yaml", "    segment: lapsed\n",
         "    segment: lapsed\n    holdout: 0.5\n")
    before = CliRunner().invoke(main, ["validate", "--project", str(tiny)])
    assert before.exit_code == 0 and "warning[W602]" not in before.output  # no build yet
    build(tiny, as_of=D1)
    after = CliRunner().invoke(main, ["validate", "--project", str(tiny)])
    assert after.exit_code == 0
    assert "warning[W602]: activity 'winback': " in after.output
    assert "held out of 3 cannot show +0.02 over a 0.05 response rate" in after.output


def test_messages_are_rendered_after_the_budgets_unless_they_price_the_contact(tiny):
    """An email costs one message whatever it says: cart_recovery's messages are rendered
    after the budgets, for the contacts kept (none under a tiny cap). An SMS costs its
    segments: winback's are rendered before the budgets, to cost them, even when the
    budget then trims every one."""
    def activity(manifest, aid):
        return next(a for a in manifest["activities"] if a["id"] == aid)

    full = build(tiny, as_of=D1, dry_run=True).manifest
    append(tiny, "shop.yaml", "budget:\n  monthly_cap: 0.01\n")
    trimmed = build(tiny, as_of=D1).manifest
    assert statuses(full, "cart_recovery") == {"sent": 2, "control": 0}
    assert activity(full, "cart_recovery")["message"]["renderings"] == 1
    assert statuses(trimmed, "cart_recovery") == {"sent": 0, "control": 0, "budget_month": 2}
    assert activity(trimmed, "cart_recovery")["message"]["renderings"] == 0
    assert statuses(trimmed, "winback") == {"sent": 0, "control": 0, "budget_month": 3}
    assert (activity(trimmed, "winback")["message"]["renderings"]
            == activity(full, "winback")["message"]["renderings"] > 0)
    email = (tiny / "out" / "email" / "cart_recovery.csv").read_text(encoding="utf-8")
    assert email.splitlines() == ["email,subject,html,text,preheader,send_at,unsubscribe_url"]


def test_a_month_over_its_budget_is_a_warning_and_with_strict_an_error(tiny):
    """Maintenance and service contacts are never trimmed: as of 03-01 they cost 0.30
    (payment_reminder 0.05, review_invite 0.05, active_care 4 x 0.05); the marketing ones
    (cart_recovery 0.02, winback 0.15) are trimmed. A cap of exactly 0.30 is kept; 0.29
    is exceeded by 0.01: W605 at the cap's line, in the manifest and in the summary;
    --strict stops the build before anything is written or recorded."""
    from click.testing import CliRunner

    from crmspec.cli import main

    edit(tiny, "../data/customers.csv", "c13,1380000013,", "c13,13800000013,")  # no W404
    append(tiny, "shop.yaml", "budget:\n  monthly_cap: 0.35\n")
    at_cap = build(tiny, as_of=D1, dry_run=True)
    assert at_cap.manifest["costs"]["month_to_date"] == 0.35  # c13 reached now: 0.35
    assert at_cap.manifest["costs"]["over_cap"] == 0.0
    assert [w for w in at_cap.warnings if w.code == "W605"] == []
    edit(tiny, "shop.yaml", "monthly_cap: 0.35", "monthly_cap: 0.34")
    over = build(tiny, as_of=D1, dry_run=True)
    assert over.manifest["costs"]["over_cap"] == 0.01
    (w,) = [w for w in over.warnings if w.code == "W605"]
    assert (w.path, w.line, w.col) == ("plans/shop.yaml", 18, 16)  # the cap appended
    assert w.message == ("the contacts of 2026-03 cost 0.35 CNY to date (0.00 in earlier "
                         "runs, 0.35 in this build), 0.01 over the month's budget of 0.34")
    cli = CliRunner().invoke(main, ["build", "--dry-run", "--project", str(tiny)])
    assert cli.exit_code == 0
    assert "month to date 0.35 of 0.34, OVER THE BUDGET by 0.01 (W605)" in cli.stdout
    assert "warning[W605]" in cli.stderr
    strict = CliRunner().invoke(main, ["build", "--strict", "--project", str(tiny)])
    assert strict.exit_code == 1
    assert "plans/shop.yaml:18:16: error[E605]: the contacts of 2026-03 cost 0.35" in strict.stderr
    assert not (tiny / "out").exists()
    assert ledger(tiny, "SELECT count(*) FROM runs") == [(0,)]


def test_earlier_runs_of_the_month_count_towards_its_budget(tiny):
    """03-01 costs 0.47 under a 0.50 cap (nothing trimmed). On 03-02 the care messages
    (not trimmed) alone take the month over it: the warning names both parts."""
    append(tiny, "shop.yaml", "budget:\n  monthly_cap: 0.5\n")
    first = build(tiny, as_of=D1)
    assert first.manifest["costs"]["month_to_date"] == 0.47
    assert [w.code for w in first.warnings if w.code == "W605"] == []
    second = build(tiny, as_of=D2)
    costs = second.manifest["costs"]
    assert costs["month_to_date"] == round(0.47 + costs["total"], 2)
    assert costs["over_cap"] == round(costs["month_to_date"] - 0.5, 2) > 0
    (w,) = [w for w in second.warnings if w.code == "W605"]
    assert "(0.47 in earlier runs, " in w.message


def test_a_held_out_sms_over_the_length_limit_is_left_out_not_held_out(tiny):
    """SMS are rendered and checked before the budgets and the control draw: c06, whose
    bucket holds it out of winback (see above), has a name of 1,000 characters, so its
    message is over the limit: message_too_long, neither a control nor in the ledger."""
    append(tiny, "shop.yaml", "contact:\n  salt: s2\n")
    edit(tiny, "activities.yaml", "    segment: lapsed\n",
         "    segment: lapsed\n    holdout: 0.5\n")
    customers = tiny / "data/customers.csv"
    customers.write_text(customers.read_text(encoding="utf-8").replace(
        "c06,13800000006,,,nick06,,", "c06,13800000006,,,nick06," + "名" * 1000 + ","),
        encoding="utf-8")
    m = build(tiny, as_of=D1).manifest
    assert statuses(m, "winback") == {"sent": 2, "control": 0, "message_too_long": 1}
    assert ledger(tiny, "SELECT customer_id, grp FROM contacts WHERE activity_id = 'winback' "
                        "ORDER BY 1") == [("c04", "treatment"), ("c05", "treatment")]
