"""When a change needs an approval: shop.yaml `review` thresholds, checked on the
changes and their effect. Crossing one makes `crmspec plan` exit 3.

The base revision's thresholds count (the policy the change is judged by: a change
cannot lower its own bar), and a change of them is itself a crossing. A threshold that
needs the effect (audience growth, the month's cost) cannot be judged without the data;
the review says so instead of passing it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from crmspec.plan.model import Plan
from crmspec.review.changes import PlanChanges
from crmspec.review.effect import Effect


@dataclass(frozen=True)
class Crossing:
    threshold: str  # the shop.yaml review key (or "review" for a change of them)
    activity: str | None
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def check_thresholds(base: Plan, head: Plan, changes: PlanChanges, effect: Effect | None
                     ) -> tuple[list[Crossing], list[str]]:
    """(the thresholds crossed, those that could not be judged and why)."""
    t = base.shop.review
    out: list[Crossing] = []
    unjudged: list[str] = []
    if changes.thresholds_changed:
        out.append(Crossing("review", None, "shop.yaml `review` changed: the thresholds "
                            "this review is judged by"))
    if t.control_group_required:
        heads = {a.id: a for a in head.activities}
        bases = {a.id: a for a in base.activities}
        for c in changes.activities:
            a, b = heads.get(c.id), bases.get(c.id)
            if c.status == "added" and a.kind == "marketing" and not a.service \
                    and a.holdout == 0:
                out.append(Crossing("control_group_required", c.id, f"new marketing "
                                    f"activity `{c.id}` has no control group (holdout)"))
            elif c.status == "changed" and b.holdout > 0 and a.holdout == 0:
                out.append(Crossing("control_group_required", c.id, f"activity `{c.id}` "
                                    f"drops its control group (holdout {b.holdout:g} → 0)"))
    money = base.shop.currency
    if t.audience_growth is not None:
        if effect is None:
            unjudged.append("audience_growth: needs the shop's data")
        else:
            for aid, e in effect.activities.items():
                if e.base is None or e.head is None:
                    continue
                before, after = e.base.audience, e.head.audience
                grew = after > before if before == 0 else (after - before) / before
                if (before == 0 and after > 0) or (before and grew > t.audience_growth):
                    by = "from none" if before == 0 else f"+{grew:.0%}"
                    out.append(Crossing("audience_growth", aid, f"activity `{aid}`: audience "
                                        f"{before:,} → {after:,} ({by}), more than "
                                        f"+{t.audience_growth:.0%}"))
    if t.monthly_cost_increase is not None:
        if effect is None:
            unjudged.append("monthly_cost_increase: needs the shop's data")
        else:
            # With --days, the month to date after the simulated builds of the month.
            counted = effect.days if effect.days is not None else effect
            b, h = counted.base, counted.head
            after = " after the simulated builds" if effect.days else ""
            rise = h.month_to_date - b.month_to_date
            if rise > t.monthly_cost_increase + 1e-9:
                out.append(Crossing("monthly_cost_increase", None, f"the month's cost to date"
                                    f"{after} rises by {rise:,.2f} {money} "
                                    f"({b.month_to_date:,.2f} → {h.month_to_date:,.2f}), "
                                    f"more than {t.monthly_cost_increase:,.2f}"))
    return out, unjudged
