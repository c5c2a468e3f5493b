"""What changed: the plan at the base revision and the working tree's, compared part by
part, before anything runs.

Per activity, the parts that define it, wherever they are written: its entry in
activities.yaml, its segment and the segments that segment refers to (segments.yaml),
its message templates (plans/templates, or one-line parts in channel options), its SOP
document and the calendar holiday its trigger names. A change to any of these makes the
activity *changed*, classified by what the changed fields decide (`CLASSES`): who is
reached or what they are offered or held out (needs review), the copy or the timing
only, or SOP and metadata only.

Everything else (shop.yaml, lifecycle.yaml, tiers.yaml, the rest of calendar.yaml,
kpis.yaml, segments no activity uses) is a *plan-wide* change, listed once with the
activities it reaches: a channel's contact limit reaches that channel's activities, a
stage band every activity (it moves customers between stages). Whether a reached
activity is affected is then the effect's to say (`crmspec.review.effect`).

Values are compared as read from YAML (a type counts: `1` is not `1.0`); comments and
formatting are not changes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from crmspec.plan.checks.segments import segment_refs
from crmspec.plan.load import Document
from crmspec.plan.model import Activity, Plan
from crmspec.templates.loading import ActivityTemplates

AUDIENCE, OFFER, CONTROL, COPY, TIMING, METADATA = (
    "audience", "offer", "control group", "copy", "timing", "metadata")
REVIEW, COPY_TIMING, META = "needs review", "copy or timing only", "SOP or metadata only"
# What a changed field decides -> the activity's class (the highest one counts).
CLASSES = {AUDIENCE: REVIEW, OFFER: REVIEW, CONTROL: REVIEW, COPY: COPY_TIMING,
           TIMING: COPY_TIMING, METADATA: META}
CLASS_ORDER = (REVIEW, COPY_TIMING, META)

# activities.yaml: the category of each field of an activity.
ACTIVITY_FIELDS = {
    "segment": AUDIENCE, "channel": AUDIENCE, "kind": AUDIENCE, "service": AUDIENCE,
    "priority": AUDIENCE, "budget": AUDIENCE, "coupon": OFFER, "holdout": CONTROL,
    "template": COPY, "send_windows": TIMING,
    # `stage` names the lifecycle plan the activity belongs to (checked by validate);
    # who is reached is the segment's to say.
    "id": METADATA, "name": METADATA, "description": METADATA, "owner": METADATA,
    "purpose": METADATA, "kpi": METADATA, "min_effect": METADATA, "stage": METADATA,
}
# Trigger fields that say when, not who: the rest (type, event, amount, cooldown) who.
TRIGGER_TIMING = {"days", "window", "lead_days", "weekdays", "days_before", "holiday",
                  "dates"}


class _Absent:
    """A value that is not written (a field added or removed)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    file: str  # plans/...
    line: int  # in the working tree's file; in the base's when `side` is "base"
    side: str  # head | base (the entry exists only in the base: removed)
    entry: str  # what the field belongs to: "activity", "segment lapsed", "shop.yaml"...
    field: str  # dotted path inside the entry: trigger.days, send_windows[0].start
    before: Any
    after: Any
    category: str
    path: tuple = ()  # the field's path inside the entry (`field` is its text)

    def as_dict(self) -> dict:
        out = {"file": self.file, "line": self.line, "side": self.side, "entry": self.entry,
               "field": self.field, "path": list(self.path), "category": self.category}
        if self.before is not ABSENT:
            out["before"] = self.before
        if self.after is not ABSENT:
            out["after"] = self.after
        return out


@dataclass(frozen=True)
class TextChange:
    """A message part whose template text changed: a unified diff of the text."""

    file: str  # where the text is in the working tree (the base's when removed)
    part: str
    diff: tuple[str, ...]  # "-old line", "+new line", " context", "@@ ... @@"
    category: str = COPY

    def as_dict(self) -> dict:
        return {"file": self.file, "part": self.part, "diff": list(self.diff),
                "category": self.category}


@dataclass(frozen=True)
class PlanWideChange:
    change: FieldChange
    reaches: str  # which activities, in words: "activities on sms", "every activity"
    activities: tuple[str, ...]  # their ids, in the working tree's plan order

    def as_dict(self) -> dict:
        return {**self.change.as_dict(), "reaches": self.reaches,
                "activities": list(self.activities)}


@dataclass(frozen=True)
class ActivityChanges:
    id: str
    status: str  # added | removed | changed | unchanged
    name: str
    channel: str
    kind: str
    fields: tuple[FieldChange, ...] = ()
    texts: tuple[TextChange, ...] = ()
    reached_by: tuple[int, ...] = ()  # indices of PlanChanges.plan_wide

    @property
    def categories(self) -> set[str]:
        return {f.category for f in self.fields} | {t.category for t in self.texts}

    @property
    def classification(self) -> str | None:
        """needs review / copy or timing only / SOP or metadata only; None unchanged.
        Added and removed activities need review."""
        if self.status in ("added", "removed"):
            return REVIEW
        found = {CLASSES[c] for c in self.categories}
        return next((c for c in CLASS_ORDER if c in found), None)

    def as_dict(self) -> dict:
        return {"id": self.id, "status": self.status, "name": self.name,
                "channel": self.channel, "kind": self.kind,
                "classification": self.classification,
                "fields": [f.as_dict() for f in self.fields],
                "texts": [t.as_dict() for t in self.texts],
                "reached_by": list(self.reached_by)}


@dataclass(frozen=True)
class PlanChanges:
    activities: tuple[ActivityChanges, ...]  # working tree order, then the removed ones
    plan_wide: tuple[PlanWideChange, ...] = ()
    # The review thresholds of shop.yaml changed: the review's own policy (flagged).
    thresholds_changed: bool = False

    @property
    def any(self) -> bool:
        return bool(self.plan_wide) or any(a.status != "unchanged" for a in self.activities)


# --- flattening and comparing values ----------------------------------------------------


def _flat(value: Any, path: tuple = ()) -> dict[tuple, Any]:
    """Leaf values by path: mappings and lists of mappings opened, lists of plain values
    kept whole (`stage: [silent, sleeping]` is one value)."""
    if isinstance(value, dict) and value:
        out: dict[tuple, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, path + (k,)))
        return out
    if isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flat(v, path + (i,)))
        return out
    return {path: value}


def _same(a: Any, b: Any) -> bool:
    """Equal as written: `1` and `true`, `1` and `1.0` differ."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def dotted(path: Iterable) -> str:
    """("send_windows", 0, "start") -> send_windows[0].start"""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _at(value: Any, path: tuple) -> Any:
    for p in path:
        try:
            value = value[p]
        except (KeyError, IndexError, TypeError):
            return ABSENT
    return value


def _diff(before: Any, after: Any) -> list[tuple[tuple, Any, Any]]:
    """(path, before, after) of every leaf that differs, in the order written (the
    working tree's first). What one side lacks altogether (a `coupon:` block, a limit
    window) is one change at the highest path it lacks, never the whole entry."""
    b = _flat(before) if before is not ABSENT else {}
    a = _flat(after) if after is not ABSENT else {}
    out: dict[tuple, tuple[Any, Any]] = {}
    for p in list(a) + [x for x in b if x not in a]:
        old, new = b.get(p, ABSENT), a.get(p, ABSENT)
        if _same(old, new):
            continue
        if old is ABSENT or new is ABSENT:
            side = before if old is ABSENT else after
            top = next(p[:i] for i in range(1, len(p) + 1) if _at(side, p[:i]) is ABSENT)
            old, new, p = _at(before, top), _at(after, top), top
        out.setdefault(p, (old, new))
    return [(p, old, new) for p, (old, new) in out.items()]


@dataclass
class _Side:
    """One plan's documents, for finding entries and their lines."""

    plan: Plan
    templates: dict[str, ActivityTemplates]
    label: str  # head | base

    def doc(self, kind: str) -> Document | None:
        return self.plan.files.documents.get(kind)

    def entries(self, kind: str, key: str) -> dict[str, tuple[int, dict]]:
        doc = self.doc(kind)
        items = doc.data.get(key, []) if doc is not None else []
        return {e["id"]: (i, e) for i, e in enumerate(items)}


class _Comparer:
    def __init__(self, base: _Side, head: _Side):
        self.base, self.head = base, head

    def fields(self, kind: str, path: tuple, entry: str, before: Any, after: Any,
               category: Callable[[tuple], str], base_path: tuple | None = None
               ) -> list[FieldChange]:
        """FieldChanges of one entry found at `path` in the working tree's `kind` file
        (at `base_path` in the base's when it is gone from the working tree)."""
        out = []
        for sub, b, a in _diff(before, after):
            side = self.head if after is not ABSENT else self.base
            doc = side.doc(kind)
            at = (path if side is self.head else (base_path or path)) + sub
            line = doc.where(at)[0] if doc is not None else 1
            out.append(FieldChange(doc.path if doc is not None else kind, line, side.label,
                                   entry, dotted(sub), b, a, category(sub), sub))
        return out


def _activity_category(sub: tuple) -> str:
    """What a field of an activity decides. Channel options are the message's (its
    parts, signature, sender) except `unit_cost`, which is money."""
    if not sub:
        return AUDIENCE
    key = sub[0]
    if key == "trigger":
        return TIMING if len(sub) > 1 and sub[1] in TRIGGER_TIMING else AUDIENCE
    if key == "channel_options":
        return OFFER if len(sub) > 1 and sub[1] == "unit_cost" else COPY
    return ACTIVITY_FIELDS.get(key, AUDIENCE)


def _segment_category(sub: tuple) -> str:
    return METADATA if sub and sub[0] in ("name", "description") else AUDIENCE


def _reachable(plan: Plan, start: str) -> list[str]:
    """`start` and the segments it refers to, transitively, in the order found."""
    by_id = {s.id: s for s in plan.segments}
    out, todo = [], [start]
    while todo:
        sid = todo.pop(0)
        if sid in out or sid not in by_id:
            continue
        out.append(sid)
        todo += sorted(segment_refs(by_id[sid].where))
    return out


def _text_changes(base: ActivityTemplates | None, head: ActivityTemplates | None
                  ) -> list[TextChange]:
    bp = base.parts if base else {}
    hp = head.parts if head else {}
    out = []
    for name in list(hp) + [n for n in bp if n not in hp]:
        old = bp[name].source.text if name in bp else ""
        new = hp[name].source.text if name in hp else ""
        if old == new:
            continue
        lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1))
        where = (hp.get(name) or bp[name]).source.path
        out.append(TextChange(where, name, tuple(lines[2:])))  # without the ---/+++ lines
    return out


def compare(base: Plan, base_templates: dict[str, ActivityTemplates], head: Plan,
            head_templates: dict[str, ActivityTemplates]) -> PlanChanges:
    """Every difference between the base plan and the working tree's."""
    b, h = _Side(base, base_templates, "base"), _Side(head, head_templates, "head")
    cmp = _Comparer(b, h)
    b_acts, h_acts = b.entries("activities", "activities"), h.entries("activities", "activities")
    b_segs, h_segs = b.entries("segments", "segments"), h.entries("segments", "segments")
    b_hols, h_hols = b.entries("calendar", "holidays"), h.entries("calendar", "holidays")
    b_sops = {s.activity: s for s in base.sops}
    h_sops = {s.activity: s for s in head.sops}
    used_segments: set[str] = set()
    used_holidays: set[str] = set()
    activities: list[ActivityChanges] = []
    head_by_id = {a.id: a for a in head.activities}
    base_by_id = {a.id: a for a in base.activities}
    for aid in list(head_by_id) + [x for x in base_by_id if x not in head_by_id]:
        ha, ba = head_by_id.get(aid), base_by_id.get(aid)
        a = ha or ba
        assert a is not None
        segs = ([] if ha is None else _reachable(head, ha.segment)) + (
            [] if ba is None else _reachable(base, ba.segment))
        used_segments.update(segs)
        holidays = {x.trigger.holiday for x in (ha, ba) if x and x.trigger.holiday}
        used_holidays.update(holidays)
        hi, hraw = h_acts[aid] if ha else (None, ABSENT)
        bi, braw = b_acts[aid] if ba else (None, ABSENT)
        fields = cmp.fields("activities", ("activities", hi if ha else bi), "activity", braw,
                            hraw, _activity_category,
                            base_path=("activities", bi) if ba else None)
        if ha is None or ba is None:  # its id is in the heading
            fields = [f for f in fields if f.field != "id"]
        if ha is None:
            activities.append(ActivityChanges(aid, "removed", a.name, a.channel, a.kind,
                                              tuple(fields)))
            continue
        # The segment it targets, base's against the working tree's (also when the
        # activity now names another one), and the segments that one refers to; a
        # segment that is new is shown whole.
        hs, bs = h_segs.get(ha.segment), b_segs.get(ba.segment if ba else ha.segment)
        if hs:
            fields += cmp.fields("segments", ("segments", hs[0]), f"segment {ha.segment}",
                                 _without_id(bs[1]) if bs else ABSENT, _without_id(hs[1]),
                                 _segment_category,
                                 base_path=("segments", bs[0]) if bs else None)
        for sid in dict.fromkeys(segs):
            if sid in (ha.segment, ba.segment if ba else None) or sid not in h_segs:
                continue
            fields += cmp.fields("segments", ("segments", h_segs[sid][0]), f"segment {sid}",
                                 b_segs[sid][1] if sid in b_segs else ABSENT, h_segs[sid][1],
                                 _segment_category,
                                 base_path=("segments", b_segs[sid][0]) if sid in b_segs
                                 else None)
        if ba is None:
            activities.append(ActivityChanges(aid, "added", a.name, a.channel, a.kind,
                                              tuple(fields)))
            continue
        for hol in sorted(holidays):
            if hol in h_hols and hol in b_hols:
                fields += cmp.fields("calendar", ("holidays", h_hols[hol][0]),
                                     f"holiday {hol}", b_hols[hol][1], h_hols[hol][1],
                                     lambda sub: TIMING, base_path=("holidays", b_hols[hol][0]))
        bsop, hsop = b_sops.get(aid), h_sops.get(aid)
        if bsop or hsop:
            fields += _sop_changes(bsop, hsop)
        texts = _text_changes(base_templates.get(aid), head_templates.get(aid))
        status = "changed" if fields or texts else "unchanged"
        activities.append(ActivityChanges(aid, status, ha.name, ha.channel, ha.kind,
                                          tuple(fields), tuple(texts)))
    plan_wide = _plan_wide(cmp, b, h, used_segments, used_holidays)
    reached: dict[str, list[int]] = {}
    for i, pw in enumerate(plan_wide):
        for aid in pw.activities:
            reached.setdefault(aid, []).append(i)
    activities = [replace(a, reached_by=tuple(reached.get(a.id, ()))) for a in activities]
    b_review = base.files.documents["shop"].data.get("review")
    h_review = head.files.documents["shop"].data.get("review")
    return PlanChanges(tuple(activities), tuple(plan_wide),
                       not _same(b_review, h_review))


def _without_id(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "id"}


def _sop_changes(base, head) -> list[FieldChange]:
    """An SOP document's fields (all metadata: the SOP describes, the plan decides)."""
    out = []
    for sub, b, a in _diff(base.data if base else ABSENT, head.data if head else ABSENT):
        if sub == ("activity",):
            continue
        src = head.src if head else base.src
        out.append(FieldChange(src.doc.path, src.doc.where(sub)[0],
                               "head" if head else "base", "SOP", dotted(sub), b, a, METADATA,
                               sub))
    return out


# --- plan-wide changes ------------------------------------------------------------------


def _marketing(a: Activity) -> bool:
    return a.kind == "marketing" and not a.service


def _shop_rule(path: tuple) -> tuple[str, str, Callable[[Activity], bool]]:
    """What a shop.yaml field decides and which activities it reaches."""
    everyone = (AUDIENCE, "every activity (the facts of every customer)", lambda a: True)
    key, rest = path[0], path[1:]
    if key == "contact" and rest:
        if rest[0] == "limits":
            if len(rest) > 2 and rest[1] == "channels":
                ch = rest[2]
                return AUDIENCE, f"activities on {ch} (not service)", \
                    lambda a: a.channel == ch and not a.service
            return AUDIENCE, "activities that are not service messages", \
                lambda a: not a.service
        if rest[0] == "global_holdout":
            return CONTROL, "marketing activities", _marketing
        if rest[0] == "refund_days":
            return AUDIENCE, "marketing activities", _marketing
        if rest[0] == "salt":
            return CONTROL, "activities with a control group, and marketing (the global " \
                "hold-out)", lambda a: a.holdout > 0 or _marketing(a)
        if rest[0] == "birthday_greetings":
            return AUDIENCE, "birthday activities", lambda a: a.trigger.type == "birthday"
        return everyone
    if key == "budget":
        return AUDIENCE, "marketing activities (the monthly budget trims them)", _marketing
    if key == "channels" and rest:
        ch = rest[0]
        category = OFFER if len(rest) > 1 and rest[1] == "unit_cost" else COPY
        return category, f"activities on {ch}", lambda a: a.channel == ch
    if key == "name":
        return COPY, "every activity (messages name the shop)", lambda a: True
    if key in ("evaluation", "ledger", "platform", "currency", "rules", "review"):
        return METADATA, "no activity's contacts", lambda a: False
    return everyone


def _stage_rule(sub: tuple) -> tuple[str, str, Callable[[Activity], bool]]:
    if sub[:2] == ("contacts", "max"):
        return AUDIENCE, "activities that are not service messages (the stage's limit)", \
            lambda a: not a.service
    if sub and sub[0] in ("contacts", "name", "description", "maintenance_required"):
        return METADATA, "no activity's contacts", lambda a: False
    return AUDIENCE, "every activity (customers change stage)", lambda a: True


def _tier_rule(uses_tier: Callable[[Activity], bool]):
    def rule(sub: tuple) -> tuple[str, str, Callable[[Activity], bool]]:
        if sub and sub[0] in ("name", "discount", "benefits"):
            return COPY, "activities whose messages show the tier", uses_tier
        return AUDIENCE, "every activity (customers change tier)", lambda a: True
    return rule


def _plan_wide(cmp: _Comparer, b: _Side, h: _Side, used_segments: set[str],
               used_holidays: set[str]) -> list[PlanWideChange]:
    head_acts = list(h.plan.activities)
    out: list[PlanWideChange] = []

    def add(changes: list[FieldChange], rule) -> None:
        for c in changes:
            category, reaches, pred = rule(c.path)
            ids = tuple(a.id for a in head_acts if pred(a))
            out.append(PlanWideChange(replace(c, category=category),
                                      reaches if ids else "no activity", ids))

    shop_b, shop_h = b.doc("shop"), h.doc("shop")
    add(cmp.fields("shop", (), "shop.yaml", shop_b.data, shop_h.data, lambda s: AUDIENCE),
        _shop_rule)

    def entries(kind: str, key: str, what: str, rule, skip: set[str] = frozenset()) -> None:
        be, he = b.entries(kind, key), h.entries(kind, key)
        for eid in list(he) + [x for x in be if x not in he]:
            if eid in skip:
                continue
            bv = be[eid][1] if eid in be else ABSENT
            hv = he[eid][1] if eid in he else ABSENT
            path = (key, he[eid][0]) if eid in he else (key, be[eid][0])
            changes = cmp.fields(kind, path, f"{what} {eid}", bv, hv, lambda s: AUDIENCE,
                                 base_path=(key, be[eid][0]) if eid in be else None)
            if changes and (bv is ABSENT or hv is ABSENT):  # an entry added or removed
                changes = [replace(changes[0], field="", path=(), before=bv, after=hv)]
            add(changes, rule)

    def rest_of(kind: str, key: str, rule) -> None:
        bd, hd = b.doc(kind), h.doc(kind)
        bv = {k: v for k, v in (bd.data if bd else {}).items() if k != key} if bd else ABSENT
        hv = {k: v for k, v in (hd.data if hd else {}).items() if k != key} if hd else ABSENT
        add(cmp.fields(kind, (), f"{kind}.yaml", bv, hv, lambda s: AUDIENCE), rule)

    entries("lifecycle", "stages", "stage", _stage_rule)
    uses_tier = {aid for aid, at in h.templates.items()
                 if any(r.path.split(".")[0] in ("tier", "next_tier") for r in at.refs())}
    tier_rule = _tier_rule(lambda a: a.id in uses_tier)
    entries("tiers", "tiers", "tier", tier_rule)
    rest_of("tiers", "tiers", lambda sub: (AUDIENCE, "every activity (customers change tier)",
                                           lambda a: True))
    entries("calendar", "holidays", "holiday",
            lambda sub: (METADATA, "no activity's trigger", lambda a: False), used_holidays)
    rest_of("calendar", "holidays", lambda sub: (TIMING, "every activity (no sends on "
                                                 "blackout dates)", lambda a: True))
    entries("segments", "segments", "segment",
            lambda sub: (METADATA, "no activity (segment counts only)", lambda a: False),
            used_segments)
    entries("kpis", "kpis", "KPI", lambda sub: (METADATA, "no activity's contacts",
                                                lambda a: False))
    rest_of("kpis", "kpis", lambda sub: (METADATA, "no activity's contacts", lambda a: False))
    return out
