"""The three files that split customers: lifecycle.yaml (stages by recency),
tiers.yaml (member tiers by spend) and segments.yaml (named condition sets)."""

from __future__ import annotations

from crmspec.plan.schemas.common import (
    DAYS,
    DESCRIPTION,
    MONEY,
    NAME,
    SLUG,
    described,
    obj,
)
from crmspec.plan.schemas.conditions import conditions


def tiers_schema() -> dict:
    tier = obj(
        "Tier",
        "A member tier reached by cumulative spend (and optionally a purchase count).",
        {
            "id": described(SLUG, "Tier id, used by segments."),
            "name": described(NAME, "Tier name, e.g. 高级会员."),
            "min_spend": described(MONEY, "Cumulative spend needed (inclusive)."),
            "min_purchases": {"type": "integer", "minimum": 1,
                              "description": "Purchases also needed (optional)."},
            "discount": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                         "description": "Price factor members pay: 0.95 is 95折 (5% off)."},
            "benefits": {"type": "array", "items": {"type": "string"},
                         "description": "Benefits, for people and message templates."},
        },
        required=["id", "name", "min_spend"],
        examples=[{"id": "vip1", "name": "普通会员", "min_spend": 500, "discount": 0.95}],
    )
    return obj(
        "Member tiers",
        "tiers.yaml: member tiers by cumulative spend, lowest first.",
        {
            "evaluation": obj(
               "Tier evaluation",
               "Which spend counts towards tiers.",
               {
                    "window_days": described(DAYS, "Only spend of the last N days counts "
                                             "(omit: all time).", minimum=1),
                    "review_date": {"type": "string", "pattern": "^[0-9]{2}-[0-9]{2}$",
                                    "description": "MM-DD on which tiers are re-evaluated "
                                    "each year (downgrades take effect then)."},
               },
            ),
            "tiers": {"type": "array", "items": tier, "minItems": 1,
                      "description": "Tiers in increasing order of min_spend."},
        },
        required=["tiers"],
    )


def lifecycle_schema() -> dict:
    contacts = obj(
        "Contacts per stage",
        "Domain rule 4: contacts per customer while in the stage have a lower and an "
        "upper bound.",
        {
            "min": {"type": "integer", "minimum": 0, "description": "Lower bound (reported)."},
            "max": {"type": "integer", "minimum": 0, "description": "Upper bound (enforced)."},
        },
    )
    stage = obj(
        "Stage",
        "A lifecycle stage: a band of days since the last purchase, [from_days, to_days), "
        "or the customers who never bought (never_purchased: true).",
        {
            "id": described(SLUG, "Stage id, used by segments and activities."),
            "name": described(NAME, "Stage name, e.g. 活跃期."),
            "description": DESCRIPTION,
            "from_days": described(DAYS, "First day of the band (inclusive)."),
            "to_days": described(DAYS, "End of the band (exclusive); omit for the last, open band.",
                                 minimum=1),
            "never_purchased": {"const": True, "description": "The stage of customers with no "
                                "purchase yet (潜在客户)."},
            "maintenance_required": {"type": "boolean", "default": True,
                                     "description": "Domain rule 1: the stage needs a "
                                     "maintenance activity. Set false where the plan decides "
                                     "otherwise (e.g. dead customers)."},
            "contacts": contacts,
        },
        required=["id", "name"],
        examples=[{"id": "active", "name": "活跃期", "from_days": 7, "to_days": 45}],
    )
    return obj(
        "Lifecycle",
        "lifecycle.yaml: stages by days since the last purchase. The bands must cover "
        "0 to infinity without gaps or overlaps.",
        {"stages": {"type": "array", "items": stage, "minItems": 1,
                    "description": "Stages in order of recency."}},
        required=["stages"],
    )


def segments_schema() -> dict:
    segment = obj(
        "Segment",
        "A named set of customers.",
        {
            "id": described(SLUG, "Segment id, used by activities."),
            "name": described(NAME, "Segment name, e.g. 新客·活跃期."),
            "description": DESCRIPTION,
            "where": {"$ref": "#/$defs/conditions",
                      "description": "Who is in the segment."},
            "everyone": {"const": True, "description": "Say it explicitly: every customer "
                         "(domain rule 5 asks for a specific segment)."},
        },
        required=["id", "name"],
        examples=[{"id": "new_active", "name": "新客·活跃期",
                   "where": {"stage": "active", "customer_type": "new"}}],
    )
    rfm = obj(
        "RFM scores",
        "How the R, F and M scores of `rfm` conditions are computed.",
        {"window_days": described(DAYS, "Score the customers who bought in the last N days, "
                                  "F and M over their purchases in those days (omit: all "
                                  "purchases, every buyer). Independent of the tier window.",
                                  minimum=1)},
    )
    schema = obj(
        "Segments",
        "segments.yaml: named customer segments.",
        {"rfm": rfm,
         "segments": {"type": "array", "items": segment, "minItems": 1,
                      "description": "The segments."}},
        required=["segments"],
    )
    schema["$defs"] = {"conditions": conditions()}
    return schema
