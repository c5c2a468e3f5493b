"""`crmspec validate` reports every problem in one run: a part whose schema check fails
(an activity, a segment, a stage, a section of shop.yaml, an SOP) is left out and
everything around it is still checked, without noise about what was left out
(crmspec.plan.parts). Each case is the tiny shop with a few edits, run through the CLI;
the expected output was read line by line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmspec.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
A, S, L, T, SH = ("plans/activities.yaml", "plans/segments.yaml", "plans/lifecycle.yaml",
                  "plans/tiers.yaml", "plans/shop.yaml")
TYPO = (A, "    segment: carted_30d\n", "    segment: carted_3od\n")  # a real E301
TYPO_OUT = """\
plans/activities.yaml:24:14: error[E301]: unknown segment 'carted_3od'
  hint: did you mean 'carted_30d'?
"""


def validate(tmp_path: Path, edits) -> tuple[int, str]:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURES / "tiny", root)
    for rel, old, new in edits:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text(encoding="utf-8") if old is not None else ""
        assert old is None or old in text, (rel, old)
        path.write_text(new if old is None else text.replace(old, new, 1), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--project", str(root)])
    return result.exit_code, result.output


def test_an_unknown_key_no_longer_hides_references_and_overlaps_elsewhere(tmp_path):
    """The issue's example: an E202 in one activity hid the E301 of another and the
    E303 of lifecycle.yaml until it was fixed."""
    code, out = validate(tmp_path, [
        (A, "window: [3, 6]}", "window: [3, 6], cooldown: 5}"), TYPO,
        (L, "from_days: 45, to_days: 90}", "from_days: 40, to_days: 90}")])
    assert code == 1
    assert out == """\
plans/activities.yaml:18:63: error[E202]: unknown key 'cooldown'
  hint: did you mean 'cooldown_days'?
""" + TYPO_OUT + """\
plans/lifecycle.yaml:5:40: error[E303]: stage 'silent' (from day 40) overlaps stage 'active' (until day 45)
  hint: bands are [from_days, to_days): make them meet
3 error(s), 0 warning(s)
"""  # noqa: E501


def test_a_reference_to_a_broken_entry_is_not_an_unknown_reference(tmp_path):
    # winback's segment `lapsed` has a schema error: it exists, so no E301 for winback
    code, out = validate(tmp_path, [(S, "    name: 沉默以上\n",
                                     "    name: 沉默以上\n    colour: red\n")])
    assert (code, out) == (1, """\
plans/segments.yaml:24:5: error[E202]: unknown key 'colour'
  hint: allowed keys: id, name, description, where, everyone
1 error(s), 0 warning(s)
""")


def test_a_broken_id_makes_references_of_its_kind_unjudged(tmp_path):
    """A stage whose id breaks the id pattern: the activities' references to 'sleeping'
    may well mean it, so they are not reported."""
    code, out = validate(tmp_path, [(L, "{id: sleeping,", "{id: Sleeping,"), TYPO])
    assert code == 1
    assert out == TYPO_OUT + """\
plans/lifecycle.yaml:6:10: error[E201]: 'Sleeping' is not a valid value here
  hint: An id: lower-case letters, digits and underscores, starting with a letter.
2 error(s), 0 warning(s)
"""  # noqa: E501


def test_a_broken_stage_leaves_overlaps_reported_and_gaps_unjudged(tmp_path):
    # without the broken 'sleeping' stage, days 90-139 look like a gap: it is not one
    code, out = validate(tmp_path, [
        (L, "to_days: 140}", "to_days: 140, colour: x}"),
        (L, "from_days: 45, to_days: 90}", "from_days: 40, to_days: 90}")])
    assert (code, out) == (1, """\
plans/lifecycle.yaml:5:40: error[E303]: stage 'silent' (from day 40) overlaps stage 'active' (until day 45)
  hint: bands are [from_days, to_days): make them meet
plans/lifecycle.yaml:6:60: error[E202]: unknown key 'colour'
  hint: allowed keys: id, name, description, from_days, to_days, never_purchased, maintenance_required, contacts
2 error(s), 0 warning(s)
""")  # noqa: E501


def test_stages_of_a_broken_activity_are_not_judged_by_the_contact_rules(tmp_path):
    """The two maintenance activities of potential/after_sale are broken: those stages
    are not reported as lacking maintenance; the stages active_care (now marketing)
    left without maintenance are."""
    code, out = validate(tmp_path, [
        (A, "    stage: [potential, after_sale]\n", "    stage: [potential, after_sale]\n"
            "    colour: x\n"),
        (A, "    name: 评价邀请\n", "    name: 评价邀请\n    colour: x\n"),
        (A, "    name: 活跃关怀\n    kind: maintenance",
            "    name: 活跃关怀\n    kind: marketing")])
    assert code == 1
    lines = out.splitlines()
    expected = ["plans/activities.yaml:7:5: error[E202]: unknown key 'colour'",
                "plans/activities.yaml:15:5: error[E202]: unknown key 'colour'"]
    for n, stage in ((4, "active"), (5, "silent"), (6, "sleeping"), (7, "churning")):
        expected += [f"plans/lifecycle.yaml:{n}:5: error[E308]: stage '{stage}': maintenance "
                     "share 0.00 (0 of 2 activities) is outside [0.3, 1]",
                     f"plans/lifecycle.yaml:{n}:5: warning[W307]: stage '{stage}' has no "
                     "maintenance activity (it has 2 marketing)"]
    assert [ln for ln in lines if "error[" in ln or "warning[" in ln] == expected
    assert lines[-1] == "6 error(s), 4 warning(s)"


@pytest.mark.parametrize("edits, shown", [
    # shop.yaml `contact` is broken: the rest of the plan is checked
    ([(SH, "customers:\n", "contact:\n  global_holdout: 2\ncustomers:\n"), TYPO],
     TYPO_OUT + "plans/shop.yaml:11:19: error[E201]: contact.global_holdout: 2 is greater "
     "than the maximum of 0.5\n"),
    # tiers.yaml cannot be used at all: tier references cannot be judged, the rest can
    ([(T, None, "tiers: {vip1: 500}\n"), (S, "{tier_at_least: vip2}", "{tier_at_least: vip9}"),
      TYPO],
     TYPO_OUT + "plans/tiers.yaml:1:8: error[E201]: tiers: {'vip1': 500} is not of type "
     "'array'\n"),
    # kpis.yaml does not parse: the KPI an activity names cannot be judged
    ([("plans/kpis.yaml", None, "kpis:\n  - id: [x\n"),
      (A, "    service: true\n", "    service: true\n    kpi: repeat\n"), TYPO],
     TYPO_OUT.replace(":24:", ":25:") + "plans/kpis.yaml:3:1: error[E101]: expected ',' or "
     "']', but got '<stream end>' (while parsing a flow sequence started at line 2)\n"),
    # broken SOP documents are left out whole
    # (and their activities are not told they have none: W702)
    ([("plans/sop/winback.yaml", None, "activity: winback\nid_card: 5\n"),
      ("plans/sop/cart.yaml", None, "activity: cart_recovery\nportrait: 5\n"),
      *[(f"plans/sop/{a}.yaml", None, f"activity: {a}\n")
        for a in ("payment_reminder", "review_invite", "active_care")], TYPO],
     TYPO_OUT + "plans/sop/cart.yaml:2:11: error[E201]: portrait: 5 is not of type "
     "'object'\nplans/sop/winback.yaml:2:10: error[E201]: id_card: 5 is not of type "
     "'object'\n"),
    # the template file of a broken activity is not reported as unused (W519)
    ([(A, "    name: 召回\n", "    name: 召回\n    colour: x\n")],
     "plans/activities.yaml:36:5: error[E202]: unknown key 'colour'\n"
     "  hint: did you mean 'holdout'?\n"),
    # a required file that cannot be used at all is left out whole: stage references
    # cannot be judged, the segment reference can
    ([(L, None, "stages: 5\n"), TYPO],
     TYPO_OUT + "plans/lifecycle.yaml:1:9: error[E201]: stages: 5 is not of type 'array'\n"),
    # activities.yaml does not parse: the overlap and the unknown tier are still found,
    # no stage is said to lack maintenance and no template to be unused
    ([(A, "  - id: review_invite\n", "  - id: [review_invite\n"),
      (L, "from_days: 45, to_days: 90}", "from_days: 40, to_days: 90}"),
      (S, "{tier_at_least: vip2}", "{tier_at_least: vip9}")],
     "plans/activities.yaml:12:13: error[E101]: expected ',' or ']', but got ':' (while "
     "parsing a flow sequence started at line 11)\n"
     "plans/lifecycle.yaml:5:40: error[E303]: stage 'silent' (from day 40) overlaps stage "
     "'active' (until day 45)\n  hint: bands are [from_days, to_days): make them meet\n"
     "plans/segments.yaml:21:28: error[E301]: unknown tier 'vip9'\n"
     "  hint: did you mean 'vip4'?\n"),
    # segments.yaml is empty: what needs no segment is checked
    ([(S, None, ""), (L, "from_days: 45, to_days: 90}", "from_days: 40, to_days: 90}")],
     "plans/lifecycle.yaml:5:40: error[E303]: stage 'silent' (from day 40) overlaps stage "
     "'active' (until day 45)\n  hint: bands are [from_days, to_days): make them meet\n"
     "plans/segments.yaml:1:1: error[E104]: the file is empty\n"
     "  hint: remove it or fill it in\n"),
], ids=["shop_section", "tiers_unusable", "kpis_unparsable", "sop", "template_of_broken",
        "lifecycle_unusable", "activities_unparsable", "segments_empty"])
def test_checks_around_a_broken_part(tmp_path, edits, shown):
    code, out = validate(tmp_path, edits)
    n = shown.count("error[")
    assert (code, out) == (1, shown + f"{n} error(s), 0 warning(s)\n")


def test_a_shop_yaml_that_cannot_be_used_stops_the_semantic_checks(tmp_path):
    """The limit of checking around: without a usable shop.yaml (its name, its data)
    there is no plan to check (the typo of TYPO is found once it is fixed)."""
    assert validate(tmp_path, [(SH, "name: 小测试店\n", ""), TYPO]) == (
        1, "plans/shop.yaml:1:1: error[E203]: required key 'name' missing in the document\n"
        "1 error(s), 0 warning(s)\n")
