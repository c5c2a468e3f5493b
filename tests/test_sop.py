"""SOP documents (plans/sop/*.yaml) hold only what people write; validate reports an SOP
of an unknown activity, an SOP field that contradicts its activity, an activity without
an SOP, and a key of the old format (with where its content went)."""

from pathlib import Path

from crmspec.validate import validate_project

ROOT = Path(__file__).resolve().parent.parent

SOP = """activity: winback
id_card:
  owner: CRM运营
portrait:
  flow:
    - The build selects the segment.
  checklist:
    - The coupon batch exists.
lessons:
  - {date: "2026-05-01", lesson: Returning customers answer; one-time buyers do not.}
"""


def write_sop(root: Path, text: str, name: str = "winback.yaml") -> None:
    (root / "plans/sop").mkdir(exist_ok=True)
    (root / "plans/sop" / name).write_text(text, encoding="utf-8")


def set_owner(root: Path, owner: str) -> None:
    acts = root / "plans/activities.yaml"
    text = acts.read_text(encoding="utf-8")
    acts.write_text(text.replace("    segment: lapsed\n",
                                 f"    segment: lapsed\n    owner: {owner}\n"), encoding="utf-8")


def texts(root: Path, code: str | None = None) -> list[str]:
    return [d.text() for d in validate_project(root).diagnostics
            if code is None or d.code == code]


def test_an_sop_that_agrees_with_its_activity_is_clean_and_the_others_lack_one(tiny):
    set_owner(tiny, "CRM运营")
    write_sop(tiny, SOP)
    # the plan keeps SOPs now: each of the other four activities is told it has none
    assert texts(tiny) == [
        f"plans/activities.yaml:{line}:9: warning[W702]: activity '{a}' has no SOP\n"
        f"  hint: write plans/sop/{a}.yaml (docs/sop.md): the flow in words, design notes "
        "and a checklist, so that the activity survives staff turnover"
        for line, a in ((2, "payment_reminder"), (11, "review_invite"), (19, "cart_recovery"),
                        (26, "active_care"))]


def test_a_plan_without_sops_is_not_told_about_missing_ones(tiny):
    assert texts(tiny) == []


def test_an_owner_that_contradicts_the_activity_is_an_error(tiny):
    set_owner(tiny, "会员运营")
    write_sop(tiny, SOP)
    assert texts(tiny, "E701") == [
        "plans/sop/winback.yaml:3:10: error[E701]: the SOP's owner contradicts activity "
        "'winback' (plans/activities.yaml:39:12: owner '会员运营')\n"
        "  hint: state the owner in one place: remove it from the SOP (its page shows the "
        "activity's) or from the activity, or make them the same"]


def test_whitespace_is_not_a_contradiction(tiny):
    set_owner(tiny, "'CRM运营 '")
    write_sop(tiny, SOP.replace("owner: CRM运营", "owner: \" CRM运营\""))
    assert texts(tiny, "E701") == []


def test_an_owner_stated_only_in_the_sop_is_no_contradiction(tiny):
    write_sop(tiny, SOP)  # the tiny shop's activities name no owner
    assert texts(tiny, "E701") == []


def test_an_sop_of_an_unknown_activity(tiny):
    write_sop(tiny, SOP.replace("activity: winback", "activity: winbak"))
    [d] = [d for d in validate_project(tiny).diagnostics if d.code == "E301"]
    assert d.text() == ("plans/sop/winback.yaml:1:11: error[E301]: unknown activity 'winbak'\n"
                        "  hint: did you mean 'winback'?")


def test_a_key_of_the_old_format_says_where_its_content_went(tiny):
    write_sop(tiny, SOP.replace("  checklist:", "  copy: 好久不见\n  checklist:")
              .replace("id_card:\n", "id_card:\n  timing: daily at 12:10\n")
              + "evolution: []\n")
    assert texts(tiny) == [
        "plans/sop/winback.yaml:3:3: error[E202]: unknown key 'timing'\n"
        "  hint: 'timing' was removed: the timing is drawn from the activity's trigger and "
        "send windows (docs/sop.md, migration)",
        "plans/sop/winback.yaml:8:3: error[E202]: unknown key 'copy'\n"
        "  hint: 'copy' was removed: the message is rendered from the activity's template "
        "(docs/sop.md, migration)",
        "plans/sop/winback.yaml:13:1: error[E202]: unknown key 'evolution'\n"
        "  hint: 'evolution' was removed: revisions come from git history; what they taught "
        "goes in lessons (docs/sop.md, migration)"]


def test_the_example_plan_has_no_sop_error_and_names_every_activity_without_one():
    result = validate_project(ROOT)
    assert result.ok
    with_sop = {s.activity for s in result.plan.sops}
    missing = sorted(d.message for d in result.diagnostics if d.code == "W702")
    assert missing == sorted(f"activity '{a.id}' has no SOP" for a in result.plan.activities
                             if a.id not in with_sop)
    assert {"full_month_gift_sms", "win_back_sms", "repurchase_nudge_45_sms"} <= with_sop
