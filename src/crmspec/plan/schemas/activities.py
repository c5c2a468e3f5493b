"""activities.yaml: what is sent to whom, when, through which channel, with which
offer, control group and budget."""

from __future__ import annotations

from crmspec.plan.schemas.common import (
    CHANNEL_NAME,
    COOLDOWN,
    DATE,
    DAYS,
    DESCRIPTION,
    LEAD_DAYS,
    MIN_EFFECT,
    MONEY,
    NAME,
    SEND_WINDOW,
    SHARE,
    SLUG,
    TEMPLATE_NAME,
    TRIM_ORDER,
    WEEKDAY,
    described,
    list_or_one,
    obj,
    sorted_channels,
)


def coupon() -> dict:
    return obj(
        "Coupon",
        "The coupon the activity offers; templates show it as {{ coupon.amount }} etc.",
        {
            "name": described(NAME, "Coupon name, e.g. 老客回购券."),
            "amount": described(MONEY, "Face value."),
            "min_spend": described(MONEY, "Minimum order amount to use it (满X可用)."),
            "code": {"type": "string", "minLength": 1,
                     "description": "Code or claim link id, if any."},
            "valid_days": described(DAYS, "Days it stays valid after sending.", minimum=1),
            "expected_redemption": described(SHARE, "Expected share of recipients who use "
                                             "it; the budget counts amount x this per "
                                             "contact (default 0)."),
        },
        required=["amount"],
        examples=[{"name": "回购券", "amount": 20, "min_spend": 199, "valid_days": 7}],
    )


def activities_schema(channels: dict) -> dict:
    order_event = {"type": "string", "enum": ["ordered_unpaid", "paid", "shipped", "signed",
                                              "first_purchase", "last_purchase"]}
    trigger = {
        "description": "When a customer of the segment qualifies. Default: in the segment "
        "on the as-of date (state).",
        "oneOf": [
            obj("State trigger", "In the segment on the as-of date.",
                {"type": {"const": "state", "description": "Trigger kind."},
                 "cooldown_days": COOLDOWN},
                required=["type"]),
            obj("Order-event trigger", "N days (or a window of days) after an order event.",
                {"type": {"const": "after_order", "description": "Trigger kind."},
                 "event": described(order_event, "The order event."),
                 "days": described(DAYS, "Exactly N days after the event (0 = same day)."),
                 "window": {"type": "array", "items": DAYS, "minItems": 2, "maxItems": 2,
                            "description": "Between [first, last] days after, inclusive; "
                            "the contact goes once."},
                 "amount": obj("Order amount", "Only orders of this value (ordered_unpaid, "
                               "paid, shipped, signed), e.g. a payment reminder split by "
                               "order value: {max: 500} and {min: 500} never overlap.",
                               {"min": described(MONEY, "At least this amount."),
                                "max": described(MONEY, "Less than this amount.")},
                               minProperties=1),
                 "cooldown_days": COOLDOWN},
                required=["type", "event"]),
            obj("Birthday trigger", "N days before the customer's birthday (Feb 29 "
                "birthdays count on Feb 28 in common years). Off when shop.yaml contact."
                "birthday_greetings is false.",
                {"type": {"const": "birthday", "description": "Trigger kind."},
                 "lead_days": LEAD_DAYS, "cooldown_days": COOLDOWN},
                required=["type"]),
            obj("Membership anniversary trigger", "N days before the anniversary of "
                "registered_at (from the first year on).",
                {"type": {"const": "membership_anniversary", "description": "Trigger kind."},
                 "lead_days": LEAD_DAYS, "cooldown_days": COOLDOWN},
                required=["type"]),
            obj("Calendar trigger", "N days before a holiday or promotion of calendar.yaml, "
                "or before fixed dates.",
                {"type": {"const": "calendar", "description": "Trigger kind."},
                 "holiday": described(SLUG, "A holiday or promotion id from calendar.yaml."),
                 "dates": {"type": "array", "items": DATE, "minItems": 1,
                           "description": "Fixed dates (YYYY-MM-DD)."},
                 "lead_days": LEAD_DAYS, "cooldown_days": COOLDOWN},
                required=["type"]),
            obj("Weekly trigger", "On these weekdays (new arrivals every Tuesday).",
                {"type": {"const": "weekly", "description": "Trigger kind."},
                 "weekdays": list_or_one(WEEKDAY, "Weekday(s)."),
                 "cooldown_days": COOLDOWN},
                required=["type", "weekdays"]),
            obj("Tier upgrade trigger", "The customer reached a higher tier since the "
                "previous build (the latest ledger run; the day before without one).",
                {"type": {"const": "tier_upgrade", "description": "Trigger kind."},
                 "cooldown_days": COOLDOWN},
                required=["type"]),
            obj("Downgrade warning trigger", "N days before the tier review date "
                "(tiers.yaml evaluation.review_date), for customers whose spend in the "
                "evaluation window ending on that date (purchases known so far) falls short "
                "of their tier.",
                {"type": {"const": "tier_downgrade_warning", "description": "Trigger kind."},
                 "days_before": described(DAYS, "Days before the review date.", minimum=1),
                 "cooldown_days": COOLDOWN},
                required=["type", "days_before"]),
        ],
    }
    activity = obj(
        "Activity",
        "One planned activity of the contact plan (接触计划).",
        {
            "id": described(SLUG, "Activity id."),
            "name": described(NAME, "Activity name, e.g. 评价有礼."),
            "description": DESCRIPTION,
            "kind": {"type": "string", "enum": ["maintenance", "marketing"],
                     "description": "maintenance (维系类: service, care) or marketing "
                     "(营销类: value, promotion)."},
            "stage": list_or_one(SLUG, "The lifecycle stage(s) whose plan the activity "
                                 "belongs to (domain rules 1 and 2 are checked per stage)."),
            "segment": described(SLUG, "The segment it targets (domain rule 5)."),
            "channel": CHANNEL_NAME,
            "trigger": trigger,
            "priority": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100,
                         "description": "Higher wins when contact limits force a choice."},
            "service": {"type": "boolean", "default": False,
                        "description": "A service message (shipping notice, payment "
                        "reminder): exempt from marketing limits and opt-outs of marketing."},
            "holdout": described(SHARE, "Share of the audience held out as a control group.",
                                 maximum=0.5),
            "kpi": described(SLUG, "The KPI (kpis.yaml) that judges this activity."),
            "owner": {"type": "string", "description": "Who runs it (role or person)."},
            "purpose": {"type": "string", "description": "Why it exists, in a sentence."},
            "template": TEMPLATE_NAME,
            "channel_options": {
                "type": "object",
                "description": "Options of the activity's channel (e.g. email subject, "
                "wechat template_id, parcel insert_sku); each channel's options are listed "
                "in docs/plugins.md. Shop-wide defaults: shop.yaml channels.<channel>.",
            },
            "coupon": coupon(),
            "send_windows": {"type": "array", "items": SEND_WINDOW, "minItems": 1,
                             "description": "When to send, replacing the channel's default "
                             "windows for this activity."},
            "budget": obj("Activity budget", "A cost cap per build; over it, contacts are "
                          "trimmed in the declared order.",
                          {"cap": described(MONEY, "Most the activity may cost in one build."),
                           "keep_first": TRIM_ORDER},
                          required=["cap"]),
            "min_effect": MIN_EFFECT,
        },
        required=["id", "name", "kind", "stage", "segment", "channel"],
        examples=[{"id": "review_reward", "name": "评价有礼", "kind": "maintenance",
                   "stage": "after_sale", "segment": "signed_recently", "channel": "sms",
                   "trigger": {"type": "after_order", "event": "signed", "window": [3, 5]}}],
    )
    # Each channel's options apply when the activity names that channel.
    activity["allOf"] = [
        {"if": {"properties": {"channel": {"const": name}}, "required": ["channel"]},
         "then": {"properties": {"channel_options": ch.options_schema()}}}
        for name, ch in sorted_channels(channels).items()
    ]
    return obj(
        "Activities",
        "activities.yaml: the contact plan.",
        {"activities": {"type": "array", "items": activity, "minItems": 1,
                        "description": "The activities."}},
        required=["activities"],
    )
