"""The lifecycle and tier checks (E203, E303, E304, E305) on both sides of each
boundary, through `crmspec validate` on the tiny shop, whose lifecycle.yaml is

  1 stages:
  2   - {id: potential, name: 潜在客户, never_purchased: true}
  3   - {id: after_sale, name: 售后期, from_days: 0, to_days: 7}
  4   - {id: active, name: 活跃期, from_days: 7, to_days: 45}
  5   - {id: silent, name: 沉默期, from_days: 45, to_days: 90}
  6   - {id: sleeping, name: 睡眠期, from_days: 90, to_days: 140}
  7   - {id: churning, name: 流失期, from_days: 140, to_days: 365}
  8   - {id: dead, name: 死亡, from_days: 365, maintenance_required: false}

Bands are half-open [from_days, to_days): they must start at day 0, meet exactly, and
the last must be open-ended.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from shop_edits import edit

from crmspec.cli import main

SILENT = "{id: silent, name: 沉默期, from_days: 45, to_days: 90}"


def validate(root) -> tuple[int, list[str]]:
    """Exit code and the diagnostic lines (hints included) of `crmspec validate`."""
    result = CliRunner().invoke(main, ["validate", "--project", str(root)])
    assert "Traceback" not in result.output
    return result.exit_code, [line for line in result.output.splitlines()
                              if "error[" in line or "warning[" in line or "hint:" in line]


def test_bands_that_meet_are_clean(tiny):
    assert validate(tiny) == (0, [])


def test_a_one_day_gap_between_stages_is_e304(tiny):
    """Rule E304: active ends before day 45 and silent starts at 46: day 45 has no stage."""
    edit(tiny, "lifecycle.yaml", SILENT, SILENT.replace("from_days: 45", "from_days: 46"))
    assert validate(tiny) == (1, [
        "plans/lifecycle.yaml:5:40: error[E304]: days 45-45 belong to no stage "
        "(between 'active' and 'silent')",
        "  hint: set from_days: 45 or extend 'active'"])


def test_a_one_day_overlap_between_stages_is_e303(tiny):
    edit(tiny, "lifecycle.yaml", SILENT, SILENT.replace("from_days: 45", "from_days: 44"))
    assert validate(tiny) == (1, [
        "plans/lifecycle.yaml:5:40: error[E303]: stage 'silent' (from day 44) overlaps stage "
        "'active' (until day 45)",
        "  hint: bands are [from_days, to_days): make them meet"])


def test_an_open_ended_stage_before_another_overlaps_it(tiny):
    edit(tiny, "lifecycle.yaml", "from_days: 140, to_days: 365}", "from_days: 140}")
    assert validate(tiny) == (1, [
        "plans/lifecycle.yaml:8:37: error[E303]: stage 'dead' (from day 365) overlaps stage "
        "'churning' (open-ended)",
        "  hint: bands are [from_days, to_days): make them meet"])


@pytest.mark.parametrize("first, expected", [
    (0, []),
    (1, ["plans/lifecycle.yaml:3:44: error[E304]: days 0-0 belong to no stage",
         "  hint: start the first stage ('after_sale') at from_days: 0"]),
    (2, ["plans/lifecycle.yaml:3:44: error[E304]: days 0-1 belong to no stage",
         "  hint: start the first stage ('after_sale') at from_days: 0"]),
])
def test_the_first_stage_starts_on_day_0(tiny, first, expected):
    edit(tiny, "lifecycle.yaml", "from_days: 0, to_days: 7", f"from_days: {first}, to_days: 7")
    assert validate(tiny) == (1 if expected else 0, expected)


def test_the_last_stage_is_open_ended(tiny):
    """to_days 400 on the last stage: from day 400 on, customers have no stage."""
    edit(tiny, "lifecycle.yaml", "from_days: 365,", "from_days: 365, to_days: 400,")
    assert validate(tiny) == (1, [
        "plans/lifecycle.yaml:8:51: error[E304]: customers more than 399 days since their "
        "last purchase belong to no stage",
        "  hint: omit to_days on the last stage ('dead')"])


def test_a_stage_must_end_after_it_starts(tiny):
    """to_days = from_days + 1 is a one-day stage; to_days = from_days is empty (E303,
    and the days up to the next stage then have none: E304)."""
    edit(tiny, "lifecycle.yaml", "from_days: 7, to_days: 45}", "from_days: 7, to_days: 8}")
    edit(tiny, "lifecycle.yaml", SILENT, SILENT.replace("from_days: 45", "from_days: 8"))
    assert validate(tiny) == (0, [])
    edit(tiny, "lifecycle.yaml", "from_days: 7, to_days: 8}", "from_days: 7, to_days: 7}")
    assert validate(tiny) == (1, [
        "plans/lifecycle.yaml:4:52: error[E303]: stage 'active' ends (day 7) before it "
        "starts (day 7)",
        "plans/lifecycle.yaml:5:40: error[E304]: days 7-7 belong to no stage (between "
        "'active' and 'silent')",
        "  hint: set from_days: 7 or extend 'active'"])


def test_never_purchased_stages(tiny):
    """One never_purchased stage at most, and it has no day band."""
    edit(tiny, "lifecycle.yaml", "never_purchased: true}",
         "never_purchased: true, from_days: 0}\n  - {id: prospect, name: 访客, "
         "never_purchased: true, maintenance_required: false}")
    assert validate(tiny) == (1, [
        "plans/lifecycle.yaml:2:50: error[E303]: stage 'potential' is never_purchased and "
        "also has a day band",
        "  hint: drop from_days/to_days: customers who never bought have no recency",
        "plans/lifecycle.yaml:3:5: error[E303]: a second never_purchased stage",
        "  hint: 'potential' already holds customers who never bought"])


def test_a_recency_stage_needs_from_days(tiny):
    edit(tiny, "lifecycle.yaml", SILENT, "{id: silent, name: 沉默期, to_days: 90}")
    assert validate(tiny) == (1, [
        "plans/lifecycle.yaml:5:5: error[E203]: stage 'silent' needs from_days",
        "  hint: or never_purchased: true for customers who never bought",
        # without a start, silent is no band: active's end and sleeping's start leave a gap
        "plans/lifecycle.yaml:6:42: error[E304]: days 45-89 belong to no stage (between "
        "'active' and 'sleeping')",
        "  hint: set from_days: 45 or extend 'active'"])


@pytest.mark.parametrize("vip2, expected", [
    ("500.01", []),
    ("500", ["plans/tiers.yaml:3:39: error[E305]: tier 'vip2' needs 500, not more than the "
             "tier below it ('vip1': 500)",
             "  hint: list tiers lowest first with increasing min_spend"]),
    ("499", ["plans/tiers.yaml:3:39: error[E305]: tier 'vip2' needs 499, not more than the "
             "tier below it ('vip1': 500)",
             "  hint: list tiers lowest first with increasing min_spend"]),
])
def test_tier_thresholds_must_increase(tiny, vip2, expected):
    edit(tiny, "tiers.yaml", "min_spend: 1500,", f"min_spend: {vip2},")
    assert validate(tiny) == (1 if expected else 0, expected)


def test_without_any_recency_band_only_the_missing_starts_are_reported(tiny):
    """No stage has from_days: each says so (E203) and there are no bands to check."""
    path = tiny / "plans/lifecycle.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [lines[0], lines[1]] + [
        line.replace("from_days: 0, ", "").replace("from_days: 7, ", "")
        .replace("from_days: 45, ", "").replace("from_days: 90, ", "")
        .replace("from_days: 140, ", "").replace("from_days: 365, ", "") for line in lines[2:]]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    code, lines = validate(tiny)
    assert code == 1
    assert [line.split(": error")[1] for line in lines if "error[" in line] == [
        f"[E203]: stage '{s}' needs from_days"
        for s in ("after_sale", "active", "silent", "sleeping", "churning", "dead")]
