"""A review as JSON, for other tools: the content of the Markdown, nothing cut."""

from __future__ import annotations

import json

from crmspec.review.render.common import status_of
from crmspec.review.run import Review

FORMAT_VERSION = 1


def review_data(review: Review) -> dict:
    effects = review.effect.activities if review.effect else {}
    activities = []
    for a in review.changes.activities:
        e = effects.get(a.id)
        activities.append({**a.as_dict(), "shown_as": status_of(a, e, review),
                           "effect": e.as_dict() if e else None})
    return {
        "crmspec_plan_review": FORMAT_VERSION,
        "shop": review.shop,
        "currency": review.currency,
        "base": {"asked": review.base.asked, "commit": review.base.commit,
                 "label": review.base.label},
        "head": review.head,
        "exit_code": review.exit_code,
        "changed": review.changes.any,
        "structural": review.structural,
        "manifest": ({"path": review.manifest_path, "as_of": review.manifest["as_of"],
                      "activities": review.manifest["activities"]}
                     if review.manifest is not None else None),
        "crossings": [c.as_dict() for c in review.crossings],
        "unjudged": list(review.unjudged),
        "thresholds_changed": review.changes.thresholds_changed,
        "plan_wide": [pw.as_dict() for pw in review.changes.plan_wide],
        "totals": ({"base": review.effect.base.as_dict(), "head": review.effect.head.as_dict()}
                   if review.effect else None),
        "effect": ({k: v for k, v in review.effect.as_dict().items()
                    if k not in ("base", "head", "activities")} if review.effect else None),
        "activities": activities,
        "notes": list(review.notes),
    }


def render_json(review: Review) -> str:
    return json.dumps(review_data(review), ensure_ascii=False, indent=2, default=str) + "\n"
