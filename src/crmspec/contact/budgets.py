"""Steps 8-11 of the contact plan (see the package docstring): the activity budgets,
the monthly budget, the control group, then send; the result is `decisions`."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from crmspec.contact.holdout import bucket_sql
from crmspec.contact.rules import ContactRules

if TYPE_CHECKING:  # the connection's type only: `crmspec validate` imports this
    import duckdb  # package (contact.power) and does not load DuckDB


def apply_budgets(con: duckdb.DuckDBPyConnection, rules: ContactRules, as_of: date,
                  costs: str | None = None) -> None:
    """Steps 8-11 on `decisions_pre`: budgets, control group, send -> `decisions` (the
    candidates' columns with kind, service, priority, scheduled_at, status, grp, cost).
    Customer attributes for the send lists: `send_rows`.

    `costs` names a table (activity_id, customer_id, cost) with each contact's actual
    cost (its rendered message's units x price + coupon); without it the activity's
    expected unit cost is used.
    """
    cost = "coalesce(k.cost, c.cost)" if costs else "c.cost"
    join = f"LEFT JOIN {costs} k USING (activity_id, customer_id)" if costs else ""
    # A view: its two readers below (capped rows or not) each join the costs, which
    # costs less than copying every candidate row once more.
    con.execute(f"""CREATE OR REPLACE TEMP VIEW decisions_3 AS
        SELECT c.* REPLACE ({cost} AS cost) FROM decisions_pre c {join}""")
    # 8: activity budgets, in the declared order (ties: customer id). Only the rows a
    # budget can trim go through the window (sorting every candidate cost a second).
    capped = "(reason IS NULL AND NOT service AND budget_cap IS NOT NULL)"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW decisions_4 AS
        SELECT * EXCLUDE (reason),
          CASE WHEN sum(cost) OVER (PARTITION BY activity_id
                    ORDER BY trim_key NULLS LAST, customer_id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) > budget_cap + 1e-9
               THEN 'budget_activity' END AS reason
        FROM decisions_3 WHERE {capped}
        UNION ALL BY NAME
        SELECT * FROM decisions_3 WHERE NOT {capped}""")
    # 9: monthly budget. Service and maintenance contacts are kept and spend the budget
    # first; marketing follows by priority, activity and declared order until the budget
    # runs out (a contact that costs nothing is never trimmed). The window runs over the
    # marketing contacts only, starting from what the others spend.
    if rules.monthly_cap is not None:
        month_start = f"DATE '{as_of.replace(day=1).isoformat()}'"
        con.execute("CREATE OR REPLACE TEMP TABLE decisions_4m AS SELECT * FROM decisions_4")
        trimmable = "(reason IS NULL AND NOT service AND kind = 'marketing')"
        spent = (f"(SELECT coalesce(sum(cost), 0) FROM history WHERE grp = 'treatment' "
                 f"AND as_of >= {month_start}) + (SELECT coalesce(sum(cost), 0) FROM "
                 f"decisions_4m WHERE reason IS NULL AND NOT {trimmable})")
        # The running total in (rank, declared order) is what the activities ranked
        # before spend plus the running total within the activity: one window per
        # activity, run in parallel, instead of one sort of every marketing contact.
        con.execute(f"""CREATE OR REPLACE TEMP VIEW decisions_5 AS
            WITH t AS (SELECT * FROM decisions_4m WHERE {trimmable}),
            before AS (
              SELECT rank, coalesce(sum(sum(cost)) OVER (ORDER BY rank ROWS BETWEEN
                       UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS earlier
              FROM t GROUP BY rank
            )
            SELECT t.* EXCLUDE (reason),
              CASE WHEN t.cost > 0 AND {spent} + b.earlier + sum(t.cost) OVER (
                        PARTITION BY t.rank ORDER BY t.trim_key NULLS LAST, t.customer_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                        > {float(rules.monthly_cap)!r} + 1e-9
                   THEN 'budget_month' END AS reason
            FROM t JOIN before b USING (rank)
            UNION ALL BY NAME
            SELECT * FROM decisions_4m WHERE NOT {trimmable}""")
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW decisions_5 AS SELECT * FROM decisions_4")
    # 10-11: control group, then send
    control = bucket_sql("c.activity_id || ':' || c.customer_id", rules.salt)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE decisions AS
        WITH decided AS (
          SELECT c.*,
            CASE WHEN c.reason IS NOT NULL THEN c.reason
                 WHEN c.holdout > 0 AND {control} < c.holdout THEN 'control'
                 ELSE 'send' END AS status
          FROM decisions_5 c
        )
        SELECT d.activity_id, d.customer_id, d.channel, d.address, d.segment, d.stage,
          d.kind, d.service, d.priority, r.scheduled_at, d.status,
          CASE WHEN d.status = 'send' THEN 'treatment' ELSE 'control' END AS grp,
          CAST(CASE WHEN d.status = 'send' THEN d.cost ELSE 0 END AS DECIMAL(12, 4)) AS cost
        FROM decided d JOIN activity_rules r ON r.activity_id = d.activity_id""")
    for view in ("decisions_5", "decisions_4", "decisions_3"):
        con.execute(f"DROP VIEW {view}")
    for table in ("decisions_4m", "decisions_pre"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
