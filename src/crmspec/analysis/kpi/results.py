"""What `crmspec kpi` reports: one row per KPI, period and group, with the previous
value, the change and the target status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from crmspec.analysis.kpi.periods import Period

# Statuses besides the target ones (good / watch / bad).
NO_DATA = "no_data"  # nobody to measure (denominator 0)


PENDING = "pending"  # the metric's look-ahead window has not closed by the as-of date


NEEDS_LEDGER = "needs_ledger"  # the contact ledger holds no run yet


LEDGER_NOTE = ("the contact ledger holds no run yet: crmspec build records whom the "
               "activity contacted")


@dataclass
class KpiRow:
    period: str
    start: date
    end: date
    kpi: str
    name: str
    metric: str
    group: str | None  # the tier, for members_per_tier
    unit: str  # rate | money | count
    value: float | int | None
    previous: float | int | None = None
    change: float | int | None = None  # value - previous
    ratio: float | None = None  # value / previous (环比)
    status: str | None = None
    numerator: float | int | None = None
    denominator: int | None = None
    note: str | None = None


@dataclass
class KpiReport:
    shop: str
    as_of: date
    unit: str  # week | month
    periods: list[Period]
    rows: list[KpiRow]
    monitoring: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def target_status(value: float, target: dict | None, unit: str | None = None) -> str | None:
    """good at or beyond `good`, bad beyond `watch` (below it; above it when
    lower_is_better), watch in between; None without thresholds, or when the target is
    set for another period length than `unit`."""
    if not target or (target.get("good") is None and target.get("watch") is None):
        return None
    if unit is not None and target.get("period", unit) != unit:
        return None
    low = target.get("lower_is_better", False)

    def reaches(threshold: float) -> bool:
        return value <= threshold if low else value >= threshold

    if target.get("good") is not None and reaches(target["good"]):
        return "good"
    if target.get("watch") is not None and not reaches(target["watch"]):
        return "bad"
    return "watch"
