"""The variables a message template may use: per customer (read from `features`),
looked up by a key (stage, tier), or constant for the build; with the longest plausible
value of each for validate's length check (documented in docs/plugins.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Var:
    path: str  # as written in templates: customer.name, spend
    column: str | None  # features column for per-customer values
    doc: str
    longest: Any  # the longest plausible value (validate's length check)
    nullable: bool = True


_LONG_NICK = "小" + "甜" * 18 + "呀"  # 20 characters: Taobao nicks are at most 20-25
PER_CUSTOMER: dict[str, Var] = {v.path: v for v in (
    Var("customer.id", "customer_id", "Customer id (the platform's buyer id).", "b" * 20,
        nullable=False),
    Var("customer.name", "name", "Real name, or None.", "欧阳慧敏"),
    Var("customer.nick", "nick", "Platform nickname, or None.", _LONG_NICK),
    Var("customer.gender", "gender", "'F', 'M' or None.", "F"),
    Var("customer.province", "province", "Province in Chinese (浙江), or None.", "黑龙江"),
    Var("customer.city_tier", "city_tier", "City tier 1-4, 5 rural, or None.", 5),
    Var("customer.birthday", "birthday", "Date of birth (a date), or None.",
        date(1990, 12, 31)),
    Var("customer_type", "customer_type", "potential, new, returning or fans.", "returning",
        nullable=False),
    Var("purchases", "purchases", "Purchases up to the as-of date.", 999, nullable=False),
    Var("spend", "spend", "Spend counted for tiers (a decimal with 2 places).",
        Decimal("99999.99"), nullable=False),
    Var("days_since_last_purchase", "days_since_last_purchase",
        "Days since the last purchase; None for customers who never bought.", 9999),
    Var("r", "r", "Recency score 1-5 (5 best); None for customers who never bought.", 5),
    Var("f", "f", "Frequency score 1-5; None for customers who never bought.", 5),
    Var("m", "m", "Monetary score 1-5; None for customers who never bought.", 5),
)}
# Per-customer objects looked up in the plan by a key column (few distinct values).
KEYED_OBJECTS = {
    "stage": ("stage", ("id", "name"), "Lifecycle stage: id and name (lifecycle.yaml)."),
    "tier": ("tier", ("id", "name", "discount"),
             "Member tier: id, name, discount (0.95 = 95折); all None below every tier."),
    "next_tier": ("tier", ("id", "name", "discount", "min_spend"),
                  "The tier above the customer's (the lowest one for customers below every "
                  "tier); all None at the top tier."),
}
CONSTANT_OBJECTS = {
    "shop": (("name", "currency"), "The shop (shop.yaml)."),
    "activity": (("id", "name"), "The activity."),
    "coupon": (("name", "amount", "min_spend", "code", "valid_days"),
               "The activity's coupon (activities.yaml coupon); only the fields it sets."),
}
CONSTANTS = {"as_of": "The build's as-of date (a date)."}
CUSTOMER_FIELDS = tuple(p.split(".", 1)[1] for p in PER_CUSTOMER if p.startswith("customer."))
OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "customer": CUSTOMER_FIELDS,
    **{k: v[1] for k, v in KEYED_OBJECTS.items()},
    **{k: v[0] for k, v in CONSTANT_OBJECTS.items()},
}
SCALARS = tuple(p for p in PER_CUSTOMER if "." not in p) + tuple(CONSTANTS)
TOP_NAMES = set(OBJECT_FIELDS) | set(SCALARS)
JINJA_NAMES = {"loop", "caller", "varargs", "kwargs", "self", "super"}


def variables_doc() -> list[tuple[str, str]]:
    """(variable, meaning) rows for the docs."""
    rows = [(p, v.doc) for p, v in PER_CUSTOMER.items()]
    rows += [(f"{k}.{{{','.join(v[1])}}}", v[2]) for k, v in KEYED_OBJECTS.items()]
    rows += [(f"{k}.{{{','.join(v[0])}}}", v[1]) for k, v in CONSTANT_OBJECTS.items()]
    rows += list(CONSTANTS.items())
    return rows
