"""Message templates: located validate errors, the analysis behind set-based rendering,
and set-based rendering == rendering each customer with Jinja (the reference)."""

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmspec.channels import builtin_channels
from crmspec.channels.base import value_marker
from crmspec.cli import main
from crmspec.compile.facts import with_customers
from crmspec.engine.decide import decide_contacts
from crmspec.engine.run import run_plan
from crmspec.engine.session import prepare
from crmspec.plugins import get_plugin_manager
from crmspec.templates import (
    ActivityTemplates,
    RenderPlan,
    TemplateEnvironment,
    analyse,
    create_rows,
    zhe,
)
from crmspec.templates.checking import template_context
from crmspec.templates.loading import LoadedPart, Source
from crmspec.templates.rendering import MARK_CLOSE, MARK_OPEN, create_send_values
from crmspec.templates.variables import PER_CUSTOMER
from crmspec.validate import validate_project


def validate(root):
    return validate_project(root, get_plugin_manager(root, entry_points=False))


def texts(root):
    return [d.text() for d in validate(root).diagnostics]


def write(root, name, text):
    (root / "plans/templates" / name).write_text(text, encoding="utf-8")


def edit(root, file, old, new):
    p = root / "plans" / file
    text = p.read_text(encoding="utf-8")
    assert old in text, old
    p.write_text(text.replace(old, new), encoding="utf-8")


# --- validate: every problem at the template's line --------------------------------


def test_the_channels_fixture_is_valid(channels_shop):
    assert texts(channels_shop) == []


def test_undefined_variable_and_field_in_every_branch(channels_shop):
    write(channels_shop, "winback.sms.j2",
          "好久不见\n{% if tier.id %}\n{{ tier.nmae }}\n{% else %}\n{{ custmer.name }}\n"
          "{% endif %}\n")
    assert texts(channels_shop) == [
        "plans/templates/winback.sms.j2:3:4: error[E513]: 'tier' has no field 'nmae'\n"
        "  hint: did you mean 'tier.name'?",
        "plans/templates/winback.sms.j2:5:4: error[E513]: undefined variable 'custmer'\n"
        "  hint: did you mean 'customer'?",
    ]


def test_marketing_email_needs_an_unsubscribe_link(channels_shop):
    """The boundary on each side: the fixture's marketing email prints the link (valid);
    without it, E521 at the HTML template; as a maintenance email it needs none; the
    variable belongs to the email channel (an SMS template cannot print it)."""
    html = "<p>{{ customer.name or '亲' }}，您的购物车还在等你</p>\n"
    write(channels_shop, "cart_recovery.email.html.j2", html)
    assert texts(channels_shop) == [
        "plans/templates/cart_recovery.email.html.j2:1:1: error[E521]: the HTML body of "
        "marketing email activity 'cart_recovery' has no unsubscribe link\n"
        "  hint: print it where readers look for it, e.g. <a href=\"{{ unsubscribe_url }}\">"
        "退订</a> in the footer"]
    edit(channels_shop, "activities.yaml", "    name: 加购召回\n    kind: marketing\n",
         "    name: 加购召回\n    kind: maintenance\n")
    assert texts(channels_shop) == []
    write(channels_shop, "winback.sms.j2", "退订 {{ unsubscribe_url }}\n")
    assert texts(channels_shop) == [
        "plans/templates/winback.sms.j2:1:7: error[E513]: undefined variable "
        "'unsubscribe_url'\n  hint: see the template variables in docs/plugins.md"]


def test_syntax_error(channels_shop):
    write(channels_shop, "active_care.sms.j2", "你好\n{% if customer.name %}\n亲\n")
    assert texts(channels_shop) == [
        "plans/templates/active_care.sms.j2:3:1: error[E512]: template syntax error: "
        "Unexpected end of template. Jinja was looking for the following tags: 'elif' or "
        "'else' or 'endif'. The innermost block that needs to be closed is 'if'."]


def test_sms_longer_than_max_segments_for_the_longest_plausible_values(channels_shop):
    # 【小测试店】 6 + "亲爱的" 3 + nick 20 + 101 + " 回T退订" 5 = 135 > 134 (2 segments)
    write(channels_shop, "winback.sms.j2", "亲爱的{{ customer.nick }}" + "好" * 101 + "\n")
    assert texts(channels_shop) == [
        "plans/templates/winback.sms.j2:1:1: error[E514]: the sms text of activity 'winback' "
        "can be 135 characters long, over the limit of 134 (2 SMS segments (max_segments))\n"
        "  hint: longest plausible values, stage=potential, customer_type=potential, tier=none; "
        "see "
        "docs/plugins.md for them"]
    edit(channels_shop, "activities.yaml", "    template: winback\n",
         "    template: winback\n    channel_options: {max_segments: 3}\n")
    assert texts(channels_shop) == []


def test_a_long_branch_is_found_through_the_samples(channels_shop):
    # only fans get the long text: the sample for stage x type x tier finds it
    write(channels_shop, "active_care.sms.j2",
          "{% if customer_type == 'fans' %}" + "长" * 150 + "{% else %}短{% endif %}\n")
    [d] = validate(channels_shop).diagnostics
    assert d.code == "E514" and "can be 161 characters long" in d.message
    assert "customer_type=fans" in d.hint


def test_render_error_names_the_values(channels_shop):
    write(channels_shop, "active_care.sms.j2", "你好\n还有{{ 30 - days_since_last_purchase }}天\n")
    assert texts(channels_shop) == [
        "plans/templates/active_care.sms.j2:2:1: error[E515]: the template fails to render "
        "for activity 'active_care' (stage=potential, customer_type=potential, tier=none): "
        "TypeError: "
        "unsupported operand type(s) for -: 'int' and 'NoneType'"]


def test_coupon_fields_must_be_set_on_the_activity(channels_shop):
    write(channels_shop, "active_care.sms.j2", "送你{{ coupon.amount }}元券\n")
    write(channels_shop, "review_invite.sms.j2", "好评送{{ coupon.code }}\n")
    assert texts(channels_shop) == [
        "plans/templates/active_care.sms.j2:1:6: error[E513]: 'coupon.amount' is undefined: "
        "activity 'active_care' has no coupon\n  hint: set it in the activity's coupon:",
        "plans/templates/review_invite.sms.j2:1:7: error[E513]: 'coupon.code' is undefined: "
        "activity 'review_invite' has a coupon without code\n"
        "  hint: set it in the activity's coupon:",
    ]


def test_assigning_a_variable_name_and_including_are_refused(channels_shop):
    write(channels_shop, "active_care.sms.j2",
          "{% set spend = 1 %}{{ spend }}\n{% include 'winback.sms.j2' %}\n")
    assert texts(channels_shop) == [
        "plans/templates/active_care.sms.j2:1:1: error[E517]: the template assigns 'spend', "
        "the name of a template variable\n  hint: use another name",
        "plans/templates/active_care.sms.j2:2:1: error[E512]: templates cannot include, "
        "extend or import other templates\n  hint: copy the shared text into the template",
    ]


def test_missing_unknown_part_and_unused_files(channels_shop):
    edit(channels_shop, "activities.yaml", "template: active_care", "template: active_cares")
    write(channels_shop, "winback.sms.subject.j2", "x\n")
    write(channels_shop, "notes.txt.j2", "x\n")
    assert texts(channels_shop) == [
        "plans/activities.yaml:55:15: error[E511]: template 'active_cares' has no file for "
        "channel 'sms'\n  hint: expected plans/templates/active_cares.sms.j2",
        "plans/templates/active_care.sms.j2:1:1: warning[W519]: template file not used by "
        "any activity (no activity on channel 'sms' says template: active_care)",
        "plans/templates/notes.txt.j2:1:1: warning[W519]: template file not used by any "
        "activity (no activity on channel 'txt' says template: notes)",
        "plans/templates/winback.sms.subject.j2:1:1: error[E516]: channel 'sms' has no "
        "message part 'subject'\n  hint: its parts: text",
    ]


def test_an_inline_option_template_is_located_in_the_yaml(channels_shop):
    edit(channels_shop, "activities.yaml",
         "preheader: \"{{ customer.name or '亲' }}，购物车里的宝贝还在等你\"",
         "preheader: \"{{ customer.nme }}，购物车里的宝贝还在等你\"")
    assert texts(channels_shop) == [
        "plans/activities.yaml:48:22: error[E513]: 'customer' has no field 'nme'\n"
        "  hint: did you mean 'customer.name'?"]


def test_template_files_must_be_utf8(channels_shop):
    (channels_shop / "plans/templates/winback.sms.j2").write_bytes("好久不见".encode("gbk"))
    [d] = validate(channels_shop).diagnostics
    assert (d.path, d.code) == ("plans/templates/winback.sms.j2", "E103")


def test_cli_validate_fails_with_the_located_error(channels_shop):
    write(channels_shop, "winback.sms.j2", "{{ customer.nick }\n")
    result = CliRunner().invoke(main, ["validate", "--project", str(channels_shop)])
    assert result.exit_code == 1
    assert result.output.startswith("plans/templates/winback.sms.j2:1:1: error[E512]: "
                                    "template syntax error: unexpected '}'")


# --- the analysis ---------------------------------------------------------------------


def plan_of(text):
    env = TemplateEnvironment(Path("/nonexistent"), builtin_channels())
    usage = analyse(env.parse(text))
    assert usage.problems == []
    at = ActivityTemplates(None, None, {}, {"text": LoadedPart(None, None, None, usage)})
    rp = RenderPlan.of(at)
    return rp.keys, rp.truth, rp.columns


@pytest.mark.parametrize("text, keys, truth, columns", [
    ("{{ customer.name }}{{ spend }}", [], [], ["customer.name", "spend"]),
    ("{{ customer.name or '亲' }}", [], ["customer.name"], ["customer.name"]),
    ("{% if customer.name %}{{ customer.name }}{% endif %}", [], ["customer.name"],
     ["customer.name"]),
    ("{{ 'a' if not customer.nick else customer.nick }}", [], ["customer.nick"],
     ["customer.nick"]),
    ("{% if purchases > 1 %}{{ purchases }}{% endif %}", ["purchases"], [], []),
    ("{{ customer.name | upper }}", ["customer.name"], [], []),
    ("{{ tier.name }}{{ stage.name }}", ["stage", "tier"], [], []),
    ("{% for i in range(r) %}★{% endfor %}", ["r"], [], []),
    ("{% filter upper %}{{ customer.nick }}{% endfilter %}", ["customer.nick"], [], []),
    ("{{ shop.name }}{{ activity.id }}{{ as_of }}", [], [], []),
    ("{% macro greet(x) %}{{ x }}{% endmacro %}{{ greet(customer.city_tier) }}",
     ["customer.city_tier"], [], []),
])
def test_each_use_is_classified(text, keys, truth, columns):
    assert plan_of(text) == (keys, truth, columns)


def test_zhe():
    assert [zhe(x) for x in (0.95, 0.9, 0.85, 0.8, 0.88, None)] == [
        "95折", "9折", "85折", "8折", "88折", ""]


# --- set-based rendering == per-customer rendering ------------------------------------


def reference(at, plan, row, as_of):
    """Render one customer with plain Jinja, as the channel finishes it."""
    values = {p: row[v.column] for p, v in PER_CUSTOMER.items()}
    for p, v in values.items():
        if isinstance(v, str):  # the placeholder characters are removed from values
            values[p] = v.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")
    values["stage"], values["tier"] = row["stage"], row["tier"]
    ctx = template_context(values, plan, at.activity, as_of)
    filled = {}
    if at.options.get("unsubscribe_url"):  # the recipient's link, as docs/plugins.md says
        token = hashlib.sha256(f"{plan.shop.contact.salt}:{row['customer_id']}".encode())
        url = at.options["unsubscribe_url"].replace("{token}", token.hexdigest()[:32])
        ctx["unsubscribe_url"] = url
        filled[value_marker("unsubscribe_url")] = url  # what finish() adds to the text
    out = {}
    for name, lp in at.parts.items():
        text = at.channel.finish(name, lp.template.render(ctx), at.activity, at.options, plan)
        for marker, value in filled.items():
            text = text.replace(marker, value)
        out[name] = text
    return out


def rows_of(con, table, customers="SELECT * FROM features"):
    """The narrow send table joined with the customers' rows (a build's: with_customers,
    as WriteContext.rows shows them; a synthetic test's features holds them all)."""
    cur = con.execute(f"SELECT f.*, m.* EXCLUDE (customer_id) FROM {table} AS m "
                      f"JOIN ({customers}) AS f USING (customer_id) ORDER BY customer_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_fixture_messages_equal_per_customer_rendering(channels_shop):
    pm = get_plugin_manager(channels_shop, entry_points=False)
    con = duckdb.connect()
    try:
        p = prepare(channels_shop, None, con, pm=pm)
        run_plan(con, p.compiled, p.plan)
        decide_contacts(con, p.plan, p.compiled, p.templates)  # creates `sends`
        checked = 0
        for ca in p.compiled.activities:
            at = p.templates[ca.activity.id]
            create_rows(con, p.plan, ca.activity, "t", at, p.compiled.as_of)
            for row in rows_of(con, "t", with_customers(con)):
                expected = reference(at, p.plan, row, p.compiled.as_of)
                assert {n: row[f"msg_{n}"] for n in expected} == expected
                checked += 1
        assert checked == 21
    finally:
        con.close()


TEMPLATES = {
    "plain": "亲爱的{{ customer.name }}，{{ customer.nick }}：{{ spend }}/{{ purchases }}/"
             "{{ customer.birthday }}/{{ customer.city_tier }}/{{ customer.id }}",
    "truth": "{{ customer.name or '亲' }}{% if customer.nick %}({{ customer.nick }}){% endif %}"
             "{{ days_since_last_purchase or '从未' }}{{ not customer.gender }}",
    "keyed": "{% if purchases > 1 %}第{{ purchases }}次{% endif %}{{ tier.name }}"
             "{{ tier.discount|zhe }}{{ stage.name }}"
             "{{ customer.name|upper if customer.name else '-' }}",
    "twice": "{{ customer.name }}{{ customer.name }}{% for i in range(r or 0) %}★{% endfor %}"
             "{{ customer.province }}",
}
HTML = ("<p>{{ customer.name }}</p>{{ customer.nick or '<无>' }}{% if tier.id %}&{% endif %}"
        '<a href="{{ unsubscribe_url }}">退订</a>')
# quotes, an ampersand and angle brackets: HTML-escaped in the html part, as Jinja does
UNSUBSCRIBE = "https://shop.example.com/u?t={token}&x='<y>\""

NASTY = st.one_of(
    st.none(), st.just(""),
    st.text(alphabet=st.sampled_from(list("张李,\"'<>&\n \\%{}#") + [MARK_OPEN, MARK_CLOSE,
                                                                  "0", "1", "亲"]),
            max_size=6))
ROW = st.fixed_dictionaries({
    "name": NASTY, "nick": NASTY, "gender": st.sampled_from([None, "F", "M", ""]),
    "province": NASTY, "city_tier": st.one_of(st.none(), st.integers(0, 5)),
    "birthday": st.one_of(st.none(), st.dates(date(1950, 1, 1), date(2020, 12, 31))),
    "purchases": st.integers(0, 3),
    "spend": st.decimals(0, 9999, places=2, allow_nan=False, allow_infinity=False),
    "days_since_last_purchase": st.one_of(st.none(), st.integers(0, 3)),
    "r": st.one_of(st.none(), st.integers(1, 5)),
    "tier": st.sampled_from([None, "vip1", "vip2", "vip4"]),
    "stage": st.sampled_from(["potential", "active", "dead"]),
})


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A plan (the channels fixture) and an environment whose templates folder holds the
    test templates."""
    import shutil

    root = tmp_path_factory.mktemp("synthetic") / "shop"
    shutil.copytree(Path(__file__).parent / "fixtures/channels", root)
    v = validate_project(root, get_plugin_manager(root, entry_points=False))
    env = TemplateEnvironment(root, v.channels)
    for name, text in TEMPLATES.items():
        write(root, f"{name}.wangwang.j2", text)
    write(root, "page.email.html.j2", HTML)
    return v, env


def activity_templates(v, env, name, channel, part):
    fname = f"{name}.{channel}.j2" if part == "text" else f"{name}.{channel}.{part}.j2"
    template = env.get_template(fname)
    ch = v.channels[channel]
    usage = analyse(env.parse(env.loader.get_source(env, fname)[0]), ch.recipient_values)
    activity = next(a for a in v.plan.activities if a.channel == channel)
    options = {**ch.option_defaults(), "unsubscribe_url": UNSUBSCRIBE}
    return ActivityTemplates(activity, ch, options, {
        part: LoadedPart(ch.part(part), Source(fname), template, usage)})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=1, max_size=8))
def test_set_based_rendering_equals_jinja_per_customer(synthetic, rows):
    v, env = synthetic
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE features (customer_id VARCHAR, name VARCHAR, nick VARCHAR, "
                    "gender VARCHAR, province VARCHAR, city_tier INTEGER, birthday DATE, "
                    "customer_type VARCHAR, purchases INTEGER, spend DECIMAL(14,2), "
                    "days_since_last_purchase INTEGER, r INTEGER, f INTEGER, m INTEGER, "
                    "stage VARCHAR, tier VARCHAR)")
        con.execute("CREATE TABLE sends (customer_id VARCHAR, activity_id VARCHAR, "
                    "status VARCHAR, address VARCHAR)")
        for i, r in enumerate(rows):
            cid = f"c{i:02d}"
            con.execute("INSERT INTO features VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, "
                        "NULL, NULL, ?, ?)",
                        [cid, r["name"], r["nick"], r["gender"], r["province"], r["city_tier"],
                         r["birthday"], r["purchases"], r["spend"],
                         r["days_since_last_purchase"], r["r"], r["stage"], r["tier"]])
        cases = [(n, "wangwang", "text") for n in TEMPLATES] + [("page", "email", "html")]
        for name, channel, part in cases:
            at = activity_templates(v, env, name, channel, part)
            con.execute("DELETE FROM sends")
            con.execute("INSERT INTO sends SELECT customer_id, ?, 'send', 'x' FROM features",
                        [at.activity.id])
            create_rows(con, v.plan, at.activity, "t", at, date(2026, 3, 1))
            for row in rows_of(con, "t"):
                expected = reference(at, v.plan, row, date(2026, 3, 1))
                assert row[f"msg_{part}"] == expected[part], (name, row)
            # the same through the shared send-values table of a whole build
            values = create_send_values(con, {at.activity.id: at})
            create_rows(con, v.plan, at.activity, "t2", at, date(2026, 3, 1), values)
            assert rows_of(con, "t2") == rows_of(con, "t")
    finally:
        con.close()


def test_renderings_are_counted_per_distinct_key_not_per_customer(synthetic):
    v, env = synthetic
    at = activity_templates(v, env, "truth", "wangwang", "text")
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE features AS SELECT 'c' || i AS customer_id, "
                    "CASE WHEN i % 2 = 0 THEN '名' || i END AS name, 'n' || i AS nick, "
                    "CASE WHEN i % 3 = 0 THEN 'F' END AS gender, i % 4 AS "
                    "days_since_last_purchase FROM range(1000) t(i)")
        con.execute("CREATE TABLE sends AS SELECT customer_id, ? AS activity_id, "
                    "'send' AS status, 'x' AS address FROM features", [at.activity.id])
        result = create_rows(con, v.plan, at.activity, "t", at, date(2026, 3, 1))
        # truth of name (i even) x nick (always) x days (i % 4 > 0) x gender (i % 3 == 0):
        # days false implies name true, so 3 name/days pairs x 2 genders
        assert result.renderings == 6
        assert con.execute("SELECT msg_text FROM t WHERE customer_id = 'c6'").fetchone() == (
            "名6(n6)2False",)
        assert con.execute("SELECT msg_text FROM t WHERE customer_id = 'c4'").fetchone() == (
            "名4(n4)从未True",)
    finally:
        con.close()


def test_template_columns_are_needed_data(channels_shop):
    """A template reading a customer column makes the column required (E403 at the
    activity's template line when the data lacks it)."""
    data = channels_shop / "data/customers.csv"
    lines = data.read_text(encoding="utf-8").splitlines()
    cols = lines[0].split(",")
    i = cols.index("name")
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for r in csv.reader(io.StringIO("\n".join(lines))):
        w.writerow(r[:i] + r[i + 1:])
    data.write_text(out.getvalue(), encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "--project", str(channels_shop)])
    assert result.exit_code == 1
    # review_invite is the first activity whose template reads customer.name
    assert ("plans/activities.yaml:17:15: error[E403]: column 'name' (customers.name) not "
            "found in the customers data; the plan uses it here") in result.stderr


def _shuffled_shop(con, activity_id: str, n: int = 5000) -> None:
    """`features` and `sends` of n customers, inserted in an order unrelated to their
    ids (as a build's hash joins leave them): c00000..c04999, a tenth without a name."""
    con.execute("CREATE OR REPLACE TABLE features AS SELECT printf('c%05d', i) AS customer_id, "
                "CASE WHEN i % 10 <> 0 THEN '名' || i END AS name, 'n' || (i % 7) AS nick, "
                "CASE WHEN i % 3 = 0 THEN 'F' END AS gender, i % 4 AS "
                "days_since_last_purchase, i % 3 AS purchases, "
                "(['potential', 'active', 'dead'])[i % 3 + 1] AS stage, "
                "(['vip1', 'vip2', NULL])[i % 3 + 1] AS tier "
                f"FROM range({n}) t(i) ORDER BY hash(i)")
    con.execute("CREATE OR REPLACE TABLE sends AS SELECT customer_id, ? AS activity_id, "
                "'send' AS status, 'x' || customer_id AS address FROM features "
                "ORDER BY hash(customer_id || 's')", [activity_id])


@pytest.mark.parametrize("name, lookup", [("truth", True), ("keyed", False)])
def test_rendered_rows_are_stored_in_customer_order(synthetic, monkeypatch, name, lookup):
    """create_rows stores an activity's rows in customer order (the built-in writers
    copy them without sorting, WriteContext.table): from the shared send-values table
    by looking the renderings up (a few keys: `truth`) or through a join and a sort
    (keyed by each customer's name: `keyed`, 4,500 keys), and without that table; the
    messages are the same whichever way."""
    import crmspec.templates.rendering as rendering

    v, env = synthetic
    at = activity_templates(v, env, name, "wangwang", "text")
    con = duckdb.connect()
    try:
        _shuffled_shop(con, at.activity.id)
        ids = [f"c{i:05d}" for i in range(5000)]
        tables, default = {}, rendering.LOOKUP_MAX
        for limit in (default, 0):  # 0: the join for any number of keys
            monkeypatch.setattr(rendering, "LOOKUP_MAX", limit)
            values = create_send_values(con, {at.activity.id: at})
            for table, given_values in ((f"v{limit}", values), (f"s{limit}", None)):
                result = create_rows(con, v.plan, at.activity, table, at, date(2026, 3, 1),
                                     given_values)
                assert (result.renderings <= default) == lookup
                stored = con.execute(f"SELECT * FROM {table}").fetchall()  # no ORDER BY
                assert [r[0] for r in stored] == ids
                tables[table] = stored
        first = next(iter(tables.values()))
        assert all(rows == first for rows in tables.values())
        by_id = {r[0]: r[2] for r in first}
        if name == "truth":  # name, (nick), days or 从未, not gender
            assert (by_id["c00006"], by_id["c00010"]) == ("名6(n6)2False", "亲(n3)2True")
        else:  # purchases > 1, tier discount, stage, the name upper-cased or '-'
            assert by_id["c00005"].endswith("名5") and by_id["c00010"].endswith("-")
    finally:
        con.close()
