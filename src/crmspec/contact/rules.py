"""The contact rules of one build, from the plan: per activity its priority, hold-out,
cooldown, expected cost, budget and first send slot; the plan's limits and budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crmspec.channels.base import SendWindow
from crmspec.contact.schedule import first_slot, windows_for
from crmspec.plan.model import LimitWindow as Window  # at most `max` contacts in `days` days
from crmspec.plan.triggers import WEEKDAYS

STATUS_ORDER = ("send", "control", "opted_out", "no_address", "invalid_address",
                "do_not_contact", "open_refund", "global_holdout", "cooldown", "not_sent",
                "channel_limit",
                "contact_limit", "stage_limit", "budget_activity", "budget_month")

TRIM_COLUMNS = ("spend", "purchases", "days_since_last_purchase", "r", "f", "m")


@dataclass(frozen=True)
class ActivityRule:
    activity_id: str
    channel: str
    kind: str  # maintenance | marketing
    service: bool
    priority: int
    holdout: float
    once_within_days: int | None
    unit_cost: float  # expected cost of one contact (channel units x price + coupon)
    budget_cap: float | None = None
    trim_by: str = "spend"
    trim_desc: bool = True
    scheduled_at: datetime | None = None  # the first send slot (crmspec.contact.schedule)
    not_sent: bool = False  # the channel cannot write a send file (no template...)


@dataclass(frozen=True)
class StageRule:
    stage_id: str
    from_days: int | None  # None: the never-purchased stage
    contacts_max: int | None


@dataclass
class ContactRules:
    salt: str
    activities: list[ActivityRule]
    stages: list[StageRule] = field(default_factory=list)
    overall: list[Window] = field(default_factory=list)
    per_channel: dict[str, list[Window]] = field(default_factory=dict)
    global_holdout: float = 0.0
    refund_days: int | None = 30  # None: open refunds do not exclude
    monthly_cap: float | None = None


def send_windows(activity, channel) -> list:
    """The activity's own send windows, or its channel's windows for its kind."""
    if activity.send_windows:
        return [SendWindow(tuple(WEEKDAYS.index(d) + 1 for d in w["days"]), w["start"],
                           w["end"]) for w in activity.send_windows]
    return windows_for(activity.kind, channel.windows)


def rules_for(plan, compiled, options: dict[str, dict], not_ready: dict[str, str | None]
              ) -> ContactRules:
    """The plan's contact rules for one build: per activity its priority, hold-out,
    cooldown, expected cost, budget and first send slot."""
    activities = []
    for ca in compiled.activities:
        a, ch = ca.activity, ca.channel
        opts = options[a.id]
        coupon = a.coupon or {}
        expected = (ch.unit_price(opts)
                    + float(coupon.get("amount", 0)) * float(coupon.get("expected_redemption", 0)))
        activities.append(ActivityRule(
            a.id, ch.name, a.kind, a.service, a.priority, a.holdout,
            a.trigger.once_within_days, expected, a.budget_cap, a.trim_by, a.trim_desc,
            first_slot(compiled.as_of, send_windows(a, ch), plan.blackout_dates),
            not_ready.get(a.id) is not None))
    contact = plan.shop.contact
    return ContactRules(
        salt=contact.salt,
        activities=activities,
        stages=[StageRule(s.id, None if s.never_purchased else s.from_days, s.contacts_max)
                for s in plan.stages if s.contacts_max is not None],
        overall=list(contact.overall),
        per_channel={ch: list(ws) for ch, ws in contact.per_channel.items()},
        global_holdout=contact.global_holdout,
        refund_days=contact.refund_days,
        monthly_cap=plan.shop.cap_for(compiled.as_of),
    )
