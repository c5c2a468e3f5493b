"""The plan said in words for the pages: kinds, stages, triggers, send windows, and the
fictitious sample customers whose messages the portrait shows.

The sample customers are made up (names from no customer list, no phone number or
email at all), so a page can show a rendered message without showing anybody's data.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from crmspec.channels.base import SendWindow
from crmspec.plan.model import Activity, Plan, Stage
from crmspec.plan.triggers import WEEKDAYS, Trigger

KIND = {"maintenance": "维系类 maintenance", "marketing": "营销类 marketing"}
EVENTS = {"ordered_unpaid": "an unpaid order (下单未付)", "paid": "payment",
          "shipped": "shipping", "signed": "delivery (signed for)",
          "first_purchase": "the first purchase", "last_purchase": "the last purchase"}
DAY_NAMES = {i + 1: d.capitalize() for i, d in enumerate(WEEKDAYS)}


def kind(value: str) -> str:
    return KIND.get(value, value)


def band(stage: Stage) -> str:
    if stage.never_purchased:
        return "never bought"
    if stage.to_days is None:
        return f"{stage.from_days}+ days"
    return f"{stage.from_days}–{stage.to_days} days"


def stage_label(plan: Plan, sid: str) -> str:
    s = next((s for s in plan.stages if s.id == sid), None)
    return f"{s.name} {sid} ({band(s)})" if s else sid


def _days(n: int) -> str:
    return "the same day" if n == 0 else f"{n} day{'s' if n != 1 else ''}"


def trigger(t: Trigger, plan: Plan) -> str:
    """When the activity fires, in a sentence."""
    if t.type == "state":
        return (f"while in the segment, at most once every {t.cooldown_days} days"
                if t.cooldown_days else "every build, while in the segment")
    if t.type == "after_order":
        what = EVENTS.get(t.event or "", t.event or "")
        when = (_days(t.first_day or 0) if t.first_day == t.last_day
                else f"{t.first_day}–{t.last_day} days")
        text = f"{when} after {what}" if t.first_day or t.last_day else f"on the day of {what}"
        if t.amount_min is not None or t.amount_max is not None:
            lo = "" if t.amount_min is None else f"from {t.amount_min:g}"
            hi = "" if t.amount_max is None else f"below {t.amount_max:g}"
            text += f", orders {' '.join(x for x in (lo, hi) if x)} {plan.shop.currency}"
        return text
    if t.type == "birthday":
        return f"{_days(t.lead_days)} before the birthday" if t.lead_days else "on the birthday"
    if t.type == "membership_anniversary":
        return (f"{_days(t.lead_days)} before the membership anniversary" if t.lead_days
                else "on the membership anniversary")
    if t.type == "calendar":
        name = next((h for h in plan.holidays if h == t.holiday), None)
        what = f"{holiday_name(plan, name)}" if name else ", ".join(
            d.isoformat() for d in t.dates)
        return f"{_days(t.lead_days)} before {what}" if t.lead_days else f"on {what}"
    if t.type == "weekly":
        return "every " + ", ".join(DAY_NAMES[d] for d in t.weekdays)
    if t.type == "tier_upgrade":
        return "when the customer reached a higher tier since the previous build"
    if t.type == "tier_downgrade_warning":
        return (f"{t.days_before} days before the tier review ({plan.tier_review_date}), "
                "for members whose tier would drop")
    return t.type


def holiday_name(plan: Plan, hid: str) -> str:
    doc = plan.files.documents.get("calendar")
    for h in (doc.data.get("holidays", []) if doc else []):
        if h["id"] == hid:
            return f"{h['name']} ({hid})"
    return hid


def windows(ws: list[SendWindow]) -> str:
    """Send windows as `Mon–Fri 08:00–09:00; ...`."""
    def days(d: tuple[int, ...]) -> str:
        if d == (1, 2, 3, 4, 5, 6, 7):
            return "every day"
        if len(d) > 2 and d == tuple(range(d[0], d[-1] + 1)):
            return f"{DAY_NAMES[d[0]]}–{DAY_NAMES[d[-1]]}"
        return ", ".join(DAY_NAMES[x] for x in d)
    return "; ".join(f"{days(w.days)} {w.start}–{w.end}" for w in ws) or "none"


def samples(plan: Plan, activity: Activity) -> list[tuple[str, dict]]:
    """Two or three made-up customers of the activity's first stage: one with a name,
    one known by a nickname only, one with no personal fields (the template's fallback)."""
    stage = next((s for s in plan.stages if s.id == activity.stages[0]), None)
    never = bool(stage and stage.never_purchased)
    tiers = [t.id for t in plan.tiers]
    days = None if never or stage is None else (stage.from_days or 0) + 3
    base = {"stage": activity.stages[0], "days_since_last_purchase": days,
            "r": None if never else 3, "f": None if never else 2, "m": None if never else 3}

    def one(desc, name, nick, ctype, purchases, spend, tier, **more):
        values = dict(base, **{
            "customer.id": f"sample-{len(desc)}", "customer.name": name,
            "customer.nick": nick, "customer.gender": more.get("gender"),
            "customer.province": more.get("province"), "customer.city_tier":
            more.get("city_tier"), "customer.birthday": more.get("birthday"),
            "customer_type": "potential" if never else ctype,
            "purchases": 0 if never else purchases,
            "spend": Decimal("0.00") if never else Decimal(spend), "tier": tier})
        return desc, values

    return [
        one("林小暖 (a named returning member)", "林小暖", "暖暖的小林", "returning", 3,
            "860.00", tiers[0] if tiers else None, gender="F", province="浙江", city_tier=1,
            birthday=date(1992, 3, 8)),
        one("momo2019 (known by a nickname only)", None, "momo2019", "new", 1, "129.00", None,
            province="四川", city_tier=2),
        one("a customer with no personal fields", None, None, "fans", 6, "3200.00",
            tiers[-1] if tiers else None),
    ]
