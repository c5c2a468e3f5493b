"""sop/<activity>.yaml: an activity's standard operating procedure (标准作业程序).

An SOP holds only what people decide and write: purpose and owner (when the activity
does not state them), the flow in words, design notes, the offer's rationale, a
checklist and the lessons learned. Everything the plan already says (audience and
segment conditions, channel, trigger and send window, template text, coupon, control
group, evaluation metric and window, budget, limits) is drawn from the compiled plan
onto the SOP's page by `crmspec site`, never written twice, so that the two cannot
drift apart. The keys that used to restate the plan are listed in `REMOVED`: an SOP
that still has one is told where its content now comes from (docs/sop.md, migration).
"""

from __future__ import annotations

from crmspec.plan.schemas.common import DATE, SLUG, described, obj

TEXT = {"type": "string", "minLength": 1}

# Keys of the first SOP format that restated the plan, and where that content is now
# (the hint of the E202 an SOP with one of them gets). JSON Schema ignores unknown
# keywords; crmspec's schema check reads this one.
REMOVED_KEY = "x-crmspec-removed"
REMOVED = {
    "id_card": {
        "audience": "the audience is drawn from the activity's segment and stages",
        "timing": "the timing is drawn from the activity's trigger and send windows",
    },
    "portrait": {
        "copy": "the message is rendered from the activity's template",
        "offer": "the offer is drawn from the activity's coupon; say why it is this "
                 "offer in offer_rationale",
        "control_group": "the control group is the activity's holdout",
        "metric": "the evaluation metric is the activity's kpi",
    },
    "": {
        "evolution": "revisions come from git history; what they taught goes in lessons",
    },
}


def _removed(where: str) -> dict:
    return {REMOVED_KEY: {k: f"{v} (docs/sop.md, migration)"
                          for k, v in REMOVED[where].items()}}


def sop_schema() -> dict:
    lesson = obj(
        "Lesson",
        "Something a run or a change of the activity taught, in words.",
        {
            "date": described(DATE, "When it was learned."),
            "lesson": described(TEXT, "What was learned, and what it means for the next "
                                "run."),
        },
        required=["date", "lesson"],
    )
    return obj(
        "SOP document",
        "sop/<activity>.yaml: the standard operating procedure (标准作业程序) of one "
        "activity, as people write it. The audience, channel, timing, message, offer, "
        "control group, metric and budget are drawn from the plan onto the SOP's page "
        "(crmspec site); the battle record (战功榜) comes from the ledger and the "
        "evolution (进化图) from git history.",
        {
            "activity": described(SLUG, "The activity (activities.yaml) this SOP documents."),
            "id_card": obj("ID card (身份证)", "What people decide about the activity; "
                               "its kind, audience, channel and timing come from the plan.", {
                "purpose": described(TEXT, "Why it exists, in the shop's words. Also an "
                                     "activities.yaml field: state it in one place (when "
                                     "both do, they must agree)."),
                "owner": described(TEXT, "Who is responsible (a role or team). Also an "
                                   "activities.yaml field: state it in one place (when both "
                                   "do, they must agree)."),
            }, **_removed("id_card")),
            "portrait": obj("Portrait (写真照)", "Its design, in words; the message, "
                                "offer, control group and metric come from the plan.", {
                "flow": {"type": "array", "items": TEXT, "minItems": 1,
                         "description": "The steps people carry out, in order."},
                "design_notes": described(TEXT, "Why the audience, timing and message are "
                                          "designed this way."),
                "offer_rationale": described(TEXT, "Why this offer and this size (or why "
                                             "none)."),
                "checklist": {"type": "array", "items": TEXT, "minItems": 1,
                              "description": "What to check before a run or a change goes "
                              "live."},
            }, **_removed("portrait")),
            "lessons": {"type": "array", "items": lesson,
                        "description": "What runs and changes taught, oldest first. The "
                        "revisions themselves come from git history."},
        },
        required=["activity"],
        **_removed(""),
    )
