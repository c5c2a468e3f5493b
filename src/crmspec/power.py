"""Is a control group big enough to show the effect the plan hopes for?

A hold-out that cannot detect the plan's minimum effect wastes the held-out customers
and produces "no significant uplift" reports that mean nothing. The check uses
statsmodels' power analysis for two independent proportions (Cohen's h effect size),
imported lazily because it is only needed when a plan holds customers out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    target = min(baseline + min_effect, 0.999999)
    effect = proportion_effectsize(target, baseline)
    ratio = holdout / (1 - holdout)  # control size / treatment size
    n_treatment = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power,
                                               ratio=ratio, alternative="two-sided")
    return math.ceil(n_treatment / (1 - holdout))


def check_power(audience: int, holdout: float, baseline: float, min_effect: float,
                alpha: float = 0.05, power: float = 0.8) -> PowerCheck:
    control = round(audience * holdout)
    needed = required_audience(holdout, baseline, min_effect, alpha, power)
    return PowerCheck(audience, audience - control, control, needed,
                      needed is not None and audience >= needed)


def achieved_power(treatment: int, control: int, baseline: float, min_effect: float,
                   alpha: float = 0.05) -> float | None:
    """The power groups of these sizes have to show baseline -> baseline + min_effect
    (two-sided, the same statsmodels analysis as required_audience); None when it has
    no meaning (an empty group, no effect, a baseline outside (0, 1))."""
    if treatment <= 0 or control <= 0 or min_effect <= 0 or not 0 < baseline < 1:
        return None
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    effect = proportion_effectsize(min(baseline + min_effect, 0.999999), baseline)
    return float(NormalIndPower().power(effect_size=effect, nobs1=treatment, alpha=alpha,
                                        ratio=control / treatment, alternative="two-sided"))
