"""sop/<activity>.yaml: an activity's standard operating procedure (标准作业程序)."""

from __future__ import annotations

from crmspec.plan.schemas.common import (
    DATE,
    SLUG,
    described,
    obj,
)


def sop_schema() -> dict:
    revision = obj(
        "Revision",
        "One change of the activity (进化图).",
        {
            "date": described(DATE, "When the change took effect."),
            "change": {"type": "string", "minLength": 1, "description": "What changed."},
            "reason": {"type": "string", "description": "Why."},
            "effect": {"type": "string", "description": "What it did, once known."},
        },
        required=["date", "change"],
    )
    return obj(
        "SOP document",
        "sop/<activity>.yaml: the standard operating procedure (标准作业程序) of one "
        "activity. The battle record (战功榜) is filled in from results, not written.",
        {
            "activity": described(SLUG, "The activity (activities.yaml) this SOP documents."),
            "id_card": obj("ID card (身份证)", "What it is.", {
               "purpose": {"type": "string", "minLength": 1, "description": "Why it exists."},
               "audience": {"type": "string", "description": "Who it is for, in words."},
               "timing": {"type": "string", "description": "When it runs, in words."},
               "owner": {"type": "string", "description": "Who is responsible."},
            }, required=["purpose"]),
            "portrait": obj("Portrait (写真照)", "Its design.", {
               "flow": {"type": "array", "items": {"type": "string"},
                        "description": "Steps, in order."},
               "copy": {"type": "string", "description": "The message, in words."},
               "offer": {"type": "string", "description": "Coupon, gift or benefit."},
               "control_group": {"type": "string", "description": "How the control group "
                                 "is held out."},
               "metric": described(SLUG, "KPI id (kpis.yaml) it is evaluated by."),
            }),
            "evolution": {"type": "array", "items": revision,
                          "description": "Revisions, oldest first."},
        },
        required=["activity", "id_card"],
    )
