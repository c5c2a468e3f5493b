"""What `crmspec evaluate` reports: a row per activity and run, per activity (its closed
runs pooled) and in total, each with its status."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime

# statuses
PENDING = "pending"  # the response window has not closed by the as-of date


NO_CONTROL = "no_control"  # nobody held out: nothing to compare with


NO_TREATMENT = "no_treatment"  # everybody held out


NO_CONTACTS = "no_contacts"  # the activity has no contacts in the ledger


SIGNIFICANT = "significant"  # p < alpha (the sign of the uplift says which way)


# The groups are below the power check's minimum (contact.power.check_groups): whatever
# the p-value, no verdict; the note says how many runs must be pooled.
UNDERPOWERED = "underpowered"


NOT_SIGNIFICANT = "not_significant"


SUM = "sum"  # the total row: the measured activities added up


NOTHING = "nothing_measured"  # the total row when no activity has a measured uplift


RUN, ACTIVITY, TOTAL = "run", "activity", "total"


TOTAL_ID = "(all activities)"


@dataclass
class EvalRow:
    level: str  # run | activity | total
    activity: str
    run: date | None  # the run's as-of date; None for an activity's or the total's row
    runs: int  # runs pooled (closed ones for activity and total rows)
    window_days: int
    sent_at: datetime | None  # the run's send time (first one of the pooled runs)
    window_closes: datetime | None  # end of the last window (exclusive)
    status: str
    treatment: int = 0
    control: int = 0
    treatment_responders: int | None = None
    control_responders: int | None = None
    treatment_rate: float | None = None
    control_rate: float | None = None
    uplift: float | None = None
    uplift_low: float | None = None
    uplift_high: float | None = None
    relative_uplift: float | None = None
    relative_low: float | None = None
    relative_high: float | None = None
    p_value: float | None = None
    # Benjamini-Hochberg adjusted p-value across the activities evaluated together
    # (activity rows), and the verdict at alpha on it
    q_value: float | None = None
    fdr_status: str | None = None
    treatment_revenue: float | None = None
    revenue_per_responder: float | None = None
    incremental_orders: float | None = None
    incremental_revenue: float | None = None
    cost: float = 0.0
    roi: float | None = None
    power: float | None = None  # to show the minimum effect with these group sizes
    underpowered: bool | None = None
    needed_audience: int | None = None
    runs_needed: int | None = None  # runs like this row's (on average) pooled to be enough
    true_uplift: float | None = None  # the simulation's, when the demo was simulated
    expected_uplift: float | None = None  # what the simulation makes measurable (overlaps)
    note: str | None = None


COLUMNS = tuple(f.name for f in fields(EvalRow))


@dataclass
class EvalReport:
    shop: str
    as_of: date
    window_days: int
    alpha: float
    currency: str
    rows: list[EvalRow] = field(default_factory=list)
    simulated: bool = False  # the ledger holds a simulation's truth (the demo)
