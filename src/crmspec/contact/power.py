"""Is a control group big enough to show the effect the plan hopes for?

A hold-out that cannot detect the plan's minimum effect wastes the held-out customers
and produces "no significant uplift" reports that mean nothing. The check is the normal
approximation for two independent proportions with Cohen's h effect size, the analysis
of statsmodels' NormalIndPower (tests/test_power.py compares the two), written out with
`statistics.NormalDist`: a build runs it on every activity with a hold-out, and importing
statsmodels took 1.4 s of every build.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from crmspec.core.diagnostics import Diagnostic
from crmspec.plan.model import Plan

_NORMAL = NormalDist()


def _cohen_h(p1: float, p0: float) -> float:
    return 2 * (math.asin(math.sqrt(p1)) - math.asin(math.sqrt(p0)))


def _power(effect: float, n1: float, ratio: float, alpha: float) -> float:
    """Two-sided power with n1 treated and ratio * n1 held out (both tails counted)."""
    shift = abs(effect) * math.sqrt(n1 * ratio / (1 + ratio))
    crit = _NORMAL.inv_cdf(1 - alpha / 2)
    return (1 - _NORMAL.cdf(crit - shift)) + _NORMAL.cdf(-crit - shift)


def _solve_n1(effect: float, alpha: float, power: float, ratio: float) -> float:
    """The treatment size whose power is `power`: the textbook closed form (far tail
    ignored) is an upper bound; bisection on the exact power closes the rest."""
    z = _NORMAL.inv_cdf(1 - alpha / 2) + _NORMAL.inv_cdf(power)
    hi = (z / abs(effect)) ** 2 * (1 + ratio) / ratio
    lo = hi / 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _power(effect, mid, ratio, alpha) < power:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-9 * hi:
            break
    return hi


@dataclass(frozen=True)
class PowerCheck:
    audience: int
    treatment: int
    control: int
    needed_audience: int | None  # smallest audience that reaches the power; None: never
    enough: bool


def required_audience(holdout: float, baseline: float, min_effect: float, alpha: float = 0.05,
                      power: float = 0.8) -> int | None:
    """Smallest audience whose hold-out share detects baseline -> baseline + min_effect."""
    if not 0 < holdout < 1 or min_effect <= 0 or not 0 < baseline < 1:
        return None
    effect = _cohen_h(min(baseline + min_effect, 0.999999), baseline)
    ratio = holdout / (1 - holdout)  # control size / treatment size
    return math.ceil(_solve_n1(effect, alpha, power, ratio) / (1 - holdout))


def check_power(audience: int, holdout: float, baseline: float, min_effect: float,
                alpha: float = 0.05, power: float = 0.8) -> PowerCheck:
    control = round(audience * holdout)
    needed = required_audience(holdout, baseline, min_effect, alpha, power)
    return PowerCheck(audience, audience - control, control, needed,
                      needed is not None and audience >= needed)


def achieved_power(treatment: int, control: int, baseline: float, min_effect: float,
                   alpha: float = 0.05) -> float | None:
    """The power groups of these sizes have to show baseline -> baseline + min_effect
    (two-sided, the same analysis as required_audience); None when it has no meaning (an
    empty group, no effect, a baseline outside (0, 1))."""
    if treatment <= 0 or control <= 0 or min_effect <= 0 or not 0 < baseline < 1:
        return None
    effect = _cohen_h(min(baseline + min_effect, 0.999999), baseline)
    return _power(effect, treatment, control / treatment, alpha)


# The two-proportion z-test's own minimum: every cell of the 2x2 table expects at least
# this many (Cochran's rule); below it the p-value and the interval are not to be trusted.
MIN_EXPECTED = 5


@dataclass(frozen=True)
class GroupCheck:
    """Whether the groups of a measured result are big enough for a verdict."""

    power: float | None  # to show the minimum effect (None without one)
    enough: bool
    needed_audience: int | None  # treated + held out that would be enough; None: no size
    rule: str  # "power" (a minimum effect is known) or "expected" (the z-test's minimum)


def check_groups(treatment: int, control: int, responders: int, baseline: float,
                 min_effect: float | None, alpha: float = 0.05, power: float = 0.8
                 ) -> GroupCheck:
    """The power check of a measured result (`crmspec evaluate`): with a minimum effect,
    the power these groups have to show it, enough when it reaches `power`; without one,
    at least MIN_EXPECTED expected responders and non-responders in the smaller group at
    the pooled response rate. `needed_audience` keeps the observed hold-out share."""
    total = treatment + control
    if min_effect:
        achieved = achieved_power(treatment, control, baseline, min_effect, alpha)
        if achieved is not None:
            enough = achieved >= power
            needed = None if enough else required_audience(control / total, baseline,
                                                           min_effect, alpha, power)
            return GroupCheck(achieved, enough, needed, "power")
    pooled = responders / total if total else 0.0
    rarer = min(pooled, 1 - pooled)
    smallest = min(treatment, control)
    enough = smallest * rarer >= MIN_EXPECTED
    needed = (None if enough or rarer == 0 or smallest == 0
              else math.ceil(MIN_EXPECTED / rarer * total / smallest))
    return GroupCheck(None, enough, needed, "expected")


def _short_of_power(plan: Plan, audience: dict[str, int]) -> list[tuple]:
    """(activity, check, effect) for every activity whose control group, at this audience
    size (contacted plus held out), cannot show its minimum effect; worst first (the
    most builds needed; no size at all is enough: first of all)."""
    out = []
    ev = plan.shop.evaluation
    for a in plan.activities:
        effect = a.min_effect or ev.min_effect
        n = audience.get(a.id, 0)
        if a.holdout <= 0 or not effect or n == 0:
            continue
        check = check_power(n, a.holdout, ev.baseline_response, effect, ev.alpha, ev.power)
        if not check.enough:
            out.append((a, check, effect))
    return sorted(out, key=lambda x: (x[1].needed_audience is not None,
                                      -_builds(x[1]), x[0].id))


def _builds(check) -> int:
    """Builds like this one whose pooled audience reaches the needed size (evaluate pools
    an activity's runs); 0: no size is enough."""
    if not check.needed_audience:
        return 0
    return -(-check.needed_audience // check.audience)


def _needs(check, like: str) -> str:
    if not check.needed_audience:
        return "no audience size is enough"
    return (f"about {check.needed_audience:,} customers are needed: "
            f"{_builds(check):,} builds like {like}")


def power_warnings(plan: Plan, audience: dict[str, int]) -> list[Diagnostic]:
    """W602 per activity whose control group, at this audience size, cannot show the
    plan's minimum effect (`crmspec validate`, against the latest build's audiences)."""
    ev = plan.shop.evaluation
    return [a.src.at("holdout").diag(
        "W602", f"activity '{a.id}': {check.control} held out of {check.audience} "
        f"cannot show +{effect:g} over a {ev.baseline_response:g} response rate at power "
        f"{ev.power:g} ({_needs(check, 'the latest')})",
        "evaluate over several builds, raise the hold-out, or widen the segment")
            for a, check, effect in _short_of_power(plan, audience)]


def power_summary(plan: Plan, audience: dict[str, int]) -> list[Diagnostic]:
    """The build's W602: one warning for all the activities short of power, at the worst
    one's hold-out. A build is one draw of a control group that `crmspec evaluate` pools
    over many; one line per activity on every build buried the other warnings (21 on
    the demo shop), and `crmspec validate` lists them all."""
    short = _short_of_power(plan, audience)
    if not short:
        return []
    named = [f"'{a.id}' ({check.control} held out of {check.audience}; {_needs(check, 'this one')})"
             for a, check, _ in short[:3]]
    more = f" and {len(short) - 3} more" if len(short) > 3 else ""
    n = len(short)
    return [short[0][0].src.at("holdout").diag(
        "W602", f"{n} activit{'y' if n == 1 else 'ies'} cannot show the minimum effect "
        f"from this build's control group: {', '.join(named)}{more}",
        "crmspec evaluate pools builds; `crmspec validate` lists every activity. If too "
        "many builds are needed, raise the hold-out or widen the segment")]
