"""`crmspec plan`: the review of a plan change, on a git repository built by the test.

The base commit is the tiny shop (tests/fixtures/tiny, facts in test_build_tiny) with an
SMS limit of one a week, review thresholds and an SOP for winback. Each case is one kind
of head change in the working tree; its Markdown is compared in full with
tests/golden_review/<case>.md (CRMSPEC_UPDATE_GOLDEN=1 rewrites them: read every diff).

As of 2026-03-01, base: payment_reminder c08 (service); review_invite c02, c12, c13 (paid
3-6 days ago; c12 opted out of SMS, c13 has a 10-digit phone: c02 contacted);
cart_recovery (email) c09, c15; active_care c03, c14, c15, c16 (active, not fans);
winback c04, c05, c06. Nobody gets two SMS, so the weekly SMS limit of one caps nobody.
9 SMS at 0.05 and 2 emails at 0.01: 0.47 CNY.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, commit_all, git

from crmspec.build import build
from crmspec.cli import main
from crmspec.review import review_plan
from crmspec.review.render import render
from crmspec.review.render.markdown import render_markdown

GOLDEN = Path(__file__).parent / "golden_review"
UPDATE = os.environ.get("CRMSPEC_UPDATE_GOLDEN") == "1"

BASE_EDITS = [
    ("plans/shop.yaml", "customers:\n",
     "contact:\n  limits:\n    channels:\n      sms:\n        - {days: 7, max: 1}\n"
     "review:\n  audience_growth: 0.5\n  monthly_cost_increase: 0.1\n"
     "  control_group_required: true\ncustomers:\n"),
    ("plans/sop/winback.yaml", None,
     "activity: winback\nid_card:\n  purpose: Bring lapsed customers back.\n  owner: CRM运营\n"
     "lessons:\n  - date: \"2026-01-10\"\n"
     "    lesson: Lapsed customers were not contacted.\n"),
]
NEW_ACTIVITY = """\
  - id: active_tips
    template: active_care
    name: 老客小贴士
    description: Care tips for returning customers, after the sale and while active.
    kind: maintenance
    stage: [after_sale, active]
    segment: returning_customers
    channel: sms
    trigger: {type: state, cooldown_days: 30}
    send_windows:
      - {days: [sat, sun], start: "10:00", end: "12:00"}
    priority: 200
    owner: CRM运营
    purpose: Keep returning customers using what they bought.
"""
CASES = {
    # active_not_fans now holds after-sale customers too: active_care's audience doubles
    "threshold": ([("plans/segments.yaml", "      stage: active\n      not_in_segment",
                    "      stage: [after_sale, active]\n      not_in_segment")], 3),
    "new_activity": ([("plans/activities.yaml", "  - id: winback\n",
                       NEW_ACTIVITY + "  - id: winback\n")], 2),
    "template_text": ([("plans/templates/winback.sms.j2", "10元", "15元")], 2),
    "limit": ([("plans/shop.yaml", "  limits:\n",
                "  limits:\n    overall:\n      - {days: 7, max: 1}\n")], 2),
    "sop_only": ([("plans/sop/winback.yaml", "    lesson: Lapsed customers were not contacted.\n",
                   "    lesson: Lapsed customers were not contacted.\n"
                   "  - date: \"2026-02-20\"\n"
                   "    lesson: Two SMS segments cost twice, so the copy was shortened.\n")], 2),
    "removed": ([("plans/activities.yaml",
                  "  - id: cart_recovery\n    template: cart_recovery\n    name: 加购召回\n"
                  "    kind: marketing\n    stage: [potential, active]\n"
                  "    segment: carted_30d\n    channel: email\n", "")], 2),
}


def edit(root: Path, rel: str, old: str | None, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8") if old is not None else ""
    assert old is None or old in text, (rel, old)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new if old is None else text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def repo(tmp_path) -> Path:
    """The base commit on branch main; the working tree equal to it."""
    root = tmp_path / "shop"
    shutil.copytree(FIXTURES / "tiny", root)
    for change in BASE_EDITS:
        edit(root, *change)
    (root / ".gitignore").write_text("/out/\n/state/\n", encoding="utf-8")
    commit_all(root, "base", init=True)
    return root


def plan(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["plan", "--project", str(root), *args])
    return result.exit_code, result.output


def normalized(text: str, root: Path) -> str:
    short = git(root, "rev-parse", "--short=7", "HEAD").strip()
    return text.replace(short, "BASE")


@pytest.mark.parametrize("case", sorted(CASES))
def test_markdown_and_exit_code_of_each_kind_of_change(repo, case):
    edits, code = CASES[case]
    for change in edits:
        edit(repo, *change)
    exit_code, out = plan(repo, "--format", "markdown")
    out = normalized(out, repo)
    expected = GOLDEN / f"{case}.md"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        expected.write_text(out, encoding="utf-8", newline="\n")
    assert out == expected.read_text(encoding="utf-8")
    assert exit_code == code


def effects(root: Path) -> dict[str, dict]:
    code, out = plan(root, "--format", "json")
    assert code in (2, 3), out
    return {a["id"]: a for a in json.loads(out)["activities"]}


def test_entered_and_left_worked_out_by_hand(repo):
    """active_not_fans widened to after_sale: c01, c02, c12, c13 enter active_care (all
    after_sale; c02 is vip1, the others have no tier). c12 is opted out of SMS and c13's
    phone is not valid: 2 more contacts. c02 now has two SMS (review_invite, active_care,
    both priority 100): the weekly limit of one keeps active_care (the first id) and caps
    review_invite, which c02 got before."""
    for change in CASES["threshold"][0]:
        edit(repo, *change)
    found = effects(repo)
    care = found["active_care"]["effect"]
    assert (care["base"]["audience"], care["head"]["audience"]) == (4, 8)
    assert (care["entered"], care["left"]) == (4, 0)
    assert care["entered_by"] == {"stage": {"after_sale": 4}, "tier": {"none": 3, "vip1": 1}}
    assert (care["base"]["sent"], care["head"]["sent"]) == (4, 6)
    assert care["head"]["reasons"] == {"invalid_address": 1, "opted_out": 1}
    invite = found["review_invite"]["effect"]
    assert (invite["base"]["sent"], invite["head"]["sent"]) == (1, 0)
    assert invite["capped_out"] == {"channel_limit": 1}
    assert invite["displaced_by"] == {"active_care": 1}
    assert found["review_invite"]["shown_as"] == "affected"
    assert found["winback"]["shown_as"] is None  # unchanged, no effect


def test_a_removed_activity_leaves_its_audience(repo):
    """cart_recovery's audience, c09 (potential, never bought) and c15 (active), both
    without a tier, leave; 2 emails (0.02 CNY) are no longer sent."""
    for change in CASES["removed"][0]:
        edit(repo, *change)
    code, out = plan(repo, "--format", "json")
    data = json.loads(out)
    cart = next(a for a in data["activities"] if a["id"] == "cart_recovery")
    assert cart["status"] == "removed" and cart["effect"]["head"] is None
    assert (cart["effect"]["entered"], cart["effect"]["left"]) == (0, 2)
    assert cart["effect"]["left_by"] == {"stage": {"potential": 1, "active": 1},
                                         "tier": {"none": 2}}
    assert data["totals"]["base"]["contacts"] == {"email": 2, "sms": 9}
    assert data["totals"]["head"]["contacts"] == {"sms": 9}
    assert (data["totals"]["base"]["cost"], data["totals"]["head"]["cost"]) == (0.47, 0.45)


def test_a_new_limit_caps_the_lower_priority_contact(repo):
    """An overall limit of one contact a week: c15 has active_care (SMS) and cart_recovery
    (email), both priority 100; active_care comes first by id, cart_recovery is capped.
    1 of 16 customers is over the overall limit."""
    for change in CASES["limit"][0]:
        edit(repo, *change)
    code, out = plan(repo, "--format", "json")
    data = json.loads(out)
    cart = next(a for a in data["activities"] if a["id"] == "cart_recovery")
    assert cart["status"] == "unchanged" and cart["shown_as"] == "affected"
    assert cart["effect"]["capped_out"] == {"contact_limit": 1}
    assert cart["effect"]["displaced_by"] == {}  # the limit itself, no new contact
    assert data["totals"]["base"]["over_limit"] == {}
    assert data["totals"]["head"]["over_limit"] == {"overall": 1}
    [pw] = data["plan_wide"]
    assert (pw["field"], pw["after"], pw["category"]) == (
        "contact.limits.overall", [{"days": 7, "max": 1}], "audience")
    assert pw["activities"] == ["review_invite", "cart_recovery", "active_care", "winback"]


def test_a_new_activity_takes_the_place_of_a_lower_priority_one(repo):
    """active_tips (priority 200) reaches the returning customers c02 (after_sale, vip1)
    and c11 (active fan, vip4); c02's review_invite (priority 100) is capped by the weekly
    SMS limit of one."""
    for change in CASES["new_activity"][0]:
        edit(repo, *change)
    found = effects(repo)
    tips = found["active_tips"]
    assert tips["status"] == "added" and tips["effect"]["base"] is None
    assert tips["effect"]["entered_by"] == {"stage": {"after_sale": 1, "active": 1},
                                            "tier": {"vip1": 1, "vip4": 1}}
    assert tips["effect"]["head"]["sent"] == 2
    assert found["review_invite"]["effect"]["displaced_by"] == {"active_tips": 1}


def test_no_change_but_comments_exits_0(repo):
    edit(repo, "plans/activities.yaml", "activities:\n", "# the contact plan\nactivities:\n")
    code, out = plan(repo, "--format", "markdown")
    assert code == 0
    assert normalized(out, repo) == (
        "<!-- crmspec:plan-review part=1/1 -->\n### crmspec plan · 小测试店\n\n"
        "**base**: merge base with main (BASE) → **head**: working tree (BASE + uncommitted "
        "changes)\n\n**No changes**: the plans are the same (exit 0).\n")


@pytest.mark.parametrize("edits, expected", [
    # a new marketing activity without a control group
    ([("plans/activities.yaml", "  - id: winback\n",
       "  - id: silent_offer\n    template: winback\n    name: 沉默召回\n    kind: marketing\n"
       "    stage: silent\n    segment: lapsed\n    channel: sms\n  - id: winback\n")],
     ["control_group_required: new marketing activity `silent_offer` has no control group "
      "(holdout)"]),
    # the SMS price raised tenfold: 9 SMS cost 4.50 instead of 0.45
    ([("plans/shop.yaml", "\nchannels:\n  email:",
       "\nchannels:\n  sms: {unit_cost: 0.5}\n  email:")],
     ["monthly_cost_increase: the month's cost to date rises by 4.05 CNY (0.47 → 4.52), "
      "more than 0.10"]),
    # the review's own thresholds
    ([("plans/shop.yaml", "  audience_growth: 0.5\n", "  audience_growth: 5\n")],
     ["review: shop.yaml `review` changed: the thresholds this review is judged by"]),
])
def test_thresholds_crossed_exit_3(repo, edits, expected):
    for change in edits:
        edit(repo, *change)
    code, out = plan(repo, "--format", "json")
    data = json.loads(out)
    assert code == 3 and data["exit_code"] == 3
    assert [f"{c['threshold']}: {c['message']}" for c in data["crossings"]] == expected


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and ".git/" not in p.as_posix()}


def test_the_review_writes_nothing_into_the_project(repo, tmp_path):
    """After a build (out/ and the ledger exist), a review with a change: every file of
    the project keeps its bytes and time, no file appears, git sees nothing new; --out
    writes only there."""
    build(repo)
    for change in CASES["threshold"][0]:
        edit(repo, *change)
    before, status = _snapshot(repo), git(repo, "status", "--porcelain", "--ignored")
    assert "out/manifest.json" in before and "state/ledger.duckdb" in before
    out = tmp_path / "review"
    code, _ = plan(repo, "--out", str(out))
    assert code == 3
    assert _snapshot(repo) == before
    assert git(repo, "status", "--porcelain", "--ignored") == status
    assert sorted(p.name for p in out.iterdir()) == ["comment-1.md", "review.json",
                                                     "review.txt"]


def test_the_ledger_state_is_shared_and_read(repo):
    """After a build as of 2026-03-01 the ledger holds a run; the review of the same date
    replaces nothing and reads it (one run)."""
    build(repo)
    for change in CASES["template_text"][0]:
        edit(repo, *change)
    code, out = plan(repo, "--format", "json")
    data = json.loads(out)
    assert (data["effect"]["ledger_runs"], data["effect"]["latest_run"]) == (1, "2026-03-01")


def test_without_the_data_only_the_structure_with_the_manifest_counts(repo, tmp_path):
    build(repo)
    manifest = tmp_path / "manifest.json"
    shutil.move(repo / "out" / "manifest.json", manifest)
    shutil.rmtree(repo / "data")
    for change in CASES["threshold"][0]:
        edit(repo, *change)
    code, out = plan(repo, "--manifest", str(manifest), "--format", "json")
    data = json.loads(out)
    assert code == 2  # audience growth cannot be judged without the data
    assert data["structural"] == "data folder data not found"
    assert data["unjudged"] == ["audience_growth: needs the shop's data",
                                "monthly_cost_increase: needs the shop's data"]
    care = next(a for a in data["manifest"]["activities"] if a["id"] == "active_care")
    assert (care["eligible"], care["sent"]) == (4, 4)
    code, text = plan(repo, "--manifest", str(manifest))
    assert "Structural review only: the shop's data is not here (data folder data not " \
           "found)" in text
    assert "latest build: audience 4, contacted 4, held out 0, cost 0.20 CNY" in text


def test_the_default_base_is_the_merge_base_with_the_default_branch(repo):
    """A feature branch whose commit edits the template; main moves on after it
    branched. The default base is where the branch left main, --base names another."""
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "feature")
    edit(repo, *CASES["template_text"][0][0])
    commit_all(repo, "feature: copy")
    git(repo, "checkout", "-q", "main")
    edit(repo, *CASES["sop_only"][0][0])
    later = commit_all(repo, "main: sop")
    git(repo, "checkout", "-q", "feature")
    review = review_plan(repo)
    assert review.base.commit == base
    assert review.base.label == f"merge base with main ({base[:7]})"
    assert [a.id for a in review.changes.activities if a.status != "unchanged"] == ["winback"]
    assert {f.entry for a in review.changes.activities for f in a.fields} == set()  # text only
    against_main = review_plan(repo, base="main")
    assert against_main.base.commit == later
    winback = next(a for a in against_main.changes.activities if a.id == "winback")
    assert {f.entry for f in winback.fields} == {"SOP"} and winback.texts


def test_markdown_is_split_into_parts_under_the_limit_with_markers(repo):
    for change in CASES["threshold"][0] + CASES["new_activity"][0]:
        edit(repo, *change)
    review = review_plan(repo)
    assert len(render_markdown(review)) == 1  # 4 KB: one comment
    parts = render_markdown(review, limit=2000)
    assert len(parts) == 4  # the summary, then one activity each
    for i, part in enumerate(parts, 1):
        assert part.startswith(f"<!-- crmspec:plan-review part={i}/4 -->\n")
        assert len(part.encode("utf-8")) <= 2000
        assert part.count("<details>") == part.count("</details>") == (0 if i == 1 else 1)
        assert (i == 1) == ("### crmspec plan" in part)
        assert (i > 1) == (f"*crmspec plan, continued: part {i} of 4*" in part)
    whole = "\n".join(parts)
    for aid in ("active_care", "active_tips", "review_invite"):
        assert whole.count(f"<summary><code>{aid}</code>") == 1
    assert render(review, "markdown") == "\n".join(render_markdown(review))
    # a block too big for a part of its own is cut at a line, still closed
    small = render_markdown(review, limit=1500)
    assert all(len(p.encode("utf-8")) <= 1500 for p in small)
    cut_one = [p for p in small if "… cut: too long for one comment" in p]
    assert len(cut_one) == 1 and cut_one[0].endswith("</details>\n")


def test_long_lists_are_cut_at_ten_with_the_total(repo):
    """The new activity has 12 fields besides its id: ten are listed, then the total."""
    for change in CASES["new_activity"][0]:
        edit(repo, *change)
    code, out = plan(repo, "--format", "markdown")
    assert "- … and 2 more (12 in all)" in out
    code, data = plan(repo, "--format", "json")
    tips = next(a for a in json.loads(data)["activities"] if a["id"] == "active_tips")
    assert len(tips["fields"]) == 12  # JSON is never cut


def test_the_next_days_of_builds_worked_out_by_hand(repo, tmp_path):
    """--days 10 with the new activity, no new orders, one build a day from 03-01 to
    03-10, every build recorded in a scratch ledger per plan (the SMS limit: one in any 7
    days). Base SMS: payment_reminder c08 once (service, the unpaid order of 03-01);
    review_invite c02 (03-01) and c01 (03-04, paid 03-01: days 3-6, once); active_care
    every 7 days while active and not capped: c03, c14, c15, c16 on 03-01 and 03-08, c02
    on 03-08 (its review_invite of 03-01 blocks it until then), c12 opted out, c13 an
    invalid phone, c01 blocked by its review_invite of 03-04 until 03-11; winback c04,
    c05, c06 on 03-01 and 03-08: 1 + 2 + 9 + 6 = 18. Email: cart_recovery to c09 and c15
    every day (no cooldown, no email limit): 20. Head: active_tips (priority 200,
    cooldown 30) reaches c02 and c11 on 03-01 and caps c02's review_invite: 19 SMS.
    Contacts per customer (service not counted): base 0 for c07, c08, c10, c11, c12,
    c13; 1 for c01; 2 for c02-c06, c14, c16; 12 and 10 for c15 and c09; head moves c11
    to 1."""
    for change in CASES["new_activity"][0]:
        edit(repo, *change)
    code, _ = plan(repo, "--days", "10", "--out", str(tmp_path / "review"))
    assert code == 2
    days = json.loads((tmp_path / "review/review.json").read_text("utf-8"))["effect"]["days"]
    assert (days["first"], days["last"]) == ("2026-03-01", "2026-03-10")
    assert days["base"]["contacts"] == {"email": 20, "sms": 18}
    assert days["head"]["contacts"] == {"email": 20, "sms": 19}
    assert (days["base"]["cost"], days["head"]["cost"]) == (1.10, 1.15)
    assert days["base"]["per_customer"] == {"0": 6, "1": 1, "2": 7, "10+": 2}
    assert days["head"]["per_customer"] == {"0": 5, "1": 2, "2": 7, "10+": 2}
    text = (tmp_path / "review/comment-1.md").read_text("utf-8")
    assert "#### The next 10 days of builds (2026-03-01 to 2026-03-10), assuming no new " \
           "orders" in text
    assert "| customers with 10+ contacts | 2 | 2 | 0 |" in text


def test_the_next_days_show_the_stage_bounds(repo):
    """The silent stage allows one contact: c04 (silent from 03-01, day 45) gets winback on
    03-01; on 03-08 the SMS limit would allow another, the stage's bound caps it. On
    03-10 c04 is the one silent customer, with one contact: not below the minimum."""
    edit(repo, "plans/lifecycle.yaml", "from_days: 45, to_days: 90}",
         "from_days: 45, to_days: 90, contacts: {min: 1, max: 1}}")
    commit_all(repo, "silent: one contact")
    for change in CASES["new_activity"][0]:
        edit(repo, *change)
    review = review_plan(repo, days=10)
    days = json.loads(render(review, "json"))["effect"]["days"]
    assert days["base"]["contacts"] == {"email": 20, "sms": 17}
    assert days["head"]["stages"] == {"silent": {"min": 1, "max": 1, "customers": 1,
                                                 "below_min": 0, "most_contacts": 1}}
    assert "| silent | 1-1 | 1 | 0 → 0 | 1 → 1 |" in render(review, "markdown")


def test_a_base_that_cannot_be_read_is_an_error(repo):
    assert plan(repo, "--base", "nope") == (1, (
        "plans:1:1: error[E801]: 'nope' is not a commit of this repository\n"
        "  hint: pass a branch, tag or commit; in CI fetch it first (actions/checkout with "
        "fetch-depth: 0)\n1 error(s), 0 warning(s)\n"))
    tree = git(repo, "mktree").strip()  # a commit of nothing: no plans/ yet
    empty = git(repo, "commit-tree", tree, "-m", "no plan yet").strip()
    git(repo, "branch", "empty", empty)
    code, out = plan(repo, "--base", "empty")
    assert (code, out.splitlines()[0]) == (1, f"plans:1:1: error[E801]: empty ({empty[:7]}) "
                                              "has no plans/ folder: there is no plan to "
                                              "compare with")


def test_usage_and_internal_errors_exit_1_not_2_or_3(repo, monkeypatch):
    """2 and 3 mean changes and an approval needed: no error may look like them in CI."""
    assert plan(repo, "--as-of", "yesterday")[0] == 1
    assert plan(repo, "--format", "html")[0] == 1

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("crmspec.review.review_plan", broken)
    code, out = plan(repo)
    assert code == 1 and "crmspec: internal error: RuntimeError: a bug" in out
