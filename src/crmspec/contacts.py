"""From "who qualifies" to "who gets which message, and why not": the contact plan.

Input: the `candidates` table (one row per activity and qualifying customer, with the
channel's verdict in `status`: send, opted_out, no_address, invalid_address) and the
ledger's `history` of earlier runs. Output: the `decisions` table, the same rows with
the final `status` and the `grp` (treatment/control) and `cost` the ledger records.

Every rule is one set-based step, applied in this order; the first reason that applies
is the one a row keeps (so `crmspec explain` can say exactly why):

 1. channel verdict            opted_out, no_address, invalid_address
 2. do-not-contact list        do_not_contact   (suppressions table: all or one channel)
 3. open refund                open_refund      (marketing only; refund within N days)
 4. global hold-out            global_holdout   (marketing only)
 5. cooldown / once per window cooldown         (ledger: same activity within N days)
 6. per-channel limits         channel_limit    (rolling windows of calendar days)
 7. overall and stage limits   contact_limit, stage_limit
 8. activity budget            budget_activity  (trimmed in the declared order)
 9. monthly budget             budget_month     (marketing; month-to-date from the ledger)
10. control group              control          (hash of salt, activity and customer)
11. otherwise                  send

(`not_sent` marks the contacts of an activity whose channel cannot write a send file,
e.g. it has no template: they are listed for review, not contacted and not recorded.)

Service activities (`service: true`) skip steps 3, 4, 6, 7 and the trims of 8-9 (their
cost still counts towards the month). When limits force a choice, higher `priority`
wins, then the activity id in alphabetical order: ties are broken the same way on every
run. Limits count the earlier contacts of non-service activities, held-out ones included
(see _prior_tables), so that control groups stay comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb

from crmspec.model import LimitWindow as Window  # at most `max` contacts in `days` days

STATUS_ORDER = ("send", "control", "opted_out", "no_address", "invalid_address",
                "do_not_contact", "open_refund", "global_holdout", "cooldown", "not_sent",
                "channel_limit",
                "contact_limit", "stage_limit", "budget_activity", "budget_month")

TRIM_COLUMNS = ("spend", "purchases", "days_since_last_purchase", "r", "f", "m")


@dataclass(frozen=True)
class ActivityRule:
    activity_id: str
    channel: str
    kind: str  # maintenance | marketing
    service: bool
    priority: int
    holdout: float
    once_within_days: int | None
    unit_cost: float  # expected cost of one contact (channel units x price + coupon)
    budget_cap: float | None = None
    trim_by: str = "spend"
    trim_desc: bool = True
    scheduled_at: datetime | None = None  # the first send slot (crmspec.schedule)
    not_sent: bool = False  # the channel cannot write a send file (no template...)


@dataclass(frozen=True)
class StageRule:
    stage_id: str
    from_days: int | None  # None: the never-purchased stage
    contacts_max: int | None


@dataclass
class ContactRules:
    salt: str
    activities: list[ActivityRule]
    stages: list[StageRule] = field(default_factory=list)
    overall: list[Window] = field(default_factory=list)
    per_channel: dict[str, list[Window]] = field(default_factory=dict)
    global_holdout: float = 0.0
    refund_days: int | None = 30  # None: open refunds do not exclude
    monthly_cap: float | None = None


def _s(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def bucket_sql(key_sql: str, salt: str) -> str:
    """A stable number in [0, 1) from md5(salt:key), in SQL DuckDB and Spark both run.

    Spark: conv(substr(md5(x), 1, 8), 16, 10) / 4294967296 gives the same value.
    """
    return (f"(CAST(('0x' || substr(md5({_s(salt)} || ':' || {key_sql}), 1, 8)) AS BIGINT) "
            f"/ 4294967296.0)")


def bucket(salt: str, key: str) -> float:
    """The Python twin of bucket_sql, for tests and `crmspec explain`."""
    import hashlib

    return int(hashlib.md5(f"{salt}:{key}".encode()).hexdigest()[:8], 16) / 4294967296


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


def decide(con: duckdb.DuckDBPyConnection, rules: ContactRules, as_of: date) -> None:
    """Create `decisions` from `candidates`, `features`, `history` and `suppressions`,
    costing every contact at its activity's expected unit cost."""
    apply_limits(con, rules, as_of)
    apply_budgets(con, rules, as_of)


def apply_limits(con: duckdb.DuckDBPyConnection, rules: ContactRules, as_of: date) -> None:
    """Steps 1-7: `decisions_pre`, one row per candidate (its columns, the activity's
    rule values) with `reason` (NULL: still in).

    The rules run on narrow rows: a window function sorts every column it carries, and
    the customers' attributes are only needed again for the send lists (`send_rows`).
    Intermediate steps are views, read once each."""
    _rules_table(con, rules)
    d = f"DATE '{as_of.isoformat()}'"
    trim_key = "CASE r.trim_by " + " ".join(
        f"WHEN '{c}' THEN CAST(f.\"{c}\" AS DOUBLE)" for c in TRIM_COLUMNS) + " END"
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
        JOIN features f USING (customer_id)
        LEFT JOIN rule_flags na ON na.customer_id = c.customer_id AND na.key IS NULL
        LEFT JOIN rule_flags nc ON nc.customer_id = c.customer_id AND nc.key = c.channel
        LEFT JOIN rule_flags cd ON cd.customer_id = c.customer_id AND cd.key = c.activity_id""")
    # 6: per-channel limits
    _prior_tables(con, rules, d)
    channel_cases = " ".join(
        f"WHEN {_s(ch)} THEN {_allowed(ws, 'pc')}"
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


def send_windows(activity, channel) -> list:
    """The activity's own send windows, or its channel's windows for its kind."""
    from crmspec.channels.base import SendWindow
    from crmspec.schedule import windows_for
    from crmspec.triggers import WEEKDAYS

    if activity.send_windows:
        return [SendWindow(tuple(WEEKDAYS.index(d) + 1 for d in w["days"]), w["start"],
                           w["end"]) for w in activity.send_windows]
    return windows_for(activity.kind, channel.windows)


def rules_for(plan, compiled, options: dict[str, dict], not_ready: dict[str, str | None]
              ) -> ContactRules:
    """The plan's contact rules for one build: per activity its priority, hold-out,
    cooldown, expected cost, budget and first send slot."""
    from crmspec.schedule import first_slot

    activities = []
    for ca in compiled.activities:
        a, ch = ca.activity, ca.channel
        opts = options[a.id]
        coupon = a.coupon or {}
        expected = (ch.unit_price(opts)
                    + float(coupon.get("amount", 0)) * float(coupon.get("expected_redemption", 0)))
        activities.append(ActivityRule(
            a.id, ch.name, a.kind, a.service, a.priority, a.holdout,
            a.trigger.once_within_days, expected, a.budget_cap, a.trim_by, a.trim_desc,
            first_slot(compiled.as_of, send_windows(a, ch), plan.blackout_dates),
            not_ready.get(a.id) is not None))
    contact = plan.shop.contact
    return ContactRules(
        salt=contact.salt,
        activities=activities,
        stages=[StageRule(s.id, None if s.never_purchased else s.from_days, s.contacts_max)
                for s in plan.stages if s.contacts_max is not None],
        overall=list(contact.overall),
        per_channel={ch: list(ws) for ch, ws in contact.per_channel.items()},
        global_holdout=contact.global_holdout,
        refund_days=contact.refund_days,
        monthly_cap=plan.shop.cap_for(compiled.as_of),
    )
