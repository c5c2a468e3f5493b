"""The contact pass of a build: the contact rules (`crmspec.contact`) over the
candidates, with the messages whose cost depends on them rendered and costed first."""

from __future__ import annotations

import duckdb

from crmspec.compile import CompiledPlan
from crmspec.contact.budgets import apply_budgets
from crmspec.contact.ledger import history_view
from crmspec.contact.limits import apply_limits
from crmspec.contact.rules import rules_for
from crmspec.core.sql import Runner, execute_all, sql_str
from crmspec.outputs.render import (
    TOO_LONG,
    Rendered,
    activity_options,
    cost_sql,
    drop_too_long,
    not_ready,
    priced_by_message,
    render_activities,
)
from crmspec.outputs.write import create_send_rows
from crmspec.plan.model import Plan


def decide_contacts(con: duckdb.DuckDBPyConnection, plan: Plan, compiled: CompiledPlan,
                    templates: dict, runner: Runner = execute_all) -> dict[str, Rendered]:
    """The contact plan (`decide`), then the other messages rendered for the contacts
    kept. Leaves `sends` (the final decisions) and the rendered rows."""
    rendered = decide(con, plan, compiled, templates, runner)
    later = [ca for ca in compiled.activities if ca.activity.id not in rendered]
    rendered.update(render_activities(con, plan, compiled, templates, later))
    # Priced per message, their budgets counted the expected unit cost; a message over
    # the channel's limit is still not sent (and its cost not counted).
    for ca in later:
        drop_too_long(con, ca, rendered[ca.activity.id], templates.get(ca.activity.id),
                      "decisions", "status")
    con.execute(f"UPDATE decisions SET cost = 0, grp = 'control' "
                f"WHERE status = {sql_str(TOO_LONG)}")
    create_send_rows(con)
    return {ca.activity.id: rendered[ca.activity.id] for ca in compiled.activities}


def decide(con: duckdb.DuckDBPyConnection, plan: Plan, compiled: CompiledPlan,
           templates: dict, runner: Runner = execute_all) -> dict[str, Rendered]:
    """The decisions alone: limits, the messages whose cost depends on them rendered and
    costed (SMS), budgets and control groups. Leaves `decisions` (every candidate with
    its status and cost) and `sends`; returns the messages rendered so far (a review
    reads costs, not messages).

    `runner` runs the contact plan's statements over the candidates (on Spark, a Spark
    build's runner); the rule tables, the rendering and the costs stay on `con`."""
    options = {ca.activity.id: activity_options(plan, ca, templates.get(ca.activity.id))
               for ca in compiled.activities}
    unsendable = {ca.activity.id: not_ready(plan, ca, templates.get(ca.activity.id))
                  for ca in compiled.activities}
    rules = rules_for(plan, compiled, options, unsendable)
    history_view(con, compiled.as_of)
    apply_limits(con, rules, compiled.as_of, runner)
    con.execute("CREATE OR REPLACE TEMP VIEW sends AS SELECT * EXCLUDE (reason), "
                "coalesce(reason, 'send') AS status FROM decisions_pre")
    early = [ca for ca in compiled.activities
             if priced_by_message(ca, options[ca.activity.id], unsendable[ca.activity.id])]
    rendered = render_activities(con, plan, compiled, templates, early)
    # Each contact rendered before the budgets, with its cost (NULL: the expected unit
    # cost) and, before the budgets, whether its message is over the channel's limit:
    # not sent, so the budget never pays for it (its segments would multiply its cost).
    costs = None
    if early:
        costs = "row_costs"
        con.execute("CREATE OR REPLACE TEMP TABLE row_costs AS SELECT activity_id, "
                    "customer_id, cost, CAST(NULL AS VARCHAR) AS reason FROM ("
                    + "\nUNION ALL\n".join(_row_costs(plan, ca, rendered[ca.activity.id])
                                           for ca in early) + ")")
        for ca in early:
            drop_too_long(con, ca, rendered[ca.activity.id], templates.get(ca.activity.id),
                          "row_costs", "reason")
    apply_budgets(con, rules, compiled.as_of, costs=costs, run=runner)
    con.execute("CREATE OR REPLACE TEMP VIEW sends AS SELECT * FROM decisions")
    return rendered


def _row_costs(plan: Plan, ca, r: Rendered) -> str:
    """SELECT activity_id, customer_id, cost of the activity's rendered rows: `cost_sql`
    (units x price + coupon), or NULL (the expected unit cost) where the cost does not
    depend on the message; every rendered row is listed either way, for drop_too_long
    to mark."""
    return cost_sql(plan, ca, r) or (
        f"SELECT {sql_str(ca.activity.id)} AS activity_id, customer_id, "
        f"CAST(NULL AS DOUBLE) AS cost FROM {r.table}")
