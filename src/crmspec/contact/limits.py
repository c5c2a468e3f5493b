"""Steps 1-7 of the contact plan (see the package docstring): the channel's verdict,
the do-not-contact list, open refunds, the global hold-out, cooldowns, and the contact
limits per channel, overall and per stage, which the higher-priority activities win."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from crmspec.contact.holdout import bucket_sql
from crmspec.contact.rules import ContactRules, Window
from crmspec.core.sql import Runner, execute_all, sql_str

if TYPE_CHECKING:  # the connection's type only: `crmspec validate` imports this
    import duckdb  # package (contact.power) and does not load DuckDB

# The tables and views `apply_limits` leaves for the budgets, which drop them.
WORK_TABLES = ("contact_cut", "rule_flags")
WORK_VIEWS = ("decisions_pre", "verdicts")
# `verdicts`' columns besides `reason`: the candidate's, then its activity's rule values.
CANDIDATE_COLUMNS = ("activity_id", "customer_id", "channel", "address", "segment", "stage")
VERDICT_COLUMNS = CANDIDATE_COLUMNS + (
    "kind", "service", "priority", "scheduled_at", "rank", "holdout", "cost", "budget_cap",
    "trim_by", "trim_desc")
NO_LIMIT = 2147483647  # an allowance no count reaches: the window has no limit


def _rules_table(con: duckdb.DuckDBPyConnection, rules: ContactRules) -> None:
    con.execute("""CREATE OR REPLACE TEMP TABLE activity_rules (
        activity_id VARCHAR, kind VARCHAR, service BOOLEAN, priority INTEGER, holdout DOUBLE,
        once_within_days INTEGER, unit_cost DOUBLE, budget_cap DOUBLE, trim_by VARCHAR,
        trim_desc BOOLEAN, scheduled_at TIMESTAMP, not_sent BOOLEAN, rank INTEGER)""")
    # rank: the activity's place when limits force a choice (priority descending, then
    # id). The windows order by this one integer instead of comparing the two columns,
    # and the steps pass it instead of the activity's id and values (narrow rows).
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


def _prior_ctes(rules: ContactRules, d: str) -> list[str]:
    """The earlier contacts the limits read, as CTEs of the limits' statement (only those
    a rule reads): non-service activities, counted once per customer.

    Held-out (control) contacts count as if they had been sent: otherwise a customer held
    out of one activity would receive more of the others, and the control group would no
    longer show "this activity versus none" but "versus whatever else the plan sends".

    `prior_channel` (customer, channel, one wN column per window length N: contacts on
    the N-1 days before the as-of date), `prior_all` (the same per customer) and
    `prior_stage` (contacts since the customer entered their current stage: last
    purchase date + the stage's from_days).
    """
    ctes = []
    lengths = sorted({w.days for w in rules.overall}
                     | {w.days for ws in rules.per_channel.values() for w in ws})
    if lengths:
        cols = "".join(f", count(*) FILTER (WHERE as_of > {d} - INTERVAL {n} DAY) AS w{n}"
                       for n in lengths)
        ctes.append(f"""prior_channel AS (
          SELECT customer_id, channel{cols} FROM history
          WHERE NOT service GROUP BY customer_id, channel)""")
    if rules.overall:
        sums = ", ".join(f"sum(w{n}) AS w{n}" for n in lengths)
        ctes.append(f"""prior_all AS (
          SELECT customer_id, {sums} FROM prior_channel GROUP BY customer_id)""")
    if rules.stages:
        ctes.append("""prior_stage AS (
          SELECT h.customer_id, count(*) AS n FROM history h
          JOIN features f USING (customer_id) JOIN stage_rules s ON s.stage = f.stage
          WHERE NOT h.service AND (s.from_days IS NULL
            OR h.as_of >= f.last_purchase_date + INTERVAL (s.from_days) DAY)
          GROUP BY h.customer_id)""")
    return ctes


def _allowed(windows: list[Window], alias: str) -> str:
    """min over windows of (max - earlier contacts in the window); NULL: no limit."""
    if not windows:
        return "NULL"
    parts = [f"({int(w.max)} - coalesce({alias}.w{int(w.days)}, 0))" for w in windows]
    return parts[0] if len(parts) == 1 else f"least({', '.join(parts)})"


def rule_flags_sql(rules: ContactRules, d: str) -> str:
    """The statement creating `rule_flags`: the few customers each rule names, per key
    (NULL: every channel and activity; else a channel or an activity id), joined by the
    steps below (a correlated EXISTS per rule made DuckDB deduplicate all candidate rows
    once per rule). A table: every statement of the contact plan joins it three times."""
    refund = ("SELECT NULL AS customer_id WHERE false" if rules.refund_days is None else
              f"SELECT DISTINCT customer_id FROM orders WHERE status = 'refunded' AND "
              f"CAST(created_at AS DATE) > {d} - INTERVAL {int(rules.refund_days)} DAY")
    return f"""CREATE OR REPLACE TEMP TABLE rule_flags AS
        WITH rule_customers AS (
          SELECT customer_id, 'do_not_contact' AS rule, channel FROM suppressions
          UNION ALL
          SELECT customer_id, 'open_refund', NULL FROM ({refund})
          UNION ALL
          SELECT DISTINCT h.customer_id, 'cooldown', h.activity_id FROM history h
            JOIN activity_rules r USING (activity_id)
            WHERE h.as_of > {d} - INTERVAL (r.once_within_days) DAY
        )
        SELECT customer_id, channel AS key,
          bool_or(rule = 'do_not_contact' AND channel IS NULL) AS dnc_all,
          bool_or(rule = 'do_not_contact' AND channel IS NOT NULL) AS dnc_channel,
          bool_or(rule = 'open_refund') AS refund,
          bool_or(rule = 'cooldown') AS cooldown
        FROM rule_customers GROUP BY customer_id, channel"""


def verdicts_sql(rules: ContactRules) -> str:
    """The statement creating `verdicts`, a view: every candidate with its activity's
    rule values and the reason of steps 1-5 (NULL: still in). Each statement below reads
    the columns it needs of it; nothing of it is stored."""
    global_hold = ("false" if not rules.global_holdout else
                   f"{bucket_sql('c.customer_id', rules.salt + ':global')} "
                   f"< {float(rules.global_holdout)!r}")
    columns = ", ".join(
        f"c.{n}" if n in CANDIDATE_COLUMNS else "r.unit_cost AS cost" if n == "cost"
        else f"r.{n}" for n in VERDICT_COLUMNS)
    return f"""CREATE OR REPLACE TEMP VIEW verdicts AS
        SELECT {columns},
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
        LEFT JOIN rule_flags na ON na.customer_id = c.customer_id AND na.key IS NULL
        LEFT JOIN rule_flags nc ON nc.customer_id = c.customer_id AND nc.key = c.channel
        LEFT JOIN rule_flags cd ON cd.customer_id = c.customer_id AND cd.key = c.activity_id"""


def limits_sql(rules: ContactRules, as_of: date) -> str:
    """The statement creating `contact_cut` (customer_id, rank, reason): the contacts
    steps 6-7 leave out, and why.

    Only the contacts still in after steps 1-5 (and not service) go through the windows,
    as narrow rows: customer, activity rank, channel, stage. A window sorts every column
    it carries (at 1M customers: 0.15 CPU s with three columns, 0.4 with the candidates'
    seven), and the allowances are joined after it. A window no rule needs is not run."""
    channel_cases = " ".join(
        f"WHEN {sql_str(ch)} THEN {_allowed(ws, 'pc')}"
        for ch, ws in sorted(rules.per_channel.items()) if ws)
    if not channel_cases and not rules.overall and not rules.stages:
        return ("CREATE OR REPLACE TEMP TABLE contact_cut AS "
                "SELECT customer_id, rank, reason FROM verdicts WHERE false")
    steps = _prior_ctes(rules, f"DATE '{as_of.isoformat()}'") + ["""e AS (
          SELECT customer_id, rank, channel, stage FROM verdicts
          WHERE reason IS NULL AND NOT service)"""]
    # 6: per-channel limits
    if channel_cases:
        steps.append(f"""ch AS (
          SELECT e.customer_id, e.rank, e.stage,
            CASE WHEN e.n > CASE e.channel {channel_cases} END THEN 'channel_limit' END AS reason
          FROM (SELECT *, row_number() OVER (PARTITION BY customer_id, channel
                  ORDER BY rank) AS n FROM e) e
          LEFT JOIN prior_channel pc USING (customer_id, channel))""")
    else:
        steps.append("ch AS (SELECT customer_id, rank, stage, NULL AS reason FROM e)")
    cuts = ["SELECT customer_id, rank, reason FROM ch WHERE reason IS NOT NULL"]
    # 7: overall and stage limits, among the survivors of 6
    if rules.overall or rules.stages:
        overall = f"coalesce({_allowed(rules.overall, 'pa')}, {NO_LIMIT})"
        stage = (f"coalesce(s.contacts_max - coalesce(ps.n, 0), {NO_LIMIT})" if rules.stages
                 else str(NO_LIMIT))
        joins = ("LEFT JOIN prior_all pa USING (customer_id)" if rules.overall else "") + (
            " LEFT JOIN stage_rules s USING (stage) LEFT JOIN prior_stage ps USING (customer_id)"
            if rules.stages else "")
        steps.append(f"""ov AS (
          SELECT k.customer_id, k.rank,
            CASE WHEN k.n > least({overall}, {stage})
              THEN CASE WHEN {stage} < {overall} THEN 'stage_limit' ELSE 'contact_limit' END
            END AS reason
          FROM (SELECT customer_id, rank, stage, row_number() OVER (
                  PARTITION BY customer_id ORDER BY rank) AS n
                FROM ch WHERE reason IS NULL) k
          {joins})""")
        cuts.append("SELECT customer_id, rank, reason FROM ov WHERE reason IS NOT NULL")
    return ("CREATE OR REPLACE TEMP TABLE contact_cut AS WITH " + ",\n".join(steps)
            + "\n" + "\nUNION ALL\n".join(cuts))


def apply_limits(con: duckdb.DuckDBPyConnection, rules: ContactRules, as_of: date,
                 run: Runner = execute_all) -> None:
    """Steps 1-7: `decisions_pre`, a view of one row per candidate (its columns, the
    activity's rule values) with `reason` (NULL: still in).

    Stored are only the rule tables and `contact_cut`, the few contacts the limits leave
    out: the reasons of steps 1-5 are recomputed by each reader of `verdicts` (a scan of
    the candidates and hash joins with the few customers the rules name), which costs
    less than copying every candidate row once per step.

    The rule tables are filled here, on the connection; the four statements over the
    candidates go to `run` (a build's runner: on Spark they run there), which leaves
    their tables and views on the connection."""
    _rules_table(con, rules)
    d = f"DATE '{as_of.isoformat()}'"
    run(con, [rule_flags_sql(rules, d), verdicts_sql(rules), limits_sql(rules, as_of),
              f"""CREATE OR REPLACE TEMP VIEW decisions_pre AS
        SELECT {", ".join(f"v.{c}" for c in VERDICT_COLUMNS)},
          coalesce(v.reason, k.reason) AS reason
        FROM verdicts v LEFT JOIN contact_cut k
          ON k.customer_id = v.customer_id AND k.rank = v.rank"""])
