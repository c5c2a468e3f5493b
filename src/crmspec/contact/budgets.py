"""Steps 8-11 of the contact plan (see the package docstring): the activity budgets,
the monthly budget, the control group, then send; the result is `decisions`."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from crmspec.contact.holdout import bucket_sql
from crmspec.contact.limits import WORK_TABLES, WORK_VIEWS
from crmspec.contact.rules import TRIM_COLUMNS, ContactRules
from crmspec.core.sql import Runner, execute_all

if TYPE_CHECKING:  # the connection's type only: `crmspec validate` imports this
    import duckdb  # package (contact.power) and does not load DuckDB


def budgets_sql(rules: ContactRules, as_of: date, costs: str | None) -> str | None:
    """The statement creating `budget_cut` (customer_id, rank, reason): the contacts
    steps 8-9 leave out, and why; None when the plan has no budget.

    Over narrow rows of the contacts still in (customer, activity rank, cost, trim key):
    the windows sort only what they carry, and only the contacts a budget can trim go
    through them."""
    if rules.monthly_cap is None and all(a.budget_cap is None for a in rules.activities):
        return None
    trim_key = "CASE p.trim_by " + " ".join(
        f"WHEN '{c}' THEN CAST(f.\"{c}\" AS DOUBLE)" for c in TRIM_COLUMNS) + " END"
    cost = "coalesce(k.cost, p.cost)" if costs else "p.cost"
    join = (f"LEFT JOIN {costs} k ON k.activity_id = p.activity_id "
            f"AND k.customer_id = p.customer_id" if costs else "")
    still_in = "p.reason IS NULL" + (" AND k.reason IS NULL" if costs else "")
    # the contacts still in after the limits (and their messages' length), with the
    # trim key: the features join only here, where the key is read
    steps = [f"""p AS (
          SELECT p.customer_id, p.rank, p.kind, p.service, p.budget_cap, {cost} AS cost,
            CASE WHEN p.trim_desc THEN -({trim_key}) ELSE {trim_key} END AS trim_key
          FROM decisions_pre p {join} LEFT JOIN features f ON f.customer_id = p.customer_id
          WHERE {still_in})"""]
    # 8: activity budgets, in the declared order (ties: customer id). Only the rows a
    # budget can trim go through the window (sorting every candidate cost a second).
    capped = "(NOT service AND budget_cap IS NOT NULL)"
    steps.append(f"""a AS MATERIALIZED (
          SELECT customer_id, rank, kind, service, cost, trim_key,
            CASE WHEN sum(cost) OVER (PARTITION BY rank
                      ORDER BY trim_key NULLS LAST, customer_id
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) > budget_cap + 1e-9
                 THEN 'budget_activity' END AS reason
          FROM p WHERE {capped}
          UNION ALL
          SELECT customer_id, rank, kind, service, cost, trim_key, NULL FROM p
          WHERE NOT {capped})""")
    cuts = ["SELECT customer_id, rank, reason FROM a WHERE reason IS NOT NULL"]
    # 9: monthly budget. Service and maintenance contacts are kept and spend the budget
    # first; marketing follows by priority, activity and declared order until the budget
    # runs out (a contact that costs nothing is never trimmed). The window runs over the
    # marketing contacts only, starting from what the others spend.
    if rules.monthly_cap is not None:
        month_start = f"DATE '{as_of.replace(day=1).isoformat()}'"
        trimmable = "(reason IS NULL AND NOT service AND kind = 'marketing')"
        spent = (f"(SELECT coalesce(sum(cost), 0) FROM history WHERE grp = 'treatment' "
                 f"AND as_of >= {month_start}) + (SELECT coalesce(sum(cost), 0) FROM "
                 f"a WHERE reason IS NULL AND NOT {trimmable})")
        # The running total in (rank, declared order) is what the activities ranked
        # before spend plus the running total within the activity: one window per
        # activity, run in parallel, instead of one sort of every marketing contact.
        steps.append(f"""t AS (SELECT * FROM a WHERE {trimmable}),
        before AS (
          SELECT rank, coalesce(sum(sum(cost)) OVER (ORDER BY rank ROWS BETWEEN
                   UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS earlier
          FROM t GROUP BY rank
        ),
        m AS (
          SELECT t.customer_id, t.rank,
            CASE WHEN t.cost > 0 AND {spent} + b.earlier + sum(t.cost) OVER (
                      PARTITION BY t.rank ORDER BY t.trim_key NULLS LAST, t.customer_id
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                      > {float(rules.monthly_cap)!r} + 1e-9
                 THEN 'budget_month' END AS reason
          FROM t JOIN before b USING (rank))""")
        cuts.append("SELECT customer_id, rank, reason FROM m WHERE reason IS NOT NULL")
    return ("CREATE OR REPLACE TEMP TABLE budget_cut AS WITH " + ",\n".join(steps) + "\n"
            + "\nUNION ALL\n".join(cuts))


def decisions_sql(rules: ContactRules, costs: str | None, budgeted: bool) -> str:
    """The statement creating `decisions`: every candidate with its final status, the
    first reason that applies (steps 1-7 in `decisions_pre`, a message over the channel's
    limit in `costs`, the budgets in `budget_cut`), else control (10) or send (11)."""
    control = bucket_sql("p.activity_id || ':' || p.customer_id", rules.salt)
    joins, reasons = [], ["p.reason"]
    if costs:
        joins.append(f"LEFT JOIN {costs} k ON k.activity_id = p.activity_id "
                     "AND k.customer_id = p.customer_id")
        reasons.append("k.reason")
    if budgeted:
        joins.append("LEFT JOIN budget_cut b ON b.customer_id = p.customer_id "
                     "AND b.rank = p.rank")
        reasons.append("b.reason")
    cost = "coalesce(k.cost, p.cost)" if costs else "p.cost"
    reason = reasons[0] if len(reasons) == 1 else f"coalesce({', '.join(reasons)})"
    return f"""CREATE OR REPLACE TEMP TABLE decisions AS
        WITH decided AS (
          SELECT p.*,
            CASE WHEN {reason} IS NOT NULL THEN {reason}
                 WHEN p.holdout > 0 AND {control} < p.holdout THEN 'control'
                 ELSE 'send' END AS status,
            {cost} AS contact_cost
          FROM decisions_pre p {" ".join(joins)}
        )
        SELECT activity_id, customer_id, channel, address, segment, stage,
          kind, service, priority, scheduled_at, status,
          CASE WHEN status = 'send' THEN 'treatment' ELSE 'control' END AS grp,
          CAST(CASE WHEN status = 'send' THEN contact_cost ELSE 0 END AS DECIMAL(12, 4)) AS cost
        FROM decided"""


def apply_budgets(con: duckdb.DuckDBPyConnection, rules: ContactRules, as_of: date,
                  costs: str | None = None, run: Runner = execute_all) -> None:
    """Steps 8-11 on `decisions_pre`: budgets, control group, send -> `decisions` (the
    candidates' columns with kind, service, priority, scheduled_at, status, grp, cost).
    Customer attributes for the send lists: `send_rows`.

    `costs` names a table (activity_id, customer_id, cost, reason) of the contacts whose
    messages were rendered before the budgets: each one's actual cost (its rendered
    message's units x price + coupon; NULL: the expected unit cost) and `reason`
    message_too_long when it is over the channel's limit (not sent, not paid for).
    Without it every contact costs its activity's expected unit cost.

    `budget_cut` and `decisions` go to `run` (a build's runner, as in `apply_limits`).
    """
    budgets = budgets_sql(rules, as_of, costs)
    run(con, ([budgets] if budgets is not None else [])
        + [decisions_sql(rules, costs, budgets is not None)])
    con.execute("DROP TABLE IF EXISTS budget_cut")
    for view in WORK_VIEWS:
        con.execute(f"DROP VIEW {view}")
    for table in WORK_TABLES:
        con.execute(f"DROP TABLE {table}")
