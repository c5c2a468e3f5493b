"""The compiled plan: every statement a build runs, in order, and each activity's
audience query; `compile_plan` puts the facts, segments, triggers and audiences
together for one as-of date."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from sqlglot import exp

from crmspec.compile.audiences import CompiledActivity, audience_select
from crmspec.compile.facts import FACTS_VIEW, facts_sql, features_sql
from crmspec.compile.segments import Needs, SegmentCompiler, UserCondition
from crmspec.compile.sql import DIALECT, conjunction, false_if_null
from crmspec.compile.triggers import (
    activity_order_condition,
    activity_trigger_condition,
    order_flag_column,
    trigger_orders_sql,
)
from crmspec.data.tables import CUSTOMERS
from crmspec.plan.model import Plan

if TYPE_CHECKING:  # channels sit above the compiler; it only reads their attributes
    from crmspec.channels import Channel


@dataclass
class CompiledPlan:
    as_of: date
    statements: list[tuple[str, str]]  # (name, sql) run in order
    activities: list[CompiledActivity]
    segments: dict[str, str]  # segment id -> boolean SQL over features
    needs: Needs
    # The customer columns `features` carries (customer_id first): those the plan reads
    # (customer_columns); the others are in `customers` (compile.facts.with_customers).
    customer_columns: tuple[str, ...] = ("customer_id",)
    # the `sql:` filters, to name the one that fails on the data (engine.run)
    user_conditions: list[UserCondition] = field(default_factory=list)

    def script(self, setup: list[str] | None = None, unprintable: list[str] | None = None
               ) -> str:
        """All SQL as one readable script (for `crmspec compile` and reviews).

        `setup`: the statements that attach the shop's data and the ledger (engine.script);
        the script then runs as printed on an empty DuckDB connection. Without them, or
        when some of them could not be printed (`unprintable`), the first line says what
        the script assumes."""
        day = self.as_of.isoformat()
        if setup is not None and not unprintable:
            out = [f"-- crmspec compiled plan, as of {day}: runs as printed on an empty "
                   "DuckDB connection (duckdb < this file); it attaches the shop's data "
                   "(absolute paths) and the ledger read-only, and writes nothing",
                   "\n-- the shop's data, checked, and the ledger, as crmspec attaches them"]
            out += [f"{sql};" for sql in setup]
        else:
            why = f" ({'; '.join(unprintable)} cannot be printed)" if unprintable else ""
            out = [f"-- crmspec compiled plan, as of {day}: assumes a DuckDB connection with "
                   "the canonical tables customers, orders and events, suppressions and "
                   f"the ledger attached as `ledger`, as crmspec build prepares it{why}"]
        for name, sql in self.statements:
            out.append(f"\n-- {name}\n{sql};")
        for seg_id, cond in self.segments.items():
            out.append(f"\n-- segment {seg_id}\n-- WHERE {cond}")
        for ca in self.activities:
            out.append(f"\n-- activity {ca.activity.id} ({ca.channel.name})\n{ca.audience_sql};")
        return "\n".join(out) + "\n"


def customer_columns(expressions: Iterable[exp.Expression], reads: Iterable[str] = ()
                     ) -> tuple[str, ...]:
    """The customer columns that `expressions` (the segments' and the audiences' SQL) and
    `reads` (the templates' columns) read, in the table's order, customer_id first.

    `features` carries only these: every other customer column copied into it was
    written once per customer and never read (at 1M customers 0.9 of the statement's
    7-8 CPU s). Whatever must show every column (a channel writer's `ctx.rows`,
    `explain`) joins `customers` for the rest (`facts.with_customers`)."""
    read = set(reads) | {c.name for e in expressions for c in e.find_all(exp.Column)}
    return ("customer_id",) + tuple(c.name for c in CUSTOMERS
                                    if c.name != "customer_id" and c.name in read)


def compile_plan(plan: Plan, as_of: date, channels: dict[str, Channel],
                 previous_as_of: date | None = None, previous_in_ledger: bool = False,
                 reads: Iterable[str] = ()) -> CompiledPlan:
    """The plan's SQL as of a date; `channels` come from the plugin manager
    (`crmspec.plugins.collect_channels`); `previous_as_of` is the date of the previous
    build, whose tiers the ledger holds when `previous_in_ledger` (tier upgrades are
    measured against them; see facts_sql for the fallback); `reads`: the columns of
    `features` that the build reads besides the plan's SQL (the templates' variables,
    `crmspec.templates.rendering.template_needs`)."""
    needs = Needs()
    segc = SegmentCompiler(plan, needs)
    segments = {s.id: segc.segment(s.id) for s in plan.segments}
    activities = []
    for a in plan.activities:
        channel = channels[a.channel]
        needs.add(channel.contact_field, a.src.at("channel"))
        cond = conjunction([false_if_null(segments[a.segment].copy()),
                            activity_trigger_condition(a, plan, as_of)])
        activities.append(CompiledActivity(a, channel, audience_select(a, channel, cond)))
    columns = customer_columns([*segments.values(), *(ca.query for ca in activities)], reads)
    intents = sorted(segc.intents, key=lambda i: i.column)
    flags = {}
    for a in plan.activities:
        name = order_flag_column(a.trigger)
        if name and name not in flags:
            flags[name] = activity_order_condition(a, plan, as_of)
    flags = dict(sorted(flags.items()))
    statements = [
        ("trigger_orders: the orders today's order triggers refer to",
         "CREATE OR REPLACE TEMP TABLE trigger_orders AS "
         + (trigger_orders_sql(flags) if flags else
            "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS order_id WHERE false")),
        ("features: purchases, stage, type, tier and RFM per customer (the facts), recent "
         "intent signals and order-trigger flags",
         features_sql(facts_sql(plan, as_of, previous_as_of, previous_in_ledger, columns),
                      intents, flags, as_of)),
        ("facts: the customer facts by their old name", FACTS_VIEW),
    ]
    return CompiledPlan(
        as_of=as_of,
        statements=statements,
        activities=activities,
        segments={k: v.sql(DIALECT) for k, v in segments.items()},
        needs=needs,
        user_conditions=segc.user_conditions,
        customer_columns=columns,
    )
