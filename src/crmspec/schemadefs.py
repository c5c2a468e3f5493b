"""The plan language, defined once: builds the JSON Schema of every plan file kind.

The committed `schemas/*.schema.json` files (also shipped in the package) are the output
of `build_schemas()`; `crmspec schemas --write` regenerates them and a test fails when
they drift. Writing the schemas as Python lets shared pieces (ids, day windows, the
condition language) be defined once, and lets channel plugins merge their option
schemas in later.

Every object is closed (`additionalProperties: false`) so that a misspelt key is an
error, and every property has a description: editors show it on hover, and the docs
test checks that each property is documented.
"""

from __future__ import annotations

import copy
import json
from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_URL = "https://crmspec.dev/schemas/"

SLUG = {
    "type": "string",
    "pattern": "^[a-z][a-z0-9_]{0,62}$",
    "description": "An id: lower-case letters, digits and underscores, starting with a letter.",
}
NAME = {"type": "string", "minLength": 1, "description": "Display name; Chinese is fine."}
DESCRIPTION = {"type": "string", "description": "Free text for people; Markdown is fine."}
DATE = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "format": "date",
    "description": "A calendar date, YYYY-MM-DD, in the shop's timezone.",
}
DAYS = {"type": "integer", "minimum": 0, "maximum": 36500, "description": "A number of days."}
SHARE = {"type": "number", "minimum": 0, "maximum": 1, "description": "A share between 0 and 1."}
MONEY = {"type": "number", "minimum": 0, "description": "An amount in the shop's currency."}
HHMM = {
    "type": "string",
    "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
    "description": "A time of day, HH:MM, 24-hour clock, in the shop's timezone.",
}
CHANNEL_NAME = {
    "type": "string",
    "pattern": "^[a-z][a-z0-9_]{0,62}$",
    "description": "A channel name: sms, email, wechat, wangwang, parcel, phone, or one a "
    "plugin registers (`crmspec plugins` lists them).",
}

STAGE_IDS_DOC = "Lifecycle stage ids from lifecycle.yaml."
COOLDOWN = {"type": "integer", "minimum": 1, "maximum": 36500,
            "description": "Not again within N days (from the contact ledger)."}
LEAD_DAYS = {"type": "integer", "minimum": 0, "maximum": 366, "default": 0,
             "description": "Days ahead of the date (3: three days before)."}
WEEKDAY = {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
           "description": "A weekday."}
SEND_WINDOW = {
    "type": "object",
    "title": "Send window",
    "description": "A time band on some weekdays, in the shop's timezone.",
    "properties": {
        "days": {"type": "array", "items": WEEKDAY, "minItems": 1, "uniqueItems": True,
                 "description": "Weekdays the window is open."},
        "start": {**HHMM, "description": "Opens at HH:MM."},
        "end": {**HHMM, "description": "Closes at HH:MM (exclusive)."},
    },
    "required": ["days", "start", "end"],
    "additionalProperties": False,
    "examples": [{"days": ["tue", "wed", "thu"], "start": "08:00", "end": "10:00"}],
}
TRIM_ORDER = {
    "type": "object",
    "title": "Trim order",
    "description": "Which contacts to keep first when a budget is short (ties: customer id).",
    "properties": {
        "by": {"type": "string", "enum": ["spend", "purchases", "days_since_last_purchase",
                                          "r", "f", "m"], "description": "The fact to sort by."},
        "order": {"type": "string", "enum": ["desc", "asc"], "default": "desc",
                  "description": "desc: highest first; asc: lowest first."},
    },
    "required": ["by"],
    "additionalProperties": False,
    "examples": [{"by": "spend", "order": "desc"}],
}
MIN_EFFECT = {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
              "description": "Smallest uplift in response rate worth detecting, absolute "
              "(0.01: one percentage point), for the control-group power check."}
LIMIT_WINDOW = {
    "type": "object",
    "title": "Contact limit",
    "description": "At most `max` contacts in any `days` consecutive calendar days.",
    "properties": {
        "days": {"type": "integer", "minimum": 1, "maximum": 366,
                 "description": "Window length in calendar days (the as-of date included)."},
        "max": {"type": "integer", "minimum": 0, "description": "Contacts allowed in it."},
    },
    "required": ["days", "max"],
    "additionalProperties": False,
    "examples": [{"days": 7, "max": 2}],
}


def _obj(
    title: str,
    description: str,
    properties: dict[str, Any],
    required: list[str] | None = None,
    examples: list | None = None,
    **extra: Any,
) -> dict:
    out: dict[str, Any] = {"type": "object", "title": title, "description": description}
    out["properties"] = properties
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    if examples:
        out["examples"] = examples
    out.update(extra)
    return out


def _d(schema: dict, description: str, **extra: Any) -> dict:
    """A copy of a shared schema piece with its own description."""
    out = copy.deepcopy(schema)
    out["description"] = description
    out.update(extra)
    return out


def _list_or_one(item: dict, description: str) -> dict:
    return {
        "description": description,
        "oneOf": [
            _d(item, "One value."),
            {"type": "array", "items": item, "minItems": 1, "description": "Any of these values."},
        ],
    }


RANGE = _obj(
    "Range",
    "An inclusive numeric range; give min, max or both.",
    {
        "min": {"type": "number", "description": "Smallest value allowed (inclusive)."},
        "max": {"type": "number", "description": "Largest value allowed (inclusive)."},
    },
    examples=[{"min": 2, "max": 3}],
    minProperties=1,
)

ATTRIBUTE_TEST = {
    "description": "A test on one customer column: a value, a list of values (any of), "
    "a range {min, max}, or {not: value(s)}, or {missing: true|false}.",
    "oneOf": [
        {"type": ["string", "number", "boolean"], "description": "Equal to this value."},
        {
            "type": "array",
            "items": {"type": ["string", "number", "boolean"]},
            "minItems": 1,
            "description": "Equal to any of these values.",
        },
        RANGE,
        _obj(
            "Not",
            "Not equal to the value(s); customers with no value are excluded too.",
            {
                "not": {
                    "description": "Value or values the column must not have.",
                    "type": ["string", "number", "boolean", "array"],
                    "items": {"type": ["string", "number", "boolean"]},
                }
            },
            required=["not"],
        ),
        _obj(
            "Missing",
            "Whether the column is empty (NULL).",
            {"missing": {"type": "boolean", "description": "true: empty; false: has a value."}},
            required=["missing"],
        ),
    ],
}

SCORE_RANGE = {
    "description": "RFM score(s) 1-5: a list of scores or a range {min, max}.",
    "oneOf": [
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 5},
            "minItems": 1,
            "description": "Any of these scores.",
        },
        RANGE,
    ],
}


def _conditions() -> dict:
    """The segment condition language: a mapping of tests, all of which must hold."""
    props: dict[str, Any] = {
        "stage": _list_or_one(SLUG, "Lifecycle stage id(s) (from lifecycle.yaml): any of."),
        "customer_type": _list_or_one(
            {"type": "string", "enum": ["potential", "new", "returning", "fans"]},
            "potential (never bought), new (1 purchase), returning (2+; fans included), "
            "fans (returning with at least shop.yaml customers.fans_min_purchases). Any of.",
        ),
        "tier": _list_or_one(
            SLUG, "Member tier id(s) from tiers.yaml, or `none` for customers below every tier."
        ),
        "tier_at_least": _d(SLUG, "This tier id or a higher one."),
        "purchases": _d(RANGE, "Number of purchases (see shop.yaml purchase) ever made."),
        "spend": _d(RANGE, "Cumulative spend, in the tier evaluation window of tiers.yaml."),
        "days_since_last_purchase": _d(
            RANGE, "Days since the last purchase (as-of date minus purchase date)."
        ),
        "rfm": _obj(
            "RFM scores",
            "RFM quantile scores 1-5 (5 best) among customers who bought; all given must hold.",
            {
                "r": _d(SCORE_RANGE, "Recency score: 5 = most recent fifth."),
                "f": _d(SCORE_RANGE, "Frequency score: 5 = most purchases."),
                "m": _d(SCORE_RANGE, "Monetary score: 5 = highest spend."),
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
        "intent": _obj(
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
                "within_days": _d(DAYS, "Window: the as-of date and the N-1 days before it.",
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
        "in_segment": _list_or_one(SLUG, "Member of any of these segments."),
        "not_in_segment": _list_or_one(SLUG, "Member of none of these segments."),
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


def shop_schema(channels=None) -> dict:
    column_map = {
        "type": "object",
        "description": "Canonical column name -> the column name in your data.",
        "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
        "additionalProperties": {"type": "string", "minLength": 1},
        "examples": [{"customer_id": "buyer_id", "phone": "mobile"}],
    }
    data = _obj(
        "Data",
        "Where the shop's customers, orders and events are. `source: demo` generates a "
        "deterministic demo shop on first use.",
        {
            "source": {
                "type": "string",
                "enum": ["demo", "duckdb", "parquet", "csv"],
                "description": "demo (generated), a DuckDB database file, or a folder of "
                "Parquet or CSV files.",
            },
            "path": {
                "type": "string",
                "minLength": 1,
                "description": "Database file (duckdb) or folder (parquet, csv, demo), "
                "relative to the project root.",
            },
            "tables": _obj(
                "Table names",
                "Canonical table -> your table name (duckdb) or file name (parquet/csv). "
                "Defaults: customers, orders, events (+ .parquet / .csv).",
                {
                    "customers": {"type": "string", "minLength": 1, "description": "Customers."},
                    "orders": {"type": "string", "minLength": 1, "description": "Orders."},
                    "events": {"type": "string", "minLength": 1, "description": "Events."},
                },
            ),
            "columns": _obj(
                "Column mapping",
                "Per table, canonical column -> your column, for the columns named "
                "differently in your export.",
                {
                    "customers": _d(column_map, "Mapping for customers."),
                    "orders": _d(column_map, "Mapping for orders."),
                    "events": _d(column_map, "Mapping for events."),
                },
            ),
            "demo": _obj(
                "Demo shop",
                "Size and seed of the generated demo data (source: demo).",
                {
                    "customers": {"type": "integer", "minimum": 100, "maximum": 20000000,
                                  "description": "Number of customers.", "default": 20000},
                    "seed": {"type": "integer", "minimum": 0, "description": "Random seed.",
                             "default": 7},
                    "end_date": _d(DATE, "Date of the last order in the demo data."),
                },
            ),
        },
        required=["source", "path"],
        examples=[{"source": "parquet", "path": "data/export",
                   "columns": {"customers": {"customer_id": "buyer_id"}}}],
    )
    return _obj(
        "Shop settings",
        "shop.yaml: the shop, its data, and plan-wide rules.",
        {
            "name": _d(NAME, "The shop's name, as customers know it (SMS signatures use it)."),
            "platform": {"type": "string", "enum": ["taobao", "tmall", "jd", "pinduoduo",
                                                     "douyin", "own"],
                         "description": "Where the shop sells."},
            "timezone": {"type": "string", "default": "Asia/Shanghai",
                         "description": "IANA timezone of the shop; dates and send times are "
                         "in it.", "examples": ["Asia/Shanghai"]},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "CNY",
                         "description": "ISO 4217 currency code."},
            "as_of": {
                "description": "Default as-of date of a build: a date, or `latest` (the day "
                "after the last order in the data). `crmspec build --as-of` overrides it.",
                "oneOf": [_d(DATE, "A fixed date."),
                          {"const": "latest", "description": "Day after the last order."}],
                "default": "latest",
            },
            "data": data,
            "customers": _obj(
                "Customer types",
                "How purchases split customers into new, returning and fans.",
                {
                    "fans_min_purchases": {"type": "integer", "minimum": 3, "default": 4,
                                           "description": "Returning customers with at least "
                                           "this many purchases are fans (粉丝)."},
                },
            ),
            "purchase": _obj(
                "What counts as a purchase",
                "Stated once and used everywhere: lifecycle recency, purchases, spend, KPIs.",
                {
                    "statuses": {"type": "array", "items": {"type": "string",
                                 "enum": ["paid", "refunded"]}, "minItems": 1,
                                 "uniqueItems": True, "default": ["paid"],
                                 "description": "Order statuses that count (refunded orders "
                                 "are excluded by default)."},
                    "same_day": {"type": "string", "enum": ["once", "each"], "default": "once",
                                 "description": "Several orders on one day count as one "
                                 "purchase (once) or each (each)."},
                },
            ),
            "rules": _obj(
                "Plan rules",
                "Bounds the contact plan must respect (domain rule 2: the service/marketing "
                "ratio, e.g. 7 parts service to 3 parts marketing).",
                {
                    "maintenance_share": _d(RANGE, "Allowed share of maintenance activities "
                                            "among all activities of each lifecycle stage.",
                                            examples=[{"min": 0.3, "max": 0.8}]),
                },
            ),
            "contact": _obj(
                "Contact rules",
                "Who may be contacted how often: limits, suppression, hold-outs.",
                {
                    "salt": {"type": "string", "minLength": 1,
                             "description": "Secret-ish text mixed into the control-group "
                             "hash: change it to draw new control groups."},
                    "global_holdout": _d(SHARE, "Share of customers excluded from all "
                                         "marketing (a standing control group).", maximum=0.5),
                    "refund_days": {"type": ["integer", "null"], "minimum": 1, "default": 30,
                                    "description": "Customers with a refunded order placed "
                                    "within this many days get no marketing (null: off)."},
                    "birthday_greetings": {"type": "boolean", "default": True,
                                           "description": "false: birthday-triggered "
                                           "activities send nothing (some customers find "
                                           "them creepy)."},
                    "limits": _obj(
                        "Contact limits",
                        "Per customer, counted in calendar days; service activities are "
                        "exempt and not counted.",
                        {
                            "overall": {"type": "array", "items": LIMIT_WINDOW,
                                        "description": "Limits over all channels."},
                            "channels": {
                                "type": "object",
                                "description": "Limits per channel: channel -> windows.",
                                "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
                                "additionalProperties": {"type": "array",
                                                         "items": LIMIT_WINDOW},
                            },
                        },
                    ),
                },
            ),
            "budget": _obj(
                "Budget",
                "Spending caps across activities.",
                {
                    "monthly_cap": _d(MONEY, "Most the plan may cost in a calendar month "
                                      "(month-to-date from the ledger); over it, marketing "
                                      "is trimmed by priority."),
                    "months": {
                        "type": "object",
                        "description": "Caps of particular months, in place of monthly_cap "
                                       "(e.g. a bigger budget in the month of 618 or 双11): "
                                       "YYYY-MM -> amount.",
                        "propertyNames": {"pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"},
                        "additionalProperties": _d(MONEY, "The cap of that month."),
                        "examples": [{"2026-11": 40000}],
                    },
                },
            ),
            "evaluation": _obj(
                "Evaluation",
                "What control groups must be able to show (the power check).",
                {
                    "baseline_response": _d(SHARE, "Share of customers who buy within the "
                                            "evaluation window without a contact.",
                                            default=0.05),
                    "min_effect": MIN_EFFECT,
                    "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5,
                              "default": 0.05, "description": "Significance level."},
                    "power": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                              "default": 0.8, "description": "Wanted power."},
                    "window_days": {"type": "integer", "minimum": 1, "default": 7,
                                    "description": "Days after the send in which a paid "
                                    "order counts as a response."},
                },
            ),
            "ledger": _obj(
                "Contact ledger",
                "Where the record of every contact and hold-out is kept.",
                {"path": {"type": "string", "minLength": 1, "default": "state/ledger.duckdb",
                          "description": "DuckDB file, relative to the project root."}},
            ),
            "channels": _obj(
                "Channel settings",
                "Shop-wide defaults of channel options (e.g. the SMS signature); an "
                "activity's channel_options override them.",
                {name: ch.options_schema() for name, ch in _channels(channels).items()},
                examples=[{"sms": {"signature": "暖暖家居", "opt_out_text": "回T退订"}}],
            ),
        },
        required=["name", "data"],
        examples=[{"name": "暖暖家居旗舰店", "data": {"source": "demo", "path": "data/demo"}}],
    )


def tiers_schema() -> dict:
    tier = _obj(
        "Tier",
        "A member tier reached by cumulative spend (and optionally a purchase count).",
        {
            "id": _d(SLUG, "Tier id, used by segments."),
            "name": _d(NAME, "Tier name, e.g. 高级会员."),
            "min_spend": _d(MONEY, "Cumulative spend needed (inclusive)."),
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
    return _obj(
        "Member tiers",
        "tiers.yaml: member tiers by cumulative spend, lowest first.",
        {
            "evaluation": _obj(
                "Tier evaluation",
                "Which spend counts towards tiers.",
                {
                    "window_days": _d(DAYS, "Only spend of the last N days counts (omit: all "
                                      "time).", minimum=1),
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
    contacts = _obj(
        "Contacts per stage",
        "Domain rule 4: contacts per customer while in the stage have a lower and an "
        "upper bound.",
        {
            "min": {"type": "integer", "minimum": 0, "description": "Lower bound (reported)."},
            "max": {"type": "integer", "minimum": 0, "description": "Upper bound (enforced)."},
        },
    )
    stage = _obj(
        "Stage",
        "A lifecycle stage: a band of days since the last purchase, [from_days, to_days), "
        "or the customers who never bought (never_purchased: true).",
        {
            "id": _d(SLUG, "Stage id, used by segments and activities."),
            "name": _d(NAME, "Stage name, e.g. 活跃期."),
            "description": DESCRIPTION,
            "from_days": _d(DAYS, "First day of the band (inclusive)."),
            "to_days": _d(DAYS, "End of the band (exclusive); omit for the last, open band.",
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
    return _obj(
        "Lifecycle",
        "lifecycle.yaml: stages by days since the last purchase. The bands must cover "
        "0 to infinity without gaps or overlaps.",
        {"stages": {"type": "array", "items": stage, "minItems": 1,
                    "description": "Stages in order of recency."}},
        required=["stages"],
    )


def segments_schema() -> dict:
    segment = _obj(
        "Segment",
        "A named set of customers.",
        {
            "id": _d(SLUG, "Segment id, used by activities."),
            "name": _d(NAME, "Segment name, e.g. 新客·活跃期."),
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
    schema = _obj(
        "Segments",
        "segments.yaml: named customer segments.",
        {"segments": {"type": "array", "items": segment, "minItems": 1,
                      "description": "The segments."}},
        required=["segments"],
    )
    schema["$defs"] = {"conditions": _conditions()}
    return schema


def _channels(channels) -> dict:
    if channels is None:
        from crmspec.channels import builtin_channels

        channels = builtin_channels()
    return dict(sorted(channels.items()))


TEMPLATE_NAME = {
    "type": "string",
    "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$",
    "description": "Message template: files plans/templates/<template>.<channel>.j2 (or "
    "<template>.<channel>.<part>.j2 per part), Jinja2; see docs/plugins.md.",
}


def _coupon() -> dict:
    return _obj(
        "Coupon",
        "The coupon the activity offers; templates show it as {{ coupon.amount }} etc.",
        {
            "name": _d(NAME, "Coupon name, e.g. 老客回购券."),
            "amount": _d(MONEY, "Face value."),
            "min_spend": _d(MONEY, "Minimum order amount to use it (满X可用)."),
            "code": {"type": "string", "minLength": 1,
                     "description": "Code or claim link id, if any."},
            "valid_days": _d(DAYS, "Days it stays valid after sending.", minimum=1),
            "expected_redemption": _d(SHARE, "Expected share of recipients who use it; the "
                                      "budget counts amount x this per contact (default 0)."),
        },
        required=["amount"],
        examples=[{"name": "回购券", "amount": 20, "min_spend": 199, "valid_days": 7}],
    )


def activities_schema(channels=None) -> dict:
    order_event = {"type": "string", "enum": ["ordered_unpaid", "paid", "shipped", "signed",
                                              "first_purchase", "last_purchase"]}
    trigger = {
        "description": "When a customer of the segment qualifies. Default: in the segment "
        "on the as-of date (state).",
        "oneOf": [
            _obj("State trigger", "In the segment on the as-of date.",
                 {"type": {"const": "state", "description": "Trigger kind."},
                  "cooldown_days": COOLDOWN},
                 required=["type"]),
            _obj("Order-event trigger", "N days (or a window of days) after an order event.",
                 {"type": {"const": "after_order", "description": "Trigger kind."},
                  "event": _d(order_event, "The order event."),
                  "days": _d(DAYS, "Exactly N days after the event (0 = same day)."),
                  "window": {"type": "array", "items": DAYS, "minItems": 2, "maxItems": 2,
                             "description": "Between [first, last] days after, inclusive; "
                             "the contact goes once."},
                  "amount": _obj("Order amount", "Only orders of this value (ordered_unpaid, "
                                 "paid, shipped, signed), e.g. a payment reminder split by "
                                 "order value: {max: 500} and {min: 500} never overlap.",
                                 {"min": _d(MONEY, "At least this amount."),
                                  "max": _d(MONEY, "Less than this amount.")},
                                 minProperties=1),
                  "cooldown_days": COOLDOWN},
                 required=["type", "event"]),
            _obj("Birthday trigger", "N days before the customer's birthday (Feb 29 "
                 "birthdays count on Feb 28 in common years). Off when shop.yaml contact."
                 "birthday_greetings is false.",
                 {"type": {"const": "birthday", "description": "Trigger kind."},
                  "lead_days": LEAD_DAYS, "cooldown_days": COOLDOWN},
                 required=["type"]),
            _obj("Membership anniversary trigger", "N days before the anniversary of "
                 "registered_at (from the first year on).",
                 {"type": {"const": "membership_anniversary", "description": "Trigger kind."},
                  "lead_days": LEAD_DAYS, "cooldown_days": COOLDOWN},
                 required=["type"]),
            _obj("Calendar trigger", "N days before a holiday or promotion of calendar.yaml, "
                 "or before fixed dates.",
                 {"type": {"const": "calendar", "description": "Trigger kind."},
                  "holiday": _d(SLUG, "A holiday or promotion id from calendar.yaml."),
                  "dates": {"type": "array", "items": DATE, "minItems": 1,
                            "description": "Fixed dates (YYYY-MM-DD)."},
                  "lead_days": LEAD_DAYS, "cooldown_days": COOLDOWN},
                 required=["type"]),
            _obj("Weekly trigger", "On these weekdays (new arrivals every Tuesday).",
                 {"type": {"const": "weekly", "description": "Trigger kind."},
                  "weekdays": _list_or_one(WEEKDAY, "Weekday(s)."),
                  "cooldown_days": COOLDOWN},
                 required=["type", "weekdays"]),
            _obj("Tier upgrade trigger", "The customer reached a higher tier since the "
                 "previous build (the latest ledger run; the day before without one).",
                 {"type": {"const": "tier_upgrade", "description": "Trigger kind."},
                  "cooldown_days": COOLDOWN},
                 required=["type"]),
            _obj("Downgrade warning trigger", "N days before the tier review date "
                 "(tiers.yaml evaluation.review_date), for customers whose spend in the "
                 "evaluation window ending on that date (purchases known so far) falls short "
                 "of their tier.",
                 {"type": {"const": "tier_downgrade_warning", "description": "Trigger kind."},
                  "days_before": _d(DAYS, "Days before the review date.", minimum=1),
                  "cooldown_days": COOLDOWN},
                 required=["type", "days_before"]),
        ],
    }
    activity = _obj(
        "Activity",
        "One planned activity of the contact plan (接触计划).",
        {
            "id": _d(SLUG, "Activity id."),
            "name": _d(NAME, "Activity name, e.g. 评价有礼."),
            "description": DESCRIPTION,
            "kind": {"type": "string", "enum": ["maintenance", "marketing"],
                     "description": "maintenance (维系类: service, care) or marketing "
                     "(营销类: value, promotion)."},
            "stage": _list_or_one(SLUG, "The lifecycle stage(s) whose plan the activity "
                                  "belongs to (domain rules 1 and 2 are checked per stage)."),
            "segment": _d(SLUG, "The segment it targets (domain rule 5)."),
            "channel": CHANNEL_NAME,
            "trigger": trigger,
            "priority": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100,
                         "description": "Higher wins when contact limits force a choice."},
            "service": {"type": "boolean", "default": False,
                        "description": "A service message (shipping notice, payment "
                        "reminder): exempt from marketing limits and opt-outs of marketing."},
            "holdout": _d(SHARE, "Share of the audience held out as a control group.",
                          maximum=0.5),
            "kpi": _d(SLUG, "The KPI (kpis.yaml) that judges this activity."),
            "owner": {"type": "string", "description": "Who runs it (role or person)."},
            "purpose": {"type": "string", "description": "Why it exists, in a sentence."},
            "template": TEMPLATE_NAME,
            "channel_options": {
                "type": "object",
                "description": "Options of the activity's channel (e.g. email subject, "
                "wechat template_id, parcel insert_sku); each channel's options are listed "
                "in docs/plugins.md. Shop-wide defaults: shop.yaml channels.<channel>.",
            },
            "coupon": _coupon(),
            "send_windows": {"type": "array", "items": SEND_WINDOW, "minItems": 1,
                             "description": "When to send, replacing the channel's default "
                             "windows for this activity."},
            "budget": _obj("Activity budget", "A cost cap per build; over it, contacts are "
                           "trimmed in the declared order.",
                           {"cap": _d(MONEY, "Most the activity may cost in one build."),
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
        for name, ch in _channels(channels).items()
    ]
    return _obj(
        "Activities",
        "activities.yaml: the contact plan.",
        {"activities": {"type": "array", "items": activity, "minItems": 1,
                        "description": "The activities."}},
        required=["activities"],
    )


def kpis_schema() -> dict:
    buyer_metrics = ["repeat_purchase_rate", "repeat_purchasers", "purchasers", "active_arpu",
                     "aov", "retention"]
    kpi = _obj(
        "KPI",
        "A metric with targets. docs/kpis.md defines every metric kind exactly.",
        {
            "id": _d(SLUG, "KPI id."),
            "name": _d(NAME, "KPI name, e.g. 新客45天复购率."),
            "description": DESCRIPTION,
            "metric": {"type": "string",
                       "enum": ["repeat_purchase_rate", "second_purchase_rate",
                                "stage_purchase_rate", "cohort_order_value", "retention",
                                "reactivation_rate", "activation_rate", "active_arpu", "aov",
                                "members_per_tier", "sleeping_members", "purchasers",
                                "repeat_purchasers"],
                       "description": "The metric kind (docs/kpis.md)."},
            "within_days": _d(DAYS, "N days, day N included. repeat_purchase_rate and "
                              "repeat_purchasers: a purchase within N days of the previous "
                              "one (omit: 2+ purchases in the period); second_purchase_rate: "
                              "the second purchase within N days of the first; retention: the "
                              "next purchase within N days of the last one in the period; "
                              "cohort_order_value: customers in the recency band [0, N) at "
                              "the start of the period. Required by the last three.",
                              minimum=1),
            "from_days": _d(DAYS, "Start of the recency band (days since the last purchase), "
                            "inclusive: at the start of the period for stage_purchase_rate "
                            "(required), at its end for sleeping_members (default 90)."),
            "to_days": _d(DAYS, "End of the recency band, exclusive; omit for an open band "
                          "(sleeping_members without from_days/to_days: [90, 365)).",
                          minimum=1),
            "customers": {"type": "string", "enum": ["all", "new", "returning"],
                          "default": "all", "description": "Which customers. Metrics on the "
                          "period's buyers (" + ", ".join(buyer_metrics) + "): new = "
                          "first-time buyers, returning = bought before the period. Recency "
                          "bands and member counts: new = 1 purchase, returning = 2+, at the "
                          "start (stage_purchase_rate, cohort_order_value) or the end "
                          "(sleeping_members, members_per_tier) of the period."},
            "activity": _d(SLUG, "For reactivation/activation (required): the activity whose "
                           "contacts are measured (needs the contact ledger)."),
            "target": _obj("Target", "Thresholds for the status: at or above good is good, "
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
    return _obj(
        "KPIs",
        "kpis.yaml: the indicators the plan is judged by (`crmspec kpi`).",
        {
            "kpis": {"type": "array", "items": kpi, "minItems": 1, "description": "The KPIs."},
            "monitoring": _obj("Weekly monitoring table", "The weekly monitoring table "
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


def sop_schema() -> dict:
    revision = _obj(
        "Revision",
        "One change of the activity (进化图).",
        {
            "date": _d(DATE, "When the change took effect."),
            "change": {"type": "string", "minLength": 1, "description": "What changed."},
            "reason": {"type": "string", "description": "Why."},
            "effect": {"type": "string", "description": "What it did, once known."},
        },
        required=["date", "change"],
    )
    return _obj(
        "SOP document",
        "sop/<activity>.yaml: the standard operating procedure (标准作业程序) of one "
        "activity. The battle record (战功榜) is filled in from results, not written.",
        {
            "activity": _d(SLUG, "The activity (activities.yaml) this SOP documents."),
            "id_card": _obj("ID card (身份证)", "What it is.", {
                "purpose": {"type": "string", "minLength": 1, "description": "Why it exists."},
                "audience": {"type": "string", "description": "Who it is for, in words."},
                "timing": {"type": "string", "description": "When it runs, in words."},
                "owner": {"type": "string", "description": "Who is responsible."},
            }, required=["purpose"]),
            "portrait": _obj("Portrait (写真照)", "Its design.", {
                "flow": {"type": "array", "items": {"type": "string"},
                         "description": "Steps, in order."},
                "copy": {"type": "string", "description": "The message, in words."},
                "offer": {"type": "string", "description": "Coupon, gift or benefit."},
                "control_group": {"type": "string", "description": "How the control group "
                                  "is held out."},
                "metric": _d(SLUG, "KPI id (kpis.yaml) it is evaluated by."),
            }),
            "evolution": {"type": "array", "items": revision,
                          "description": "Revisions, oldest first."},
        },
        required=["activity", "id_card"],
    )


CHANNEL_KINDS = ("shop", "activities")  # kinds whose schema depends on the channels
def calendar_schema() -> dict:
    holiday = _obj(
        "Holiday or promotion",
        "A date that comes back every year, listed per year (lunar holidays move).",
        {
            "id": _d(SLUG, "Id, used by calendar triggers."),
            "name": _d(NAME, "Name, e.g. 春节 or 双11."),
            "kind": {"type": "string", "enum": ["holiday", "promotion", "member_day"],
                     "default": "holiday", "description": "A public holiday, a platform "
                     "promotion (618, 11.11, 12.12) or the shop's member day."},
            "dates": {"type": "array", "items": DATE, "minItems": 1, "uniqueItems": True,
                      "description": "Its dates, one or more per year."},
        },
        required=["id", "name", "dates"],
        examples=[{"id": "double_11", "name": "双11", "kind": "promotion",
                   "dates": ["2026-11-11", "2027-11-11"]}],
    )
    return _obj(
        "Calendar",
        "calendar.yaml: holidays, platform promotions and days without sends.",
        {
            "holidays": {"type": "array", "items": holiday, "description": "Dated events."},
            "blackout_dates": {"type": "array", "items": DATE, "uniqueItems": True,
                               "description": "Days nothing is sent; sends move to the next "
                               "open day."},
        },
    )


KINDS = {
    "shop": shop_schema,
    "tiers": tiers_schema,
    "lifecycle": lifecycle_schema,
    "segments": segments_schema,
    "activities": activities_schema,
    "kpis": kpis_schema,
    "sop": sop_schema,
    "calendar": calendar_schema,
}


def build_schemas(channels=None) -> dict[str, dict]:
    """Every file kind's complete JSON Schema, keyed by kind.

    `channels` (name -> Channel) are those of a plugin manager; None: the built-in ones,
    which is what the committed schemas hold.
    """
    out = {}
    for kind, make in KINDS.items():
        body = make(channels) if kind in CHANNEL_KINDS else make()
        schema = {"$schema": DRAFT, "$id": f"{BASE_URL}{kind}.schema.json"}
        schema.update(body)
        out[kind] = schema
    return out


def dumps(schema: dict) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
