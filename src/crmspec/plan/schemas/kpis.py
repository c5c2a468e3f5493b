"""kpis.yaml: the indicators a shop watches, their targets, and the weekly monitoring
table."""

from __future__ import annotations

from crmspec.plan.schemas.common import (
    DAYS,
    DESCRIPTION,
    NAME,
    SLUG,
    described,
    obj,
)


def kpis_schema() -> dict:
    buyer_metrics = ["repeat_purchase_rate", "repeat_purchasers", "purchasers", "active_arpu",
                     "aov", "retention"]
    kpi = obj(
        "KPI",
        "A metric with targets. docs/kpis.md defines every metric kind exactly.",
        {
            "id": described(SLUG, "KPI id."),
            "name": described(NAME, "KPI name, e.g. 新客45天复购率."),
            "description": DESCRIPTION,
            "metric": {"type": "string",
                       "enum": ["repeat_purchase_rate", "second_purchase_rate",
                                "stage_purchase_rate", "cohort_order_value", "retention",
                                "reactivation_rate", "activation_rate", "active_arpu", "aov",
                                "members_per_tier", "sleeping_members", "purchasers",
                                "repeat_purchasers"],
                       "description": "The metric kind (docs/kpis.md)."},
            "within_days": described(DAYS, "N days, day N included. repeat_purchase_rate "
                                     "and repeat_purchasers: a purchase within N days of the "
                                     "previous one (omit: 2+ purchases in the period); "
                                     "second_purchase_rate: the second purchase within N days "
                                     "of the first; retention: the next purchase within N days "
                                     "of the last one in the period; cohort_order_value: "
                                     "customers in the recency band [0, N) at the start of the "
                                     "period. Required by the last three.",
                                     minimum=1),
            "from_days": described(DAYS, "Start of the recency band (days since the last "
                                   "purchase), inclusive: at the start of the period for "
                                   "stage_purchase_rate (required), at its end for "
                                   "sleeping_members (default 90)."),
            "to_days": described(DAYS, "End of the recency band, exclusive; omit for an open band "
                                 "(sleeping_members without from_days/to_days: [90, 365)).",
                                 minimum=1),
            "customers": {"type": "string", "enum": ["all", "new", "returning"],
                          "default": "all", "description": "Which customers. Metrics on the "
                          "period's buyers (" + ", ".join(buyer_metrics) + "): new = "
                          "first-time buyers, returning = bought before the period. Recency "
                          "bands and member counts: new = 1 purchase, returning = 2+, at the "
                          "start (stage_purchase_rate, cohort_order_value) or the end "
                          "(sleeping_members, members_per_tier) of the period."},
            "activity": described(SLUG, "For reactivation/activation (required): the "
                                  "activity whose contacts are measured (needs the contact "
                                  "ledger)."),
            "target": obj("Target", "Thresholds for the status: at or above good is good, "
                          "below watch is bad, in between watch (reversed when "
                          "lower_is_better).",
                          {"good": {"type": "number", "description": "Good from here."},
                           "watch": {"type": "number", "description": "Watch below good; "
                                     "bad beyond this. Omitted: short of good is watch."},
                           "lower_is_better": {"type": "boolean", "default": False,
                                               "description": "Lower values are better."},
                           "period": {"type": "string", "enum": ["week", "month"],
                                      "description": "The period length the thresholds "
                                      "are set for: reports of the other length leave the "
                                      "status empty. Omit for values that do not grow with "
                                      "the period (order values, cohort rates)."}}),
        },
        required=["id", "name", "metric"],
        examples=[{"id": "new_repeat_45", "name": "新客45天复购率", "metric":
                   "stage_purchase_rate", "from_days": 0, "to_days": 45, "customers": "new"}],
        allOf=[
            {"if": {"properties": {"metric": {"const": "stage_purchase_rate"}},
                    "required": ["metric"]},
             "then": {"required": ["from_days"]}},
            {"if": {"properties": {"metric": {"enum": ["second_purchase_rate", "retention",
                                                       "cohort_order_value"]}},
                    "required": ["metric"]},
             "then": {"required": ["within_days"]}},
            {"if": {"properties": {"metric": {"enum": ["reactivation_rate",
                                                       "activation_rate"]}},
                    "required": ["metric"]},
             "then": {"required": ["activity"]}},
        ],
    )
    return obj(
        "KPIs",
        "kpis.yaml: the indicators the plan is judged by (`crmspec kpi`).",
        {
            "kpis": {"type": "array", "items": kpi, "minItems": 1, "description": "The KPIs."},
            "monitoring": obj("Weekly monitoring table", "The weekly monitoring table "
                              "(`crmspec kpi --monitoring`): one row a period.",
                              {"kpis": {"type": "array", "items": SLUG, "minItems": 1,
                                        "description": "KPI ids: the columns, in order."},
                               "changes": {"type": "array", "items": SLUG,
                                           "uniqueItems": True,
                                           "description": "KPIs of `kpis` whose change "
                                           "(this period's value / the previous one's, "
                                           "环比) gets a column after theirs; a last column "
                                           "multiplies these changes (综合变化)."}},
                              required=["kpis"]),
        },
        required=["kpis"],
    )
