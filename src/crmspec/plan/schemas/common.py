"""The pieces every plan file kind's schema is built from: ids, dates, days, money,
send windows, contact limits, ranges and attribute tests, and the helpers that make a
closed object (`obj`) or give a shared piece its own description (`described`)."""

from __future__ import annotations

import copy
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


def obj(
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


def described(schema: dict, description: str, **extra: Any) -> dict:
    """A copy of a shared schema piece with its own description."""
    out = copy.deepcopy(schema)
    out["description"] = description
    out.update(extra)
    return out


def list_or_one(item: dict, description: str) -> dict:
    return {
        "description": description,
        "oneOf": [
            described(item, "One value."),
            {"type": "array", "items": item, "minItems": 1, "description": "Any of these values."},
        ],
    }


RANGE = obj(
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
        obj(
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
        obj(
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


def sorted_channels(channels: dict) -> dict:
    """The channels (name -> `crmspec.channels.Channel`) whose options a schema lists,
    in name order so that the schema's bytes do not depend on plugin order."""
    return dict(sorted(channels.items()))


TEMPLATE_NAME = {
    "type": "string",
    "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$",
    "description": "Message template: files plans/templates/<template>.<channel>.j2 (or "
    "<template>.<channel>.<part>.j2 per part), Jinja2; see docs/plugins.md.",
}
