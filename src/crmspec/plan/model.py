"""The plan as typed objects, built from schema-valid documents.

Defaults live here (and in the schema descriptions), not scattered through the
compiler. Every object keeps `src`, the document and JSON path it came from, so that a
later stage (semantic checks, data checks in a build) can still point at the plan line
responsible for a problem.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from crmspec.core.diagnostics import Diagnostic, Src
from crmspec.data.settings import CsvFormat, DataSource
from crmspec.plan.load import Document
from crmspec.plan.parts import ENTRY_LISTS, Broken, Known
from crmspec.plan.project import ProjectFiles
from crmspec.plan.triggers import Trigger, parse_trigger


@dataclass(frozen=True)
class ReviewThresholds:
    """shop.yaml `review`: when `crmspec plan` says a change needs an approval."""

    audience_growth: float | None = None
    monthly_cost_increase: float | None = None
    control_group_required: bool = False


@dataclass(frozen=True)
class Shop:
    name: str
    platform: str | None
    timezone: str
    currency: str
    as_of: date | None  # None: latest (day after the last order)
    data: DataSource
    fans_min_purchases: int
    purchase_statuses: tuple[str, ...]
    same_day: str
    maintenance_share: tuple[float | None, float | None] | None
    channel_options: dict[str, dict]  # shop.yaml channels: channel -> option defaults
    src: Src
    contact: "ContactSettings" = None  # type: ignore[assignment]
    monthly_cap: float | None = None
    month_caps: dict[str, float] = field(default_factory=dict)  # 'YYYY-MM' -> cap
    evaluation: "Evaluation" = None  # type: ignore[assignment]
    ledger_path: str = "state/ledger.duckdb"
    # shop.yaml `import`: how `crmspec import csv` reads the shop's exports (a csv source)
    imports: DataSource | None = None
    review: ReviewThresholds = field(default_factory=ReviewThresholds)

    def cap_for(self, day: date) -> float | None:
        """The budget of the calendar month of `day`: its own cap (budget.months, e.g.
        a bigger one for 双11) or the monthly cap (None: no cap)."""
        return self.month_caps.get(day.strftime("%Y-%m"), self.monthly_cap)


@dataclass(frozen=True)
class LimitWindow:
    days: int
    max: int


@dataclass(frozen=True)
class ContactSettings:
    salt: str
    global_holdout: float
    refund_days: int | None
    birthday_greetings: bool
    overall: tuple[LimitWindow, ...]
    per_channel: dict[str, tuple[LimitWindow, ...]]


@dataclass(frozen=True)
class Evaluation:
    baseline_response: float
    min_effect: float | None
    alpha: float
    power: float
    window_days: int


@dataclass(frozen=True)
class Tier:
    id: str
    name: str
    min_spend: float
    min_purchases: int | None
    discount: float | None
    benefits: tuple[str, ...]
    rank: int
    src: Src


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    from_days: int | None
    to_days: int | None
    never_purchased: bool
    maintenance_required: bool
    contacts_min: int | None
    contacts_max: int | None
    src: Src


@dataclass(frozen=True)
class Segment:
    id: str
    name: str
    description: str
    where: dict | None
    everyone: bool
    src: Src


@dataclass(frozen=True)
class Activity:
    id: str
    name: str
    description: str
    kind: str
    stages: tuple[str, ...]
    segment: str
    channel: str
    trigger: Trigger
    priority: int
    service: bool
    holdout: float
    kpi: str | None
    owner: str | None
    purpose: str | None
    src: Src
    template: str | None = None  # message template name (plans/templates/<name>.<channel>...)
    channel_options: dict = field(default_factory=dict)  # as written on the activity
    coupon: dict | None = None
    send_windows: tuple[dict, ...] = ()  # as written; replace the channel's windows
    budget_cap: float | None = None
    trim_by: str = "spend"
    trim_desc: bool = True
    min_effect: float | None = None


@dataclass(frozen=True)
class Kpi:
    id: str
    name: str
    metric: str
    params: dict
    src: Src


@dataclass(frozen=True)
class Sop:
    activity: str
    data: dict
    src: Src


@dataclass
class Plan:
    shop: Shop
    tiers: list[Tier]
    tier_window_days: int | None
    tier_review_date: str | None
    stages: list[Stage]
    segments: list[Segment]
    activities: list[Activity]
    kpis: list[Kpi]
    monitoring: list[str]
    sops: list[Sop]
    files: ProjectFiles = field(repr=False)
    holidays: dict[str, tuple[date, ...]] = field(default_factory=dict)
    blackout_dates: tuple[date, ...] = ()
    rfm_window_days: int | None = None  # segments.yaml rfm.window_days (None: all time)
    # Parts left out because their schema check failed (validate checks the rest); a
    # plan that is built or reviewed has none.
    broken: Broken = field(default_factory=Broken)

    def segment(self, sid: str) -> Segment:
        # An index, not a scan: the compiler looks segments up once per reference, and a
        # scan made 10,000 segments quadratic. Rebuilt when the list is replaced or grows.
        key = (id(self.segments), len(self.segments))
        cached = self.__dict__.get("_segment_index")
        if cached is None or cached[0] != key:
            cached = (key, {})
            for seg in self.segments:
                cached[1].setdefault(seg.id, seg)
            self.__dict__["_segment_index"] = cached
        found = cached[1].get(sid)
        if found is None:
            return next(s for s in self.segments if s.id == sid)
        return found

    def known(self, what: str) -> Known:
        """The ids a reference to a `what` ("segment", "stage", "tier", "KPI",
        "activity", "holiday") may name, left-out entries included."""
        entries = {"activity": self.activities, "segment": self.segments,
                   "stage": self.stages, "tier": self.tiers, "KPI": self.kpis}
        ids = self.holidays if what == "holiday" else [e.id for e in entries[what]]
        return Known(ids, self.broken.ids(what), self.broken.unnamed(what))


def _as_list(value: Any) -> tuple:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _data_source(doc: Document, key: str, source: str, path: str) -> DataSource:
    """shop.yaml `data` (or `import`, read as a csv source) as the data package needs it."""
    data = doc.data.get(key, {})
    demo = data.get("demo", {})
    csv = data.get("csv", {})

    def per_table(name: str) -> dict:
        return {t: dict(v) for t, v in data.get(name, {}).items()}

    return DataSource(
        source=source,
        path=path,
        tables=dict(data.get("tables", {})),
        columns=per_table("columns"),
        demo_customers=demo.get("customers", 20000),
        demo_seed=demo.get("seed", 7),
        demo_end_date=date.fromisoformat(demo.get("end_date", "2026-06-30")),
        src=Src(doc, (key,)),
        csv=CsvFormat(encoding=csv.get("encoding", "utf-8"),
                      delimiter=csv.get("delimiter", ","), header=csv.get("header", True),
                      quote=csv.get("quote", '"')),
        values={t: {c: dict(m) for c, m in v.items()} for t, v in data.get("values", {}).items()},
        formats=per_table("formats"),
        constants=per_table("constants"),
        derived=per_table("derived"),
    )


def shop_settings(doc: Document, broken: Broken | None = None) -> Shop:
    """The shop of a schema-valid shop.yaml (`crmspec import` reads no other plan file),
    without the sections `broken` names (validate checks the rest)."""
    broken = broken or Broken()
    d = {k: v for k, v in doc.data.items() if not broken.has(doc.path, k)}
    data = d["data"]
    as_of = d.get("as_of", "latest")
    share = d.get("rules", {}).get("maintenance_share")
    return Shop(
        name=d["name"],
        platform=d.get("platform"),
        timezone=d.get("timezone", "Asia/Shanghai"),
        currency=d.get("currency", "CNY"),
        as_of=None if as_of == "latest" else date.fromisoformat(as_of),
        data=_data_source(doc, "data", data["source"], data["path"]),
        imports=_data_source(doc, "import", "csv", "."),
        fans_min_purchases=d.get("customers", {}).get("fans_min_purchases", 4),
        purchase_statuses=tuple(d.get("purchase", {}).get("statuses", ["paid"])),
        same_day=d.get("purchase", {}).get("same_day", "once"),
        maintenance_share=(share.get("min"), share.get("max")) if share else None,
        channel_options={k: dict(v) for k, v in d.get("channels", {}).items()},
        src=Src(doc, ()),
        contact=_contact(d.get("contact", {}), d["name"]),
        monthly_cap=d.get("budget", {}).get("monthly_cap"),
        month_caps={k: float(v) for k, v in d.get("budget", {}).get("months", {}).items()},
        evaluation=_evaluation(d.get("evaluation", {})),
        ledger_path=d.get("ledger", {}).get("path", "state/ledger.duckdb"),
        review=ReviewThresholds(**d.get("review", {})),
    )


def _windows(raw: list) -> tuple[LimitWindow, ...]:
    return tuple(LimitWindow(w["days"], w["max"]) for w in raw)


def _contact(c: dict, shop_name: str) -> ContactSettings:
    limits = c.get("limits", {})
    return ContactSettings(
        salt=c.get("salt", shop_name),
        global_holdout=float(c.get("global_holdout", 0.0)),
        refund_days=c.get("refund_days", 30),
        birthday_greetings=c.get("birthday_greetings", True),
        overall=_windows(limits.get("overall", [])),
        per_channel={ch: _windows(ws) for ch, ws in limits.get("channels", {}).items()},
    )


def _evaluation(e: dict) -> Evaluation:
    return Evaluation(
        baseline_response=float(e.get("baseline_response", 0.05)),
        min_effect=e.get("min_effect"),
        alpha=float(e.get("alpha", 0.05)),
        power=float(e.get("power", 0.8)),
        window_days=int(e.get("window_days", 7)),
    )


def build_plan(files: ProjectFiles, broken: Broken | None = None) -> Plan:
    """Typed plan from schema-valid documents, without the parts `broken` names (call
    only when the rest passed the schema check: `crmspec.validate`). Only shop.yaml
    must be there: the plan of a validate run whose lifecycle, segments or activities
    file cannot be used has none of them."""
    broken = broken or Broken()
    docs = {k: d for k, d in files.documents.items() if not broken.has(d.path)}

    def kept(doc: Document, key: str) -> list[tuple[int, Any]]:
        if broken.has(doc.path, key):
            return []
        return [(i, x) for i, x in enumerate(doc.data.get(key, []))
                if not broken.has(doc.path, key, i)]

    def entries(kind: str) -> list[tuple[int, dict]]:
        return kept(docs[kind], ENTRY_LISTS[kind][0]) if kind in docs else []

    def section(doc: Document, key: str) -> dict:
        return {} if broken.has(doc.path, key) else doc.data.get(key, {})

    shop = shop_settings(docs["shop"], broken)
    tiers_doc = docs.get("tiers")
    tiers: list[Tier] = []
    window = review = None
    if tiers_doc:
        ev = section(tiers_doc, "evaluation")
        window, review = ev.get("window_days"), ev.get("review_date")
        for i, t in entries("tiers"):
            tiers.append(
                Tier(
                    id=t["id"],
                    name=t["name"],
                    min_spend=float(t["min_spend"]),
                    min_purchases=t.get("min_purchases"),
                    discount=t.get("discount"),
                    benefits=tuple(t.get("benefits", [])),
                    rank=len(tiers) + 1,
                    src=Src(tiers_doc, ("tiers", i)),
                )
            )
    lc = docs.get("lifecycle")
    stages = [
        Stage(
            id=s["id"],
            name=s["name"],
            from_days=s.get("from_days"),
            to_days=s.get("to_days"),
            never_purchased=bool(s.get("never_purchased", False)),
            maintenance_required=s.get("maintenance_required", True),
            contacts_min=s.get("contacts", {}).get("min"),
            contacts_max=s.get("contacts", {}).get("max"),
            src=Src(lc, ("stages", i)),
        )
        for i, s in entries("lifecycle")
    ]
    sg = docs.get("segments")
    segments = [
        Segment(
            id=s["id"],
            name=s["name"],
            description=s.get("description", ""),
            where=s.get("where"),
            everyone=bool(s.get("everyone", False)),
            src=Src(sg, ("segments", i)),
        )
        for i, s in entries("segments")
    ]
    ac = docs.get("activities")
    activities = [
        Activity(
            id=a["id"],
            name=a["name"],
            description=a.get("description", ""),
            kind=a["kind"],
            stages=_as_list(a["stage"]),
            segment=a["segment"],
            channel=a["channel"],
            trigger=parse_trigger(a.get("trigger")),
            priority=a.get("priority", 100),
            service=a.get("service", False),
            holdout=float(a.get("holdout", 0.0)),
            kpi=a.get("kpi"),
            owner=a.get("owner"),
            purpose=a.get("purpose"),
            src=Src(ac, ("activities", i)),
            template=a.get("template"),
            channel_options=dict(a.get("channel_options", {})),
            coupon=dict(a["coupon"]) if a.get("coupon") else None,
            send_windows=tuple(a.get("send_windows", ())),
            budget_cap=a.get("budget", {}).get("cap"),
            trim_by=a.get("budget", {}).get("keep_first", {}).get("by", "spend"),
            trim_desc=a.get("budget", {}).get("keep_first", {}).get("order", "desc") == "desc",
            min_effect=a.get("min_effect"),
        )
        for i, a in entries("activities")
    ]
    kp = docs.get("kpis")
    kpis: list[Kpi] = []
    monitoring: list[str] = []
    if kp:
        for i, k in entries("kpis"):
            params = {x: v for x, v in k.items() if x not in ("id", "name", "metric")}
            kpis.append(Kpi(k["id"], k["name"], k["metric"], params, Src(kp, ("kpis", i))))
        monitoring = list(section(kp, "monitoring").get("kpis", []))
    sops = [Sop(d.data["activity"], d.data, Src(d, ())) for d in files.sops
            if not broken.has(d.path)]
    cal = docs.get("calendar")
    holidays: dict[str, tuple[date, ...]] = {}
    blackout: tuple[date, ...] = ()
    if cal:
        holidays = {h["id"]: tuple(date.fromisoformat(x) for x in h["dates"])
                    for _, h in entries("calendar")}
        blackout = tuple(date.fromisoformat(x) for _, x in kept(cal, "blackout_dates"))
    return Plan(shop, tiers, window, review, stages, segments, activities, kpis, monitoring,
                sops, files, holidays, blackout, broken=broken,
                rfm_window_days=section(sg, "rfm").get("window_days") if sg else None)


def channel_options(plan: Plan, activity: Activity, defaults: dict) -> dict:
    """An activity's channel options: channel defaults < shop.yaml channels < activity."""
    return {**defaults, **plan.shop.channel_options.get(activity.channel, {}),
            **activity.channel_options}


def kinds_per_stage(plan: Plan) -> dict[str, Counter]:
    """Per stage id, how many activities of each kind reach it (domain rules 1 and 2)."""
    per_stage: dict[str, Counter] = {s.id: Counter() for s in plan.stages}
    for a in plan.activities:
        for st in a.stages:
            if st in per_stage:
                per_stage[st][a.kind] += 1
    return per_stage


def stage_bands(plan: Plan) -> list[Stage]:
    """Recency stages (not the never-purchased one), ordered by from_days."""
    return sorted((s for s in plan.stages if not s.never_purchased),
                  key=lambda s: (s.from_days or 0, s.to_days or 10**9))


Diagnostics = list[Diagnostic]
