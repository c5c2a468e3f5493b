"""calendar.yaml: holidays and promotions that calendar triggers refer to, and the
days nothing is sent."""

from __future__ import annotations

from crmspec.plan.schemas.common import (
    DATE,
    NAME,
    SLUG,
    described,
    obj,
)


def calendar_schema() -> dict:
    holiday = obj(
        "Holiday or promotion",
        "A date that comes back every year, listed per year (lunar holidays move).",
        {
            "id": described(SLUG, "Id, used by calendar triggers."),
            "name": described(NAME, "Name, e.g. 春节 or 双11."),
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
    return obj(
        "Calendar",
        "calendar.yaml: holidays, platform promotions and days without sends.",
        {
            "holidays": {"type": "array", "items": holiday, "description": "Dated events."},
            "blackout_dates": {"type": "array", "items": DATE, "uniqueItems": True,
                               "description": "Days nothing is sent; sends move to the next "
                               "open day."},
        },
    )
