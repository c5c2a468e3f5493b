"""Segment conditions as boolean expressions over `features` (one row per customer),
and what compiling them found out: the customer columns the plan reads (`Needs`) and
the intent signals `features` must carry (`Intent`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from crmspec.compile.sql import (
    as_list,
    col,
    conjunction,
    disjunction,
    false_if_null,
    lit,
    range_condition,
)
from crmspec.core.diagnostics import Src
from crmspec.data.tables import filter_columns
from crmspec.plan.model import Plan
from crmspec.safesql import parse_filter


@dataclass(frozen=True)
class Intent:
    events: tuple[str, ...]
    within_days: int
    not_bought_since: bool

    @property
    def column(self) -> str:
        return "intent_" + "_".join(self.events) + f"_{self.within_days}d"


@dataclass(frozen=True)
class UserCondition:
    """A condition a user wrote (a `sql:` filter), with its place: when the build's SQL
    fails on the shop's data, the engine runs these one by one to name the culprit."""

    segment_id: str
    src: Src
    sql: str  # boolean SQL over `features`


@dataclass
class Needs:
    """Customer columns the plan reads, with the plan place that reads them."""

    columns: dict[str, Src] = field(default_factory=dict)

    def add(self, column: str, src: Src) -> None:
        self.columns.setdefault(column, src)


class SegmentCompiler:
    """Turns segment conditions into boolean expressions over the `features` table."""

    def __init__(self, plan: Plan, needs: Needs):
        self.plan = plan
        self.needs = needs
        self.tier_rank = {t.id: t.rank for t in plan.tiers}
        self.intents: dict[Intent, None] = {}
        self.columns = filter_columns()
        self._cache: dict[str, exp.Expression] = {}
        self.user_conditions: list[UserCondition] = []
        self._segment_ids: list[str] = []  # the segments being compiled, innermost last

    def segment(self, sid: str) -> exp.Expression:
        if sid not in self._cache:
            seg = self.plan.segment(sid)
            self._segment_ids.append(sid)
            try:
                if seg.everyone:
                    self._cache[sid] = exp.true()
                else:
                    self._cache[sid] = self.conditions(seg.where or {}, seg.src.at("where"))
            finally:
                self._segment_ids.pop()
        return self._cache[sid].copy()

    def conditions(self, where: dict, src: Src) -> exp.Expression:
        return conjunction([self.test(k, v, src.at(k)) for k, v in where.items()])

    def test(self, key: str, value, src: Src) -> exp.Expression:
        if key == "stage":
            return col("stage").isin(*map(lit, as_list(value)))
        if key == "customer_type":
            types = []
            for v in as_list(value):
                types += ["returning", "fans"] if v == "returning" else [v]
            return col("customer_type").isin(*map(lit, sorted(set(types))))
        if key == "tier":
            vals = as_list(value)
            parts: list[exp.Expression] = []
            named = [v for v in vals if v != "none"]
            if named:
                parts.append(col("tier").isin(*map(lit, named)))
            if "none" in vals:
                parts.append(col("tier").is_(exp.null()))
            return disjunction(parts)
        if key == "tier_at_least":
            return col("tier_rank") >= lit(self.tier_rank[value])
        if key in ("purchases", "spend", "days_since_last_purchase"):
            return range_condition(key, value)
        if key == "rfm":
            return conjunction([self._score(k, v) for k, v in value.items()])
        if key == "attributes":
            return conjunction([self._attribute(c, t, src.at(c)) for c, t in value.items()])
        if key == "intent":
            intent = Intent(tuple(sorted(value["events"])), value["within_days"],
                            value.get("not_bought_since", True))
            self.intents[intent] = None
            at = col(intent.column)
            cond = at.is_(exp.null()).not_()
            if intent.not_bought_since:
                cond = conjunction([cond, disjunction([col("last_purchase_at").is_(exp.null()),
                                                       col("last_purchase_at") < at])])
            return cond
        if key == "in_segment":
            return disjunction([false_if_null(self.segment(s)) for s in as_list(value)])
        if key == "not_in_segment":
            return conjunction([exp.not_(false_if_null(self.segment(s))) for s in as_list(value)])
        if key == "sql":
            safe = parse_filter(value, self.columns)
            for c in safe.columns:
                self.needs.add(c, src)
            cond = exp.paren(safe.expression.copy())
            if self._segment_ids:
                self.user_conditions.append(
                    UserCondition(self._segment_ids[-1], src, cond.sql("duckdb")))
            return cond
        if key == "any_of":
            return disjunction([false_if_null(self.conditions(w, src.at(i)))
                                for i, w in enumerate(value)])
        if key == "not":
            return exp.not_(false_if_null(self.conditions(value, src)))
        # the schema forbids any other key: unreachable from a validated plan
        raise ValueError(f"unknown condition {key!r}")  # pragma: no cover

    def _score(self, letter: str, value) -> exp.Expression:
        if isinstance(value, list):
            return col(letter).isin(*map(lit, value))
        return range_condition(letter, value)

    def _attribute(self, column: str, test, src: Src) -> exp.Expression:
        self.needs.add(column, src)
        c = col(column)
        if isinstance(test, list):
            return c.isin(*map(lit, test))
        if isinstance(test, dict):
            if "missing" in test:
                return c.is_(exp.null()) if test["missing"] else c.is_(exp.null()).not_()
            if "not" in test:
                vals = as_list(test["not"])
                return conjunction([c.is_(exp.null()).not_(), exp.not_(c.isin(*map(lit, vals)))])
            return range_condition(column, test)
        return c.eq(lit(test))
