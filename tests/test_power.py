"""Power check against the textbook formula for two proportions (normal approximation).

The arcsine transform 2 asin(sqrt p) has variance 1/n, so a difference of two groups of n
has variance 2/n and n per group = 2 (z_{1-a/2} + z_{1-b})^2 / h^2 with Cohen's
h = 2 asin(sqrt p1) - 2 asin(sqrt p0) (Cohen's table: h = 0.2 -> 392 per group).
For p0 = 0.05, p1 = 0.06, alpha 0.05, power 0.8: h = 0.043907, z sum = 2.801585,
n = 8142.6 per group.
"""

import math

from scipy.stats import norm

from crmspec.contact.power import achieved_power, check_power, required_audience


def cohen_n(p0, p1, alpha=0.05, power=0.8):
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))
    return 2 * (norm.ppf(1 - alpha / 2) + norm.ppf(power)) ** 2 / h ** 2


def test_cohen_table_value():
    # Cohen (1988), table 6.4.1: h = 0.2, two-sided alpha 0.05, power 0.8 -> n = 392
    p0 = 0.5
    p1 = math.sin((2 * math.asin(math.sqrt(p0)) + 0.2) / 2) ** 2
    assert round(cohen_n(p0, p1)) == 392


def test_half_holdout_matches_the_textbook_per_group_size():
    per_group = cohen_n(0.05, 0.06)
    assert 8142 < per_group < 8143
    assert required_audience(0.5, 0.05, 0.01) == math.ceil(per_group * 2)  # 16286


def test_unequal_groups_need_more_customers_in_all():
    # treatment n1, control n2 = r n1: n1 = n_eq (1 + 1/r) / 2 under the normal approximation
    n_eq = cohen_n(0.05, 0.06)
    r = 0.1 / 0.9
    n1 = n_eq * (1 + 1 / r) / 2
    expected = math.ceil(n1 / 0.9)
    assert abs(required_audience(0.1, 0.05, 0.01) - expected) <= 1


def test_check_reports_sizes_and_verdict():
    small = check_power(5000, 0.1, 0.05, 0.01)
    assert (small.treatment, small.control, small.enough) == (4500, 500, False)
    big = check_power(small.needed_audience, 0.1, 0.05, 0.01)
    assert big.enough


def test_no_holdout_means_no_requirement():
    assert required_audience(0.0, 0.05, 0.01) is None
    assert check_power(1000, 0.0, 0.05, 0.01).enough is False


def test_same_as_statsmodels_normal_ind_power():
    """The closed form equals statsmodels' NormalIndPower (an independent implementation)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    for holdout, p0, effect in [(0.5, 0.05, 0.01), (0.1, 0.05, 0.01), (0.05, 0.2, 0.03),
                                (0.3, 0.01, 0.005), (0.2, 0.5, 0.1)]:
        h = proportion_effectsize(p0 + effect, p0)
        ratio = holdout / (1 - holdout)
        n1 = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=ratio,
                                          alternative="two-sided")
        assert required_audience(holdout, p0, effect) == math.ceil(n1 / (1 - holdout))
        for treated, held in [(900, 100), (5000, 5000), (120, 7)]:
            expected = NormalIndPower().power(effect_size=h, nobs1=treated, alpha=0.05,
                                              ratio=held / treated, alternative="two-sided")
            assert abs(achieved_power(treated, held, p0, effect) - expected) < 1e-12


def test_build_sums_up_the_activities_short_of_power_in_one_warning():
    """The example plan (baseline 0.04, +0.015 at power 0.8: 17,430 customers for a 10%
    hold-out; win_back_sms +0.008: 57,204). Builds needed, by hand: ceil(17430 / 10) =
    1,743; ceil(57204 / 655) = 88; ceil(17430 / 215) = 82; ceil(17430 / 602) = 29. The
    build names the worst three, at the worst one's hold-out; validate lists each."""
    from pathlib import Path

    from crmspec.contact.power import power_summary, power_warnings
    from crmspec.validate import validate_project

    plan = validate_project(Path(__file__).parent.parent).plan
    sizes = {"new_arrivals_active_sms": 10, "parcel_gift_returning": 215,
             "hot_item_active_email": 602, "win_back_sms": 655, "shipping_notice_sms": 9}
    (w,) = power_summary(plan, sizes)
    assert w.code == "W602" and w.severity == "warning"
    # at new_arrivals_active_sms's `holdout:` value, found in the file's text
    lines = (Path(__file__).parent.parent / "plans/activities.yaml").read_text(
        encoding="utf-8").splitlines()
    start = lines.index("  - id: new_arrivals_active_sms")
    line = next(i for i in range(start, len(lines)) if lines[i].startswith("    holdout: "))
    assert (w.path, w.line, w.col) == ("plans/activities.yaml", line + 1, 14)
    assert w.message == (
        "4 activities cannot show the minimum effect from this build's control group: "
        "'new_arrivals_active_sms' (1 held out of 10; about 17,430 customers are needed: "
        "1,743 builds like this one), 'win_back_sms' (66 held out of 655; about 57,204 "
        "customers are needed: 88 builds like this one), 'parcel_gift_returning' (22 held "
        "out of 215; about 17,430 customers are needed: 82 builds like this one) and 1 more")
    per_activity = power_warnings(plan, sizes)
    assert [x.message.split("'")[1] for x in per_activity] == [
        "new_arrivals_active_sms", "win_back_sms", "parcel_gift_returning",
        "hot_item_active_email"]
    assert per_activity[3].message.endswith(
        "response rate at power 0.8 (about 17,430 customers are needed: 29 builds like the "
        "latest)")
    assert power_summary(plan, {"hot_item_active_email": 20000}) == []


def test_measured_groups_without_a_min_effect_need_five_expected_per_cell():
    """No min_effect: the z-test's minimum. 150 contacts, 50 held out: 15 responders
    (pooled 0.1) give the held out 5.0 expected responders (enough); 14 (0.0933) give
    4.67: not enough, and 5 / (14/150) x 150 / 50 = 160.7 -> 161 customers would be."""
    from crmspec.contact.power import check_groups

    ok = check_groups(100, 50, 15, 0.04, None)
    assert (ok.enough, ok.power, ok.needed_audience, ok.rule) == (True, None, None, "expected")
    short = check_groups(100, 50, 14, 0.04, None)
    assert (short.enough, short.needed_audience) == (False, 161)
    # the rarer outcome counts: 136 of 150 responding leaves 14 non-responders
    assert check_groups(100, 50, 136, 0.04, None).needed_audience == 161
    # nobody responded: no size can be told from these groups
    assert check_groups(100, 50, 0, 0.04, None).needed_audience is None


def test_measured_groups_with_a_min_effect_need_the_power():
    """With a min_effect the power decides, on each side of the needed audience (a half
    hold-out: equal groups)."""
    from crmspec.contact.power import check_groups

    needed = required_audience(0.5, 0.04, 0.05)
    half = needed // 2
    enough = check_groups(half + 1, half + 1, 0, 0.04, 0.05)
    assert enough.enough and enough.power >= 0.8 and enough.rule == "power"
    below = check_groups(half - 1, half - 1, 500, 0.04, 0.05)
    assert not below.enough and below.power < 0.8 and below.needed_audience == needed
