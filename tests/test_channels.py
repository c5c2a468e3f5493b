"""The built-in channels: every writer's output against golden files, and the data each
channel declares (windows, costs, limits).

The golden files in tests/golden_channels/ come from the channels fixture
(tests/fixtures/channels: the tiny shop's customers with openids and awkward names,
one templated activity per built-in channel) as of 2026-03-01. Regenerate after an
intended change with

    CRMSPEC_UPDATE_GOLDEN=1 pytest tests/test_channels.py

and read the diff: the expected rows were checked by hand (see the comments below).
"""

import csv
import hashlib
import json
import os
from datetime import date, datetime
from pathlib import Path

import pytest
from shop_edits import edit

from crmspec.build import build
from crmspec.channels import builtin_channels
from crmspec.contact.schedule import first_slot, windows_for
from crmspec.plugins import get_plugin_manager

GOLDEN = Path(__file__).parent / "golden_channels"
UPDATE = os.environ.get("CRMSPEC_UPDATE_GOLDEN") == "1"


@pytest.fixture
def built(channels_shop):
    return build(channels_shop, pm=get_plugin_manager(channels_shop, entry_points=False))


def channel_files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.is_file() and p.parts[len(out.parts)] not in ("audience",)
                  and p.name != "manifest.json")


def test_every_writer_matches_its_golden_file(built):
    out = built.out_dir
    files = channel_files(out)
    if UPDATE:
        for f in files:
            (GOLDEN / f).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / f).write_bytes((out / f).read_bytes())
    golden = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*")
                    if p.is_file() and p.name != "activities.json")
    assert files == golden
    for f in files:
        assert (out / f).read_bytes() == (GOLDEN / f).read_bytes(), f


def test_every_builtin_channel_has_a_golden_file():
    covered = {p.parent.name for p in GOLDEN.rglob("*") if p.parent != GOLDEN}
    assert covered == set(builtin_channels())


def test_manifest_records_files_renderings_and_cost(built):
    entries = [{k: a[k] for k in ("id", "channel", "sent", "files", "template", "message",
                                  "cost", "not_written")}
               for a in built.manifest["activities"]]
    if UPDATE:
        (GOLDEN / "activities.json").write_text(
            json.dumps(entries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert entries == json.loads((GOLDEN / "activities.json").read_text(encoding="utf-8"))


def test_hand_checked_rows(built):
    """A few rows worked out by hand from the fixture, independent of the golden files."""
    out = built.out_dir
    sms = (out / "sms/winback.csv").read_text(encoding="utf-8").splitlines()
    # c05: O'Brien, vip2 (高级会员, discount 0.9 -> 9折), 90 days; marketing, opt-out;
    # 2026-03-01 is a Sunday: marketing SMS wait for Monday 10:00
    assert sms[2] == ("13800000005,【小测试店】好久不见，O'Brien！高级会员9折特权等你回来，"
                      "已90天未见 回T退订,2026-03-02 10:00,1")
    email = (out / "email/cart_recovery.csv").read_text(encoding="utf-8")
    # sina.com is in shop.yaml's ad_domains: (AD); the name is HTML-escaped in html only
    assert email.startswith('email,subject,html,text,preheader,send_at,unsubscribe_url\n'
                            'c09@sina.com,"(AD)<李>&""四""，')
    # 2026-03-01 is a Sunday: email goes out on Tuesday morning (Tue-Thu 08:00-10:00)
    assert ",2026-03-03 08:00," in email
    assert "&lt;李&gt;&amp;&#34;四&#34;" in email
    assert 'c15@qq.com,"王,五，您加购的宝贝库存不多了"' in email
    # each recipient's unsubscribe link: the token is sha256("<contact.salt>:<customer>"),
    # the salt defaulting to the shop's name; HTML-escaped in the html body only
    for cid in ("c09", "c15"):
        token = hashlib.sha256(f"小测试店:{cid}".encode()).hexdigest()[:32]
        url = f"https://shop.example.com/u/{token}?src=edm&v=1"
        assert f'<p><a href=""{url.replace("&", "&amp;")}"">退订</a></p>' in email
        assert f'\n\n退订 / Unsubscribe: {url}"' in email  # added to the text body
        assert email.count(url) == 2  # text body and the unsubscribe_url column
    phone = (out / "phone/vip_call.csv").read_bytes().decode("utf-8-sig").splitlines()
    # a state trigger: no order; Monday 03-02 is the first working day: both windows
    assert phone[0] == "customer_id,name,phone,order_ids,order_amount,call_date,call_hours,script"
    assert phone[1].startswith('c05,O\'Brien,13800000005,,,2026-03-02,"10:00-12:00, '
                               '14:00-18:00",您好，请问是O\'Brien吗？')
    chat = (out / "wangwang/payment_reminder.csv").read_bytes().decode("utf-8-sig")
    # c08's unpaid order o09 of 199.00, today (service hours every day 09:00-22:00)
    assert chat.splitlines()[1].endswith(",2026-03-01 09:00,09:00-22:00,o09,199.00")
    parcel = (out / "parcel/parcel_card.csv").read_text(encoding="utf-8").splitlines()
    # orders paid 0-7 days before 03-01 of the after-sale customers: o01, o03, o15, o16
    assert [line.split(",")[0] for line in parcel[1:]] == ["o01", "o03", "o15", "o16"]
    wechat = [json.loads(line) for line in
              (out / "wechat/shipping_notice.jsonl").read_text(encoding="utf-8").splitlines()]
    # c13 has no openid (no_address), c03's openid is malformed but c03 is not after-sale
    assert [w["touser"][-2:] for w in wechat] == ["01", "02", "12"]
    assert wechat[1]["data"]["remark"] == {"value": "普通会员专享顺丰包邮"}
    assert {w["send_at"] for w in wechat} == {"2026-03-01 09:00"}  # every day from 09:00
    assert built.manifest["activities"][2]["suppressed"] == {"no_address": 1}


BOM = b"\xef\xbb\xbf"


def test_staff_lists_start_with_a_bom_and_provider_imports_do_not(built):
    """Excel on Chinese Windows reads a CSV without a byte order mark as GBK: the lists
    people open (packing, call and chat lists) carry one, the gateways' imports do not."""
    out = built.out_dir
    starts = {f: (out / f).read_bytes()[:3] == BOM for f in channel_files(out)
              if f.endswith(".csv")}
    assert starts == {"email/cart_recovery.csv": False, "parcel/parcel_card.csv": True,
                      "phone/vip_call.csv": True, "sms/active_care.csv": False,
                      "sms/review_invite.csv": False, "sms/winback.csv": False,
                      "wangwang/payment_reminder.csv": True}
    assert not (out / "wechat/shipping_notice.jsonl").read_bytes().startswith(BOM)


def test_the_bom_option_turns_either_way(channels_shop):
    """shop.yaml channels.<name>.bom: off for the call list, on for an SMS import."""
    shop = channels_shop / "plans/shop.yaml"
    shop.write_text(shop.read_text(encoding="utf-8")
                    + "  phone: {bom: false}\n  sms: {bom: true}\n", encoding="utf-8")
    out = build(channels_shop, pm=get_plugin_manager(channels_shop, entry_points=False)).out_dir
    assert (out / "phone/vip_call.csv").read_bytes().startswith(b"customer_id,")
    assert (out / "sms/winback.csv").read_bytes().startswith(BOM + b"phone,")
    assert (out / "parcel/parcel_card.csv").read_bytes().startswith(BOM)  # unchanged


def _subjects(out: Path) -> dict[str, str]:
    import csv

    with open(out / "email/cart_recovery.csv", encoding="utf-8", newline="") as f:
        return {r["email"]: r["subject"] for r in csv.DictReader(f)}


def test_ad_marks_marketing_email_to_every_domain_by_default(tiny):
    """The tiny shop sets no ad_domains: every marketing subject gets (AD), qq.com too."""
    out = build(tiny).out_dir
    assert _subjects(out) == {"c09@sina.com": "(AD)亲，您加购的宝贝库存不多了",
                              "c15@qq.com": "(AD)亲，您加购的宝贝库存不多了"}


def test_maintenance_email_is_never_marked_and_needs_no_unsubscribe_line(tiny):
    """The same email as a maintenance activity (a care message): no (AD) even to sina.com
    with sina.com listed, no unsubscribe text added to its text body."""
    acts = tiny / "plans/activities.yaml"
    text = acts.read_text(encoding="utf-8")
    old = "    name: 加购召回\n    kind: marketing\n"
    assert old in text
    acts.write_text(text.replace(old, "    name: 加购召回\n    kind: maintenance\n"),
                    encoding="utf-8")
    shop = tiny / "plans/shop.yaml"
    shop.write_text(shop.read_text(encoding="utf-8") + "    ad_domains: [sina.com]\n",
                    encoding="utf-8")
    out = build(tiny).out_dir
    assert _subjects(out) == {"c09@sina.com": "亲，您加购的宝贝库存不多了",
                              "c15@qq.com": "亲，您加购的宝贝库存不多了"}
    assert "Unsubscribe" not in (out / "email/cart_recovery.csv").read_text(encoding="utf-8")


def test_builds_are_byte_identical(channels_shop, tmp_path):
    pm = get_plugin_manager(channels_shop, entry_points=False)
    a = build(channels_shop, out=tmp_path / "a", pm=pm).out_dir
    b = build(channels_shop, out=tmp_path / "b", pm=pm).out_dir
    for f in sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file()):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_dry_run_renders_and_costs_but_writes_nothing(channels_shop):
    r = build(channels_shop, dry_run=True,
              pm=get_plugin_manager(channels_shop, entry_points=False))
    assert r.out_dir is None and not (channels_shop / "out").exists()
    winback = next(a for a in r.manifest["activities"] if a["id"] == "winback")
    assert winback["files"] == [] and winback["cost"]["units"] == 3


def winback_lengths(shop: Path, lengths: dict[int, int]) -> list[tuple[int, str]]:
    """Build with winback's SMS (c04: 45 days, c05: 90, c06: 140) rendered to `lengths`
    characters, {days: total}; the (length, segments) of each row of the SMS file.

    The content is 【小测试店】 (6) + the text + " 回T退订" (5): the template gives each
    customer a text of total - 11 characters."""
    branches = "".join(f"{{% {'if' if i == 0 else 'elif'} days_since_last_purchase == {d} %}}"
                       f"{'好' * (n - 11)}" for i, (d, n) in enumerate(lengths.items()))
    (shop / "plans/templates/winback.sms.j2").write_text(branches + "{% endif %}\n",
                                                          encoding="utf-8")
    edit(shop, "activities.yaml", "    segment: lapsed\n",
         "    segment: lapsed\n    channel_options: {max_segments: 4}\n")
    out = build(shop, pm=get_plugin_manager(shop, entry_points=False)).out_dir
    with open(out / "sms/winback.csv", newline="", encoding="utf-8") as f:
        return [(len(r["content"]), r["segments"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize("lengths, expected", [
    ({45: 70, 90: 71, 140: 134}, [(70, "1"), (71, "2"), (134, "2")]),
    ({45: 135, 90: 201, 140: 202}, [(135, "3"), (201, "3"), (202, "4")]),
])
def test_sms_segments_are_70_for_one_then_67_each(tiny, lengths, expected):
    """SMS cost rule, in the SQL the writer and the budgets use: up to 70 characters is
    one segment, a longer message is ceil(length / 67) segments."""
    assert winback_lengths(tiny, lengths) == expected


def test_sms_cost_counts_segments_in_sql(channels_shop):
    tpl = channels_shop / "plans/templates/winback.sms.j2"
    tpl.write_text("好久不见" + "。" * 60 + "{{ customer.nick }}\n", encoding="utf-8")
    r = build(channels_shop, pm=get_plugin_manager(channels_shop, entry_points=False))
    rows = (r.out_dir / "sms/winback.csv").read_text(encoding="utf-8").splitlines()[1:]
    # 【小测试店】 (6) + 64 + nick (6) + " 回T退订" (5) = 81 characters: 2 segments
    assert [row.rsplit(",", 1)[1] for row in rows] == ["2", "2", "2"]
    winback = next(a for a in r.manifest["activities"] if a["id"] == "winback")
    assert winback["cost"] == {"unit": "segment", "units": 6, "unit_price": 0.05,
                               "total": 0.3, "currency": "CNY"}


def test_declared_windows_costs_and_fields():
    ch = builtin_channels()
    assert {n: (c.contact_field, c.cost.unit, c.cost.price) for n, c in ch.items()} == {
        "sms": ("phone", "segment", 0.05), "email": ("email", "message", 0.01),
        "wechat": ("wechat_openid", "message", 0.0), "wangwang": ("nick", "message", 0.0),
        "parcel": ("customer_id", "unit", 0.0), "phone": ("phone", "call", 0.0)}
    sms = ch["sms"]
    # 2026-07-01 is a Wednesday: marketing SMS from 10:00, care SMS from 08:00
    assert first_slot(date(2026, 7, 1), windows_for("marketing", sms.windows)) == datetime(
        2026, 7, 1, 10, 0)
    assert first_slot(date(2026, 7, 1), windows_for("maintenance", sms.windows)) == datetime(
        2026, 7, 1, 8, 0)
    assert all(w.days == (1, 2, 3, 4, 5) for w in sms.windows)
    email = ch["email"].first_window("marketing")
    assert (email.days, email.start, email.end) == ((2, 3, 4), "08:00", "10:00")
    assert ch["parcel"].windows == ()


def test_activity_options_override_shop_defaults_which_override_channel_defaults(channels_shop):
    from crmspec.plan.model import channel_options
    from crmspec.validate import validate_project

    v = validate_project(channels_shop, get_plugin_manager(channels_shop, entry_points=False))
    email = v.channels["email"]
    cart = next(a for a in v.plan.activities if a.id == "cart_recovery")
    opts = channel_options(v.plan, cart, email.option_defaults())
    assert opts["ad_domains"] == ["163.com", "sina.com"]  # shop.yaml
    assert opts["ad_marker"] == "(AD)"  # channel default
    assert opts["preheader"].startswith("{{ customer.name")  # the activity


def test_channels_without_what_they_need_write_only_the_audience(channels_shop):
    acts = channels_shop / "plans/activities.yaml"
    text = acts.read_text(encoding="utf-8")
    text = text.replace("      template_id: TM00001-shipping\n", "")
    text = text.replace("    template: winback\n", "")
    acts.write_text(text, encoding="utf-8")
    (channels_shop / "plans/templates/winback.sms.j2").unlink()
    r = build(channels_shop, pm=get_plugin_manager(channels_shop, entry_points=False))
    by_id = {a["id"]: a for a in r.manifest["activities"]}
    assert by_id["shipping_notice"]["files"] == ["audience/shipping_notice.csv"]
    assert by_id["shipping_notice"]["not_written"] == "channel_options.template_id is not set"
    assert by_id["winback"]["not_written"] == \
        "the activity has no template (add `template: <name>`)"
    assert sorted(w.text().splitlines()[0] for w in r.warnings if w.code == "W518") == [
        "plans/activities.yaml:25:14: warning[W518]: activity 'shipping_notice': no wechat "
        "send file written: channel_options.template_id is not set",
        "plans/activities.yaml:60:14: warning[W518]: activity 'winback': no sms send file "
        "written: the activity has no template (add `template: <name>`)",
    ]


def validate_lines(shop: Path) -> list[str]:
    from click.testing import CliRunner

    from crmspec.cli import main

    result = CliRunner().invoke(main, ["validate", "--project", str(shop)])
    return [line for line in result.output.splitlines() if "error[" in line]


@pytest.mark.parametrize("max_segments, text, expected", [
    (1, 59, []),
    (1, 60, ["plans/templates/winback.sms.j2:1:1: error[E514]: the sms text of activity "
             "'winback' can be 71 characters long, over the limit of 70 (1 SMS segment "
             "(max_segments))"]),
    (2, 123, []),
    (2, 124, ["plans/templates/winback.sms.j2:1:1: error[E514]: the sms text of activity "
              "'winback' can be 135 characters long, over the limit of 134 (2 SMS segments "
              "(max_segments))"]),
])
def test_sms_length_limit_is_70_for_one_segment_then_67_each(tiny, max_segments, text,
                                                             expected):
    """SMS limit rule (validate): the finished text, 【小测试店】 (6) + text + " 回T退订"
    (5), may be 70 characters at max_segments 1 and 67 x n at n."""
    (tiny / "plans/templates/winback.sms.j2").write_text("好" * text + "\n", encoding="utf-8")
    edit(tiny, "activities.yaml", "    segment: lapsed\n",
         f"    segment: lapsed\n    channel_options: {{max_segments: {max_segments}}}\n")
    assert validate_lines(tiny) == expected


@pytest.mark.parametrize("ad_domains, subject, expected", [
    ("[sina.com]", 56, []),
    ("[sina.com]", 57, ["plans/templates/cart_recovery.email.subject.j2:1:1: error[E514]: the "
                        "email subject of activity 'cart_recovery' can be 61 characters long, "
                        "over the limit of 60"]),
    ("[]", 60, []),
    ("[]", 61, ["plans/templates/cart_recovery.email.subject.j2:1:1: error[E514]: the email "
                "subject of activity 'cart_recovery' can be 61 characters long, over the "
                "limit of 60"]),
])
def test_email_subject_limit_counts_the_ad_marker_when_ad_domains_are_set(tiny, ad_domains,
                                                                         subject, expected):
    """Email limit rule: a subject has 60 characters, "(AD)" (4) included when the
    activity may send to ad_domains."""
    (tiny / "plans/templates/cart_recovery.email.subject.j2").write_text(
        "好" * subject + "\n", encoding="utf-8")
    edit(tiny, "activities.yaml", "    segment: carted_30d\n",
         f"    segment: carted_30d\n    channel_options: {{ad_domains: {ad_domains}}}\n")
    assert validate_lines(tiny) == expected


def test_ad_marker_goes_to_listed_domains_only_case_blind(tiny):
    """(AD) rule, per recipient in SQL: c09@sina.com is listed (as SINA.com), c15@qq.com
    is not; a subject that already starts with the marker gets no second one."""
    edit(tiny, "activities.yaml", "    segment: carted_30d\n",
         "    segment: carted_30d\n    channel_options: {ad_domains: [sina.com, 163.com]}\n")
    customers = tiny / "data/customers.csv"
    customers.write_text(customers.read_text(encoding="utf-8").replace(
        "c09@sina.com", "c09@SINA.com"), encoding="utf-8")
    out = build(tiny, pm=get_plugin_manager(tiny, entry_points=False)).out_dir
    with open(out / "email/cart_recovery.csv", newline="", encoding="utf-8") as f:
        assert [(r["email"], r["subject"]) for r in csv.DictReader(f)] == [
            ("c09@SINA.com", "(AD)亲，您加购的宝贝库存不多了"),
            ("c15@qq.com", "亲，您加购的宝贝库存不多了")]
    (tiny / "plans/templates/cart_recovery.email.subject.j2").write_text(
        "(AD)亲，上新了\n", encoding="utf-8")
    out = build(tiny, pm=get_plugin_manager(tiny, entry_points=False)).out_dir
    with open(out / "email/cart_recovery.csv", newline="", encoding="utf-8") as f:
        assert [r["subject"] for r in csv.DictReader(f)] == ["(AD)亲，上新了", "(AD)亲，上新了"]
