"""The KPI metrics a plan can name in kpis.yaml: the unit each is reported in and the
parameters it reads (docs/kpis.md defines each; `crmspec.analysis.kpi` computes them)."""

from __future__ import annotations

RATE, MONEY, COUNT = "rate", "money", "count"


UNITS = {
    "repeat_purchase_rate": RATE,
    "second_purchase_rate": RATE,
    "stage_purchase_rate": RATE,
    "cohort_order_value": MONEY,
    "retention": RATE,
    "reactivation_rate": RATE,
    "activation_rate": RATE,
    "active_arpu": MONEY,
    "aov": MONEY,
    "members_per_tier": COUNT,
    "sleeping_members": COUNT,
    "purchasers": COUNT,
    "repeat_purchasers": COUNT,
}


# Parameters each metric kind reads (besides description and target). Any other given
# parameter is an error rather than silently ignored.
PARAMS = {
    "repeat_purchase_rate": {"within_days", "customers"},
    "repeat_purchasers": {"within_days", "customers"},
    "second_purchase_rate": {"within_days", "customers"},
    "stage_purchase_rate": {"from_days", "to_days", "customers"},
    "cohort_order_value": {"within_days", "customers"},
    "retention": {"within_days", "customers"},
    "reactivation_rate": {"activity", "customers"},
    "activation_rate": {"activity", "customers"},
    "active_arpu": {"customers"},
    "aov": {"customers"},
    "purchasers": {"customers"},
    "members_per_tier": {"customers"},
    "sleeping_members": {"from_days", "to_days", "customers"},
}


SLEEPING_DEFAULT = (90, 365)  # 沉睡会员: last purchase 3 months to a year ago
