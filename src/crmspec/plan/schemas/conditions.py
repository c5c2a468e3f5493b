"""The condition language of segments (`where`, `any_of`, `not`), defined once and
referenced from segments.yaml as `#/$defs/conditions`."""

from __future__ import annotations

from typing import Any

from crmspec.plan.schemas.common import (
    ATTRIBUTE_TEST,
    DAYS,
    RANGE,
    SCORE_RANGE,
    SLUG,
    described,
    list_or_one,
    obj,
)


def conditions() -> dict:
    """The segment condition language: a mapping of tests, all of which must hold."""
    props: dict[str, Any] = {
        "stage": list_or_one(SLUG, "Lifecycle stage id(s) (from lifecycle.yaml): any of."),
        "customer_type": list_or_one(
            {"type": "string", "enum": ["potential", "new", "returning", "fans"]},
            "potential (never bought), new (1 purchase), returning (2+; fans included), "
            "fans (returning with at least shop.yaml customers.fans_min_purchases). Any of.",
        ),
        "tier": list_or_one(
            SLUG, "Member tier id(s) from tiers.yaml, or `none` for customers below every tier."
        ),
        "tier_at_least": described(SLUG, "This tier id or a higher one."),
        "purchases": described(RANGE, "Number of purchases (see shop.yaml purchase) ever made."),
        "spend": described(RANGE, "Cumulative spend, in the tier evaluation window of tiers.yaml."),
        "days_since_last_purchase": described(
            RANGE, "Days since the last purchase (as-of date minus purchase date)."
        ),
        "rfm": obj(
            "RFM scores",
            "RFM quantile scores 1-5 (5 best) among customers who bought; all given must hold.",
            {
                "r": described(SCORE_RANGE, "Recency score: 5 = most recent fifth."),
                "f": described(SCORE_RANGE, "Frequency score: 5 = most purchases."),
                "m": described(SCORE_RANGE, "Monetary score: 5 = highest spend."),
            },
            examples=[{"r": [4, 5], "m": {"min": 4}}],
            minProperties=1,
        ),
        "attributes": {
            "type": "object",
            "description": "Tests on customer columns (see the data docs): column -> test. "
            "All must hold.",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": ATTRIBUTE_TEST,
            "minProperties": 1,
            "examples": [{"province": ["浙江", "江苏", "上海"], "city_tier": {"max": 2}}],
        },
        "intent": obj(
            "Intent",
            "Recent intent: an event of one of these types within the last N days "
            "(as-of date included) and no purchase since.",
            {
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {
                        "type": "string",
                        "enum": [
                            "visit",
                            "favorite",
                            "cart",
                            "inquiry",
                            "search",
                            "ad_click",
                            "unpaid_order",
                        ],
                    },
                    "description": "Event types (any of); unpaid_order means an order "
                    "placed and still unpaid.",
                },
                "within_days": described(DAYS, "Window: the as-of date and the N-1 days before it.",
                                         minimum=1),
                "not_bought_since": {
                    "type": "boolean",
                    "default": True,
                    "description": "Require no purchase after the latest such event "
                    "(default true).",
                },
            },
            required=["events", "within_days"],
            examples=[{"events": ["cart"], "within_days": 30}],
        ),
        "in_segment": list_or_one(SLUG, "Member of any of these segments."),
        "not_in_segment": list_or_one(SLUG, "Member of none of these segments."),
        "sql": {
            "type": "string",
            "minLength": 1,
            "description": "Escape hatch: a SQL condition on customer columns and facts "
            "(stage, tier, purchases, spend, days_since_last_purchase, r, f, m...). It is "
            "parsed and restricted to known columns and an allowlist of functions.",
            "examples": ["city_tier <= 2 AND gender = 'F'"],
        },
    }
    cond = {
        "type": "object",
        "title": "Conditions",
        "description": "Tests a customer must pass; all given keys must hold (AND). Use "
        "any_of for OR and not for negation.",
        "properties": props,
        "additionalProperties": False,
        "minProperties": 1,
    }
    props["any_of"] = {
        "type": "array",
        "minItems": 2,
        "items": {"$ref": "#/$defs/conditions"},
        "description": "At least one of these condition sets holds (OR).",
    }
    props["not"] = {"$ref": "#/$defs/conditions", "description": "These conditions do not hold."}
    return cond
