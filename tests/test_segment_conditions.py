"""Every segment condition a plan can write, on both sides of its boundary, through the
compiled condition over the build's `features` table (tests/shop_edits.members), on the
tiny shop as of 2026-03-01.

The facts, worked out by hand from tests/fixtures/tiny/data (see test_build_tiny):

  id   stage       buys spend days tier  province city gender name  email
  c01  after_sale   1    100    0   -     浙江      1    F    张一  c01@qq.com
  c02  after_sale   2    550    6  vip1   上海      1    F    张二  c02@163.com
  c03  active       1     80    7   -     浙江      2    M    张三
  c04  silent       1    520   45  vip1   浙江      3    F
  c05  sleeping     1   1500   90  vip2   广东      2    F
  c06  churning     1     60  140   -     广东      1    M
  c07  dead         1   5000  365  vip3   北京      1    F
  c08  potential    0      0    -   -     浙江      1    F          c08@qq.com
  c09  potential    0      0    -   -     江苏      2    F          c09@sina.com
  c10  potential    0      0    -   -     江苏      2    M
  c11  active       4   7000   19  vip4   浙江      1    F          c11@gmail.com
  c12  after_sale   1    120    5   -     浙江      1    F
  c13  after_sale   1     90    4   -     浙江      1    F
  c14  active       1    550   28  vip1   四川      3    M
  c15  active       1    150    9   -     浙江      1    F          c15@qq.com
  c16  active       1    150    9   -     浙江      1    F          c16@qq.com

RFM among the 13 buyers, score = ceil(5 x cume_dist):
  R (by last purchase date): c06, c07 1; c04, c05, c14 2; c11 3; c02, c03, c15, c16 4;
     c01, c12, c13 5.
  M (by spend): c03, c06 1; c01, c12, c13 2; c15, c16 3; c02, c04, c14 4; c05, c07, c11 5.
  F: everyone 5 (11 of 13 buyers have one purchase: ceil(5 x 11/13) = 5).
"""

from __future__ import annotations

from shop_edits import add_rows, append, edit, members

EVERYONE = [f"c{i:02d}" for i in range(1, 17)]
POTENTIAL = ["c08", "c09", "c10"]
BUYERS = [c for c in EVERYONE if c not in POTENTIAL]


def segments(root, **wheres: str) -> dict[str, list[str]]:
    """Add one segment per keyword (id: its YAML `where` flow mapping) and read members."""
    append(root, "segments.yaml", "".join(
        f"  - id: {sid}\n    name: {sid}\n    where: {where}\n" for sid, where in wheres.items()))
    return members(root, *wheres)


def test_tier_none_is_the_customers_below_every_tier(tiny):
    """Rule: `tier: none` holds for customers below the lowest tier (tier IS NULL) and
    may be listed with named tiers (any of)."""
    assert segments(tiny, no_tier="{tier: none}", vip1_or_none="{tier: [vip1, none]}",
                    vip2="{tier: vip2}", vip3_vip4="{tier: [vip3, vip4]}") == {
        "no_tier": ["c01", "c03", "c06", "c08", "c09", "c10", "c12", "c13", "c15", "c16"],
        "vip1_or_none": ["c01", "c02", "c03", "c04", "c06", "c08", "c09", "c10", "c12",
                         "c13", "c14", "c15", "c16"],
        "vip2": ["c05"],  # exactly 1500: vip2's min_spend
        "vip3_vip4": ["c07", "c11"],
    }


def test_tier_at_least_counts_the_named_tier_and_those_above(tiny):
    assert segments(tiny, at_least_vip1="{tier_at_least: vip1}",
                    at_least_vip2="{tier_at_least: vip2}",
                    at_least_vip4="{tier_at_least: vip4}") == {
        "at_least_vip1": ["c02", "c04", "c05", "c07", "c11", "c14"],
        "at_least_vip2": ["c05", "c07", "c11"],
        "at_least_vip4": ["c11"],
    }


def test_tier_thresholds_are_inclusive(tiny):
    """Tier rule: spend >= min_spend. c05 spent exactly 1500 (vip2); at 1500.01 it falls
    back to vip1; c04's 520 reaches vip1 (500) but not at 520.01."""
    edit(tiny, "tiers.yaml", "min_spend: 1500,", "min_spend: 1500.01,")
    edit(tiny, "tiers.yaml", "min_spend: 500,", "min_spend: 520.01,")
    assert segments(tiny, vip1="{tier: vip1}", vip2="{tier: vip2}") == {
        "vip1": ["c02", "c05", "c14"], "vip2": []}


def test_tier_min_purchases_is_inclusive(tiny):
    """A tier that also needs purchases: vip1 with min_purchases 2 keeps c02 (2
    purchases, 550) and drops c04 and c14 (1 purchase each)."""
    edit(tiny, "tiers.yaml", "min_spend: 500,", "min_spend: 500, min_purchases: 2,")
    assert segments(tiny, vip1="{tier: vip1}") == {"vip1": ["c02"]}


def test_purchase_spend_and_recency_ranges_include_both_ends(tiny):
    """Range rule: min <= value <= max; customers who never bought have no recency
    (NULL) and are in no recency range; their purchases and spend are 0."""
    assert segments(
        tiny,
        two_plus="{purchases: {min: 2}}", at_most_one="{purchases: {max: 1}}",
        exactly_one="{purchases: {min: 1, max: 1}}", four_plus="{purchases: {min: 4}}",
        five_plus="{purchases: {min: 5}}",
        spend_550_1500="{spend: {min: 550, max: 1500}}",
        spend_to_520="{spend: {max: 520}}", spend_above_520="{spend: {min: 520.01}}",
        days_45_90="{days_since_last_purchase: {min: 45, max: 90}}",
        days_to_6="{days_since_last_purchase: {max: 6}}",
        days_from_365="{days_since_last_purchase: {min: 365}}",
    ) == {
        "two_plus": ["c02", "c11"],
        "at_most_one": sorted(set(EVERYONE) - {"c02", "c11"}),
        "exactly_one": sorted(set(BUYERS) - {"c02", "c11"}),
        "four_plus": ["c11"],
        "five_plus": [],
        "spend_550_1500": ["c02", "c05", "c14"],
        "spend_to_520": ["c01", "c03", "c04", "c06", "c08", "c09", "c10", "c12", "c13",
                         "c15", "c16"],
        "spend_above_520": ["c02", "c05", "c07", "c11", "c14"],
        "days_45_90": ["c04", "c05"],
        "days_to_6": ["c01", "c02", "c12", "c13"],
        "days_from_365": ["c07"],
    }


def test_stage_and_customer_type(tiny):
    """customer_type: returning includes fans (purchases >= fans_min_purchases, 4)."""
    assert segments(tiny, silent_or_dead="{stage: [silent, dead]}",
                    potential="{customer_type: potential}", new="{customer_type: new}",
                    returning="{customer_type: returning}", fans="{customer_type: fans}",
                    new_or_fans="{customer_type: [new, fans]}") == {
        "silent_or_dead": ["c04", "c07"],
        "potential": POTENTIAL,
        "new": sorted(set(BUYERS) - {"c02", "c11"}),
        "returning": ["c02", "c11"],
        "fans": ["c11"],
        "new_or_fans": sorted(set(BUYERS) - {"c02"}),
    }


def test_fans_start_at_fans_min_purchases(tiny):
    """c11 has 4 purchases: a fan at fans_min_purchases 4, only returning at 5."""
    edit(tiny, "shop.yaml", "fans_min_purchases: 4", "fans_min_purchases: 5")
    assert segments(tiny, fans="{customer_type: fans}",
                    returning="{customer_type: returning}") == {
        "fans": [], "returning": ["c02", "c11"]}


def test_rfm_scores_as_lists_and_ranges(tiny):
    assert segments(
        tiny, r5="{rfm: {r: [5]}}", r_4_up="{rfm: {r: {min: 4}}}", r_1="{rfm: {r: {max: 1}}}",
        m5="{rfm: {m: {min: 5}}}", m_2_3="{rfm: {m: [2, 3]}}", f_to_4="{rfm: {f: {max: 4}}}",
        r45_m4="{rfm: {r: [4, 5], m: {min: 4}}}",
    ) == {
        "r5": ["c01", "c12", "c13"],
        "r_4_up": ["c01", "c02", "c03", "c12", "c13", "c15", "c16"],
        "r_1": ["c06", "c07"],
        "m5": ["c05", "c07", "c11"],
        "m_2_3": ["c01", "c12", "c13", "c15", "c16"],
        "f_to_4": [],
        "r45_m4": ["c02"],
    }


def test_attribute_tests(tiny):
    """Attribute rule: a value is equality, a list any of, {min, max} a range,
    {missing: true/false} NULL or not, {not: ...} a known value outside the list."""
    assert segments(
        tiny,
        zhejiang="{attributes: {province: 浙江}}",
        south_or_north="{attributes: {province: [广东, 北京]}}",
        tier2_cities="{attributes: {city_tier: {min: 2, max: 2}}}",
        no_name="{attributes: {name: {missing: true}}}",
        named="{attributes: {name: {missing: false}}}",
        not_women="{attributes: {gender: {not: F}}}",
        other_emails="{attributes: {email: {not: [c01@qq.com, c09@sina.com]}}}",
        zhejiang_tier1_men="{attributes: {province: 浙江, city_tier: 1, gender: M}}",
    ) == {
        "zhejiang": ["c01", "c03", "c04", "c08", "c11", "c12", "c13", "c15", "c16"],
        "south_or_north": ["c05", "c06", "c07"],
        "tier2_cities": ["c03", "c05", "c09", "c10"],
        "no_name": sorted(set(EVERYONE) - {"c01", "c02", "c03"}),
        "named": ["c01", "c02", "c03"],
        "not_women": ["c03", "c06", "c10", "c14"],
        # customers without an email are not "another email"
        "other_emails": ["c02", "c08", "c11", "c15", "c16"],
        "zhejiang_tier1_men": [],
    }


def test_intent_window_counts_the_as_of_date_and_the_days_before_it(tiny):
    """Intent rule: an event on one of the within_days calendar days ending on the
    as-of date. c09 carted 02-20 21:00: 10 days ending 03-01 start on 02-20, 9 days on
    02-21. c02 favourited 02-27: inside 3 days (02-27..03-01), outside 2."""
    assert segments(
        tiny,
        cart_10="{intent: {events: [cart], within_days: 10}}",
        cart_9="{intent: {events: [cart], within_days: 9}}",
        fav_3="{intent: {events: [favorite], within_days: 3}}",
        fav_2="{intent: {events: [favorite], within_days: 2}}",
        fav_or_cart_3="{intent: {events: [favorite, cart], within_days: 10}}",
    ) == {"cart_10": ["c09", "c15"], "cart_9": ["c15"], "fav_3": ["c02"], "fav_2": [],
          "fav_or_cart_3": ["c02", "c09", "c15"]}


def test_intent_not_bought_since_compares_with_the_last_payment(tiny):
    """Rule: no purchase after the latest such event (default). c16 carted 02-18 and
    paid 02-20: out, unless not_bought_since: false. c03 carts at the very second it
    pays (not "since": out); c14 one second after its last payment: in. c01 carted
    01-30: 30 days ending 03-01 start 01-31 (out), 31 days take it in."""
    add_rows(tiny, "events.csv", "c03,cart,2026-02-22 08:10:00,SKU009\n"
                                 "c14,cart,2026-02-01 21:05:01,SKU009\n")
    assert segments(
        tiny,
        carted="{intent: {events: [cart], within_days: 30}}",
        carted_any="{intent: {events: [cart], within_days: 30, not_bought_since: false}}",
        carted_any_31="{intent: {events: [cart], within_days: 31, not_bought_since: false}}",
    ) == {"carted": ["c09", "c14", "c15"],
          "carted_any": ["c03", "c09", "c14", "c15", "c16"],
          "carted_any_31": ["c01", "c03", "c09", "c14", "c15", "c16"]}


def test_unpaid_order_intent_reads_unpaid_orders(tiny):
    """c08's order of 03-01 is unpaid; c09's of 02-26 is closed (not an intent)."""
    assert segments(tiny, unpaid="{intent: {events: [unpaid_order], within_days: 7}}") == {
        "unpaid": ["c08"]}


def test_segment_references_treat_unknown_as_not_a_member(tiny):
    """in_segment: any of; not_in_segment: none of. A condition that is unknown (NULL:
    no recency for customers who never bought) is "not a member", so not_in_segment
    of a recency segment keeps the potential customers."""
    append(tiny, "segments.yaml", "  - id: recent\n    name: recent\n"
                                  "    where: {days_since_last_purchase: {max: 6}}\n")
    assert segments(
        tiny, fans_or_unpaid="{in_segment: [fans_only, unpaid_today]}",
        not_recent="{not_in_segment: recent}",
        neither="{not_in_segment: [recent, new_customers]}",
    ) == {
        "fans_or_unpaid": ["c08", "c11"],
        "not_recent": sorted(set(EVERYONE) - {"c01", "c02", "c12", "c13"}),
        "neither": ["c08", "c09", "c10", "c11"],
    }


def test_not_and_any_of_treat_unknown_as_false(tiny):
    """not: holds when its conditions do not (unknown counts as not holding: the
    potential customers are 'not bought 7+ days ago'); any_of: at least one holds."""
    assert segments(
        tiny, buyers="{not: {customer_type: potential}}",
        not_7_days="{not: {days_since_last_purchase: {min: 7}}}",
        either="{any_of: [{stage: dead}, {tier: vip4}, {days_since_last_purchase: {max: 0}}]}",
        not_either="{not: {any_of: [{stage: potential}, {purchases: {min: 2}}]}}",
    ) == {
        "buyers": BUYERS,
        "not_7_days": ["c01", "c02", "c08", "c09", "c10", "c12", "c13"],
        "either": ["c01", "c07", "c11"],
        "not_either": sorted(set(BUYERS) - {"c02", "c11"}),
    }


def test_sql_condition_and_everyone(tiny):
    append(tiny, "segments.yaml", "  - id: all\n    name: all\n    everyone: true\n")
    got = segments(tiny, tier1_women="{sql: \"city_tier <= 1 AND gender = 'F'\"}",
                   big_spenders="{sql: 'spend >= 1500 AND purchases < 4'}")
    assert got == {"tier1_women": ["c01", "c02", "c07", "c08", "c11", "c12", "c13", "c15",
                                   "c16"],
                   "big_spenders": ["c05", "c07"]}
    assert members(tiny, "all") == {"all": EVERYONE}
