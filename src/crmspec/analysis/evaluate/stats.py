"""The statistics of one comparison: treatment against control (statsmodels)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass


@dataclass
class Stats:
    """A two-proportion comparison, treatment (1) against control (2)."""

    treatment_rate: float
    control_rate: float
    uplift: float
    uplift_low: float
    uplift_high: float
    relative_uplift: float | None
    relative_low: float | None
    relative_high: float | None
    p_value: float


def compare(treated_responders: int, treated: int, control_responders: int, control: int,
            alpha: float = 0.05) -> Stats:
    """Uplift of the treatment over the control group, with statsmodels:

    - CI of the difference: Newcombe's hybrid score interval (method 10 of Newcombe 1998,
      from two Wilson intervals; sound with few or no responders);
    - CI of the ratio: log interval with 0.5 added to the counts (statsmodels'
      'log-adjusted'); the relative uplift is ratio - 1, undefined when the control group
      has no responder;
    - p-value: two-sided pooled two-proportion z-test (Pearson's chi-square without
      continuity correction); 1 when nobody or everybody responded (no difference).
    """
    import numpy as np
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    r1, n1, r2, n2 = int(treated_responders), int(treated), int(control_responders), int(control)
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both groups need at least one contact")
    p1, p2 = r1 / n1, r2 / n2
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        low, high = confint_proportions_2indep(r1, n1, r2, n2, compare="diff",
                                               method="newcomb", alpha=alpha)
        if r1 + r2 in (0, n1 + n2):
            p_value = 1.0
        else:
            p_value = float(proportions_ztest([r1, r2], [n1, n2], value=0,
                                              alternative="two-sided")[1])
        rel = rel_low = rel_high = None
        if r2 > 0:
            rlow, rhigh = confint_proportions_2indep(r1, n1, r2, n2, compare="ratio",
                                                     method="log-adjusted", alpha=alpha)
            rel, rel_low, rel_high = p1 / p2 - 1, float(rlow) - 1, float(rhigh) - 1
    return Stats(p1, p2, p1 - p2, float(low), float(high), rel, rel_low, rel_high, p_value)
