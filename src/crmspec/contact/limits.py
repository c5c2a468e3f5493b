"""Steps 1-7 of the contact plan (see the package docstring): the channel's verdict,
the do-not-contact list, open refunds, the global hold-out, cooldowns, and the contact
limits per channel, overall and per stage, which the higher-priority activities win."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from crmspec.contact.holdout import bucket_sql
from crmspec.contact.rules import TRIM_COLUMNS, ContactRules, Window
from crmspec.core.sql import sql_str

if TYPE_CHECKING:  # the connection's type only: `crmspec validate` imports this
    import duckdb  # package (contact.power) and does not load DuckDB


def _rules_table(con: duckdb.DuckDBPyConnection, rules: ContactRules) -> None:
    con.execute("""CREATE OR REPLACE TEMP TABLE activity_rules (
        activity_id VARCHAR, kind VARCHAR, service BOOLEAN, priority INTEGER, holdout DOUBLE,
        once_within_days INTEGER, unit_cost DOUBLE, budget_cap DOUBLE, trim_by VARCHAR,
        trim_desc BOOLEAN, scheduled_at TIMESTAMP, not_sent BOOLEAN, rank INTEGER)""")
    # rank: the activity's place when limits force a choice (priority descending, then
    # id). The windows order by this one integer instead of comparing the two columns.
    ranked = sorted(rules.activities, key=lambda a: (-a.priority, a.activity_id))
    rank = {a.activity_id: i for i, a in enumerate(ranked)}
    if rules.activities:
        con.executemany(
            "INSERT INTO activity_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(a.activity_id, a.kind, a.service, a.priority, a.holdout, a.once_within_days,
              a.unit_cost, a.budget_cap, a.trim_by, a.trim_desc, a.scheduled_at, a.not_sent,
              rank[a.activity_id]) for a in rules.activities])
    con.execute("CREATE OR REPLACE TEMP TABLE stage_rules (stage VARCHAR, from_days INTEGER, "
                "contacts_max INTEGER)")
    if rules.stages:
        con.executemany("INSERT INTO stage_rules VALUES (?, ?, ?)",
                        [(s.stage_id, s.from_days, s.contacts_max) for s in rules.stages])


def _prior_tables(con: duckdb.DuckDBPyConnection, rules: ContactRules, d: str) -> None:
    """Earlier contacts of non-service activities, counted once per customer.

    Held-out (control) contacts count as if they had been sent: otherwise a customer held
    out of one activity would receive more of the others, and the control group would no
    longer show "this activity versus none" but "versus whatever else the plan sends".

    `prior_channel` (customer, channel, one wN column per window length N: contacts on
    the N-1 days before the as-of date) and `prior_stage` (contacts since the customer
    entered their current stage: last purchase date + the stage's from_days).
    """
    lengths = sorted({w.days for w in rules.overall}
                     | {w.days for ws in rules.per_channel.values() for w in ws})
    cols = "".join(f", count(*) FILTER (WHERE as_of > {d} - INTERVAL {n} DAY) AS w{n}"
                   for n in lengths)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE prior_channel AS
        SELECT customer_id, channel{cols} FROM history
        WHERE NOT service GROUP BY customer_id, channel""")
    sums = "".join(f", sum(w{n}) AS w{n}" for n in lengths)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE prior_all AS
        SELECT customer_id{sums} FROM prior_channel GROUP BY customer_id""")
    con.execute("""CREATE OR REPLACE TEMP TABLE prior_stage AS
        SELECT h.customer_id, count(*) AS n FROM history h
        JOIN features f USING (customer_id) JOIN stage_rules s ON s.stage = f.stage
        WHERE NOT h.service
          AND (s.from_days IS NULL OR h.as_of >= f.last_purchase_date + INTERVAL (s.from_days) DAY)
        GROUP BY h.customer_id""")


def _allowed(windows: list[Window], alias: str) -> str:
    """min over windows of (max - earlier contacts in the window); NULL: no limit."""
    if not windows:
        return "NULL"
    parts = [f"({int(w.max)} - coalesce({alias}.w{int(w.days)}, 0))" for w in windows]
    return parts[0] if len(parts) == 1 else f"least({', '.join(parts)})"


def apply_limits(con: duckdb.DuckDBPyConnection, rules: ContactRules, as_of: date) -> None:
    """Steps 1-7: `decisions_pre`, one row per candidate (its columns, the activity's
    rule values) with `reason` (NULL: still in).

    The rules run on narrow rows: a window function sorts every column it carries, and
    the customers' attributes are only needed again for the send lists (`send_rows`).
    Intermediate steps are views, read once each."""
    _rules_table(con, rules)
    d = f"DATE '{as_of.isoformat()}'"
    # The trim key orders the contacts a budget trims: without a budget (an activity's or
    # the monthly one) nothing reads it, and the candidates are not joined with the
    # features for it (a hash join of every candidate with every customer).
    budgeted = rules.monthly_cap is not None or any(
        a.budget_cap is not None for a in rules.activities)
    trim_key = ("CASE r.trim_by " + " ".join(
        f"WHEN '{c}' THEN CAST(f.\"{c}\" AS DOUBLE)" for c in TRIM_COLUMNS) + " END"
        if budgeted else "CAST(NULL AS DOUBLE)")
    refund = ("SELECT NULL AS customer_id WHERE false" if rules.refund_days is None else
              f"SELECT DISTINCT customer_id FROM orders WHERE status = 'refunded' AND "
              f"CAST(created_at AS DATE) > {d} - INTERVAL {int(rules.refund_days)} DAY")
    global_hold = ("false" if not rules.global_holdout else
                   f"{bucket_sql('c.customer_id', rules.salt + ':global')} "
                   f"< {float(rules.global_holdout)!r}")
    # The few customers each rule names, joined (a correlated EXISTS per rule made DuckDB
    # deduplicate all candidate rows once per rule).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rule_customers AS
        SELECT customer_id, 'do_not_contact' AS rule, channel FROM suppressions
        UNION ALL
        SELECT customer_id, 'open_refund', NULL FROM ({refund})
        UNION ALL
        SELECT DISTINCT h.customer_id, 'cooldown', h.activity_id FROM history h
          JOIN activity_rules r USING (activity_id)
          WHERE h.as_of > {d} - INTERVAL (r.once_within_days) DAY""")
    con.execute("""CREATE OR REPLACE TEMP VIEW rule_flags AS
        SELECT customer_id, channel AS key,
          bool_or(rule = 'do_not_contact' AND channel IS NULL) AS dnc_all,
          bool_or(rule = 'do_not_contact' AND channel IS NOT NULL) AS dnc_channel,
          bool_or(rule = 'open_refund') AS refund,
          bool_or(rule = 'cooldown') AS cooldown
        FROM rule_customers GROUP BY customer_id, channel""")
    # 1-5: per-row reasons
    con.execute(f"""CREATE OR REPLACE TEMP VIEW decisions_1 AS
        SELECT c.activity_id, c.customer_id, c.channel, c.address, c.segment, c.stage,
               r.kind, r.service, r.priority, r.rank, r.holdout, r.unit_cost AS cost,
               r.budget_cap,
               CASE WHEN r.trim_desc THEN -({trim_key}) ELSE {trim_key} END AS trim_key,
               CASE
                 WHEN c.status <> 'send' THEN c.status
                 WHEN coalesce(na.dnc_all, false) OR coalesce(nc.dnc_channel, false)
                   THEN 'do_not_contact'
                 WHEN NOT r.service AND r.kind = 'marketing' AND coalesce(na.refund, false)
                   THEN 'open_refund'
                 WHEN NOT r.service AND r.kind = 'marketing' AND {global_hold}
                   THEN 'global_holdout'
                 WHEN coalesce(cd.cooldown, false) THEN 'cooldown'
                 WHEN r.not_sent THEN 'not_sent'
               END AS reason
        FROM candidates c JOIN activity_rules r USING (activity_id)
        {"JOIN features f USING (customer_id)" if budgeted else ""}
        LEFT JOIN rule_flags na ON na.customer_id = c.customer_id AND na.key IS NULL
        LEFT JOIN rule_flags nc ON nc.customer_id = c.customer_id AND nc.key = c.channel
        LEFT JOIN rule_flags cd ON cd.customer_id = c.customer_id AND cd.key = c.activity_id""")
    # 6: per-channel limits
    _prior_tables(con, rules, d)
    channel_cases = " ".join(
        f"WHEN {sql_str(ch)} THEN {_allowed(ws, 'pc')}"
        for ch, ws in sorted(rules.per_channel.items()) if ws)
    channel_allowed = f"CASE c.channel {channel_cases} END" if channel_cases else "NULL"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW decisions_2 AS
        SELECT c.*, CASE WHEN c.reason IS NULL AND NOT c.service AND c.channel_allowed IS NOT NULL
            AND row_number() OVER (PARTITION BY c.customer_id, c.channel,
                (c.reason IS NULL AND NOT c.service)
                ORDER BY c.rank) > c.channel_allowed
            THEN 'channel_limit' ELSE c.reason END AS reason2
        FROM (SELECT c.*, {channel_allowed} AS channel_allowed FROM decisions_1 c
              LEFT JOIN prior_channel pc USING (customer_id, channel)) c""")
    # 7: overall and stage limits, among the survivors of 6
    overall = _allowed(rules.overall, "pa")
    stage_prior = "(s.contacts_max - coalesce(ps.n, 0))"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE decisions_pre AS
        SELECT c.* EXCLUDE (reason, reason2, channel_allowed, overall_allowed, stage_allowed),
          CASE WHEN c.reason2 IS NULL AND NOT c.service AND row_number() OVER (
                 PARTITION BY c.customer_id, (c.reason2 IS NULL AND NOT c.service)
                 ORDER BY c.rank)
               > least(coalesce(c.overall_allowed, 2147483647),
                       coalesce(c.stage_allowed, 2147483647))
            THEN CASE WHEN coalesce(c.stage_allowed, 2147483647)
                           < coalesce(c.overall_allowed, 2147483647)
                      THEN 'stage_limit' ELSE 'contact_limit' END
            ELSE c.reason2 END AS reason
        FROM (SELECT c.*, {overall} AS overall_allowed,
                     {stage_prior} AS stage_allowed
              FROM decisions_2 c LEFT JOIN stage_rules s USING (stage)
              LEFT JOIN prior_all pa USING (customer_id)
              LEFT JOIN prior_stage ps USING (customer_id)) c""")
    for view in ("decisions_1", "decisions_2", "rule_flags"):
        con.execute(f"DROP VIEW {view}")
    for table in ("prior_channel", "prior_all", "prior_stage", "rule_customers"):
        con.execute(f"DROP TABLE {table}")
