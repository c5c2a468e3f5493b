"""An activity's messages, rendered set-based for its contacts (`crmspec.templates`),
and what they cost: SMS are priced by their rendered length, so they are rendered
before the budgets; every other message after, for the contacts kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from crmspec.compile import CompiledActivity, CompiledPlan
from crmspec.core.diagnostics import Diagnostic
from crmspec.core.sql import sql_ident, sql_str
from crmspec.plan.model import Plan, channel_options
from crmspec.templates.loading import ActivityTemplates
from crmspec.templates.rendering import create_rows, create_send_values, over_limit

TOO_LONG = "message_too_long"  # the status of a contact whose message is over the limit


@dataclass
class Rendered:
    """An activity's send rows with their messages, before the final decisions."""

    table: str  # quoted name of the rows table
    parts: tuple[str, ...]
    renderings: int
    options: dict
    not_ready: str | None  # why the channel cannot write its file (None: it can)
    too_long: list[Diagnostic] = field(default_factory=list)  # W520 of the messages left out


def drop_too_long(con: duckdb.DuckDBPyConnection, ca: CompiledActivity, r: Rendered,
                  at: ActivityTemplates | None, decisions: str, status: str) -> None:
    """Leave out the contacts whose rendered message is longer than the channel allows:
    their rows go from `r.table`, and their `status` column of `decisions` becomes
    TOO_LONG (a reason like any other: counted in the manifest, shown by explain, never
    sent, recorded or paid for). W520 per part goes to `r.too_long`."""
    cond, warnings = over_limit(con, r.table, at, r.parts)
    if cond is None:
        return
    con.execute(f"""UPDATE {decisions} SET {status} = {sql_str(TOO_LONG)}
        WHERE activity_id = {sql_str(ca.activity.id)} AND customer_id IN (
          SELECT customer_id FROM {r.table} WHERE {cond})""")
    con.execute(f"DELETE FROM {r.table} WHERE {cond}")
    r.too_long += warnings


def activity_options(plan: Plan, ca: CompiledActivity, at: ActivityTemplates | None) -> dict:
    return at.options if at else channel_options(plan, ca.activity,
                                                 ca.channel.option_defaults())


def not_ready(plan: Plan, ca: CompiledActivity, at: ActivityTemplates | None) -> str | None:
    """Why the activity's channel cannot write a send file, decided before any row."""
    parts = tuple(sorted(at.parts)) if at and at.parts else ()
    return ca.channel.not_ready(ca.activity, activity_options(plan, ca, at), parts)


def render_activity(con: duckdb.DuckDBPyConnection, plan: Plan, ca: CompiledActivity,
                    at: ActivityTemplates | None, as_of: date,
                    values: str | None = None) -> Rendered:
    """Create `rows_<activity>` from `sends` (status 'send'), messages rendered set-based.

    `values`: the send-values table of `render_activities` (one features join for all)."""
    table = sql_ident(f"rows_{ca.activity.id}")
    result = create_rows(con, plan, ca.activity, table, at, as_of, values)
    options = activity_options(plan, ca, at)
    return Rendered(table, result.parts, result.renderings, options,
                    ca.channel.not_ready(ca.activity, options, result.parts))


def render_activities(con: duckdb.DuckDBPyConnection, plan: Plan, compiled: CompiledPlan,
                      templates: dict[str, ActivityTemplates],
                      activities: list[CompiledActivity] | None = None) -> dict[str, Rendered]:
    """`render_activity` of the given activities (default: all), their send rows joined
    with `features` once."""
    activities = compiled.activities if activities is None else activities
    values = create_send_values(con, {ca.activity.id: templates[ca.activity.id]
                                      for ca in activities if ca.activity.id in templates})
    try:
        return {ca.activity.id: render_activity(con, plan, ca, templates.get(ca.activity.id),
                                                compiled.as_of, values)
                for ca in activities}
    finally:
        con.execute(f"DROP TABLE IF EXISTS {values}")


def priced_by_message(ca: CompiledActivity, options: dict, not_ready: str | None) -> bool:
    """Whether a contact's cost depends on its rendered message (SMS: its segments).

    Such activities are rendered before the budgets, which need each contact's cost;
    every other contact costs the activity's expected unit cost (`contacts.ActivityRule`)
    exactly, so its messages are rendered after the budgets, for the contacts kept."""
    return not_ready is None and ca.channel.units_sql(options).strip() != "1"


def cost_sql(plan: Plan, ca: CompiledActivity, r: Rendered) -> str | None:
    """SELECT activity_id, customer_id, cost: each row's units x price plus the coupon's
    amount x expected redemption (the budget's view of a contact). None unless the cost
    depends on the message (`priced_by_message`): the expected unit cost is then exact."""
    ch, a = ca.channel, ca.activity
    if not priced_by_message(ca, r.options, r.not_ready):
        return None
    units = ch.units_sql(r.options)
    coupon = a.coupon or {}
    coupon_cost = float(coupon.get("amount", 0)) * float(coupon.get("expected_redemption", 0))
    return (f"SELECT {sql_str(a.id)} AS activity_id, customer_id, "
            f"CAST({ch.unit_price(r.options)!r} * ({units}) + {coupon_cost!r} AS DOUBLE) "
            f"AS cost FROM {r.table}")
