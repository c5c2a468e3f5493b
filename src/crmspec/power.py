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
