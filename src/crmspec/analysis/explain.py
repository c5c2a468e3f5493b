"""`crmspec explain CUSTOMER_ID`: for every activity, contacted or exactly why not.

The operator's question after a complaint ("why did she get three messages?") or a miss
("why did he get nothing?"). The build's own pipeline runs as a dry run (nothing is
written or recorded), then one customer's rows are read back: the contact decision of
every activity that customer qualified for, and for the others which segment condition
or trigger failed, each condition evaluated on its own. Contact details are masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pluggy
from sqlglot import exp

from crmspec.compile.facts import with_customers
from crmspec.compile.segments import Needs, SegmentCompiler
from crmspec.compile.sql import DIALECT
from crmspec.compile.triggers import activity_trigger_condition
from crmspec.core.mask import mask_text, mask_value
from crmspec.engine.decide import decide_contacts
from crmspec.engine.run import run_plan
from crmspec.engine.session import open_session
from crmspec.plan.model import Plan

REASONS = {
    "opted_out": "opted out of {channel} (or of all contact)",
    "no_address": "no {field} on record",
    "invalid_address": "{field} {address} is not a usable address",
    "do_not_contact": "on the do-not-contact list (suppressions)",
    "open_refund": "a refund within the last {refund_days} days: no marketing",
    "global_holdout": "in the global hold-out: no marketing",
    "cooldown": "already had this activity within the last {once} days (ledger)",
    "not_sent": "the {channel} channel cannot write a send file for this activity",
    "channel_limit": "over the {channel} contact limit (higher-priority activities first)",
    "contact_limit": "over the overall contact limit (higher-priority activities first)",
    "stage_limit": "over the contacts allowed in stage {stage}",
    "budget_activity": "trimmed by the activity's budget cap",
    "budget_month": "trimmed by the monthly budget",
    "message_too_long": "the rendered {channel} message is longer than the channel allows "
                        "(W520): not sent",
    "control": "held out as control group ({holdout:.0%} of the audience)",
}


@dataclass
class ActivityVerdict:
    activity_id: str
    name: str
    channel: str
    contacted: bool
    status: str  # send, control, a suppression reason, or not_qualified
    why: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    customer_id: str
    as_of: date
    facts: dict
    verdicts: list[ActivityVerdict]

    def as_dict(self) -> dict:
        """JSON-able (`crmspec explain --format json`); contact details masked."""
        facts = {k: (float(v) if k == "spend" and v is not None else v)
                 for k, v in self.facts.items()}
        return {"customer_id": self.customer_id, "as_of": self.as_of.isoformat(),
                "facts": facts,
                "activities": [{"id": v.activity_id, "name": v.name, "channel": v.channel,
                                "contacted": v.contacted, "status": v.status,
                                "why": [mask_text(w) for w in v.why]}
                               for v in self.verdicts]}


class UnknownCustomer(LookupError):
    """No customer of that id; `closest` holds the ids it may have meant."""

    def __init__(self, customer_id: str, closest: list[str]):
        super().__init__(customer_id)
        self.customer_id, self.closest = customer_id, closest


def closest_ids(con: duckdb.DuckDBPyConnection, customer_id: str, n: int = 3) -> list[str]:
    """Customer ids someone typing `customer_id` may have meant, best first, in one query:
    the same number without its prefix and leading zeros (1 for 00001, 9320 for
    C0009320), then ids containing it, then the ones a few edits away."""
    return [r[0] for r in con.execute("""
        WITH c AS (
          SELECT customer_id AS id,
            regexp_replace(lower(customer_id), '^[^1-9]*', '')
              = regexp_replace(lower($1), '^[^1-9]*', '') AND $1 <> '' AS same_number,
            contains(lower(customer_id), lower($1)) AS contains_it,
            levenshtein(lower(customer_id), lower($1)) AS edits
          FROM (SELECT CAST(customer_id AS VARCHAR) AS customer_id FROM customers))
        SELECT id FROM c
        WHERE same_number OR contains_it OR edits <= greatest(2, length($1) // 3)
        ORDER BY same_number DESC, contains_it DESC, edits, id LIMIT $2""",
                                      [customer_id, n]).fetchall()]


def _holds(con: duckdb.DuckDBPyConnection, cond: exp.Expression, customer_id: str | int
           ) -> bool:
    sql = f"SELECT coalesce(({cond.sql(DIALECT)}), false) FROM features WHERE customer_id = ?"
    return bool(con.execute(sql, [customer_id]).fetchone()[0])


def _describe(key: str, value) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {v}" for k, v in value.items())
        return f"{key}: {{{inner}}}"
    return f"{key}: {value}"


def _why_not_qualified(con, plan: Plan, segc: SegmentCompiler, activity, customer_id: str | int,
                       facts: dict) -> list[str]:
    seg = plan.segment(activity.segment)
    out = []
    for key, value in (seg.where or {}).items():
        if not _holds(con, segc.test(key, value, seg.src.at("where", key)), customer_id):
            have = f" (the customer's {key}: {facts[key]})" if key in facts else ""
            out.append(f"segment {seg.id}: {_describe(key, value)} does not hold{have}")
    trig = activity_trigger_condition(activity, plan, facts["as_of"])
    if not _holds(con, trig, customer_id):
        t = activity.trigger
        amount = "".join(f", amount {op} {v:g}" for op, v in
                         ((">=", t.amount_min), ("<", t.amount_max)) if v is not None)
        out.append(f"trigger {t.type} does not fire today"
                   + (f" ({t.event} {t.first_day}-{t.last_day} days ago{amount})"
                      if t.type == "after_order" else ""))
    return out or ["not in the audience"]


def explain(root: Path, customer_id: str, as_of: date | None = None,
            pm: pluggy.PluginManager | None = None) -> Explanation:
    """Run the plan as a dry run and explain every activity for one customer."""
    with open_session(root, as_of, pm=pm) as (con, p):
        plan, compiled = p.plan, p.compiled
        # The id as typed is text; the shop's ids may be integers (`shop_id_type`): the
        # customer's own key is looked up once and used from here on.
        known = con.execute("SELECT customer_id FROM customers "
                            "WHERE CAST(customer_id AS VARCHAR) = ? LIMIT 1",
                            [customer_id]).fetchone()
        if not known:  # before the dry run: a typo costs no build
            raise UnknownCustomer(customer_id, closest_ids(con, customer_id))
        key = known[0]
        run_plan(con, compiled, plan)
        decide_contacts(con, plan, compiled, p.templates)
        cur = con.execute(f"SELECT * FROM ({with_customers(con)}) WHERE customer_id = ?",
                          [key])
        row = cur.fetchone()
        facts = dict(zip([d[0] for d in cur.description], row))
        sends = {r[0]: r[1:] for r in con.execute(
            "SELECT activity_id, status, address, strftime(scheduled_at, '%Y-%m-%d %H:%M'), "
            "stage FROM sends WHERE customer_id = ?", [key]).fetchall()}
        segc = SegmentCompiler(plan, Needs())
        verdicts = []
        for ca in compiled.activities:
            a, ch = ca.activity, ca.channel
            if a.id not in sends:
                verdicts.append(ActivityVerdict(
                    a.id, a.name, ch.name, False, "not_qualified",
                    _why_not_qualified(con, plan, segc, a, key, facts)))
                continue
            status, address, slot, stage = sends[a.id]
            shown = mask_value(str(address)) if address else "-"
            if status == "send":
                why = [f"{ch.name} to {shown} at {slot}"]
            else:
                why = [REASONS.get(status, status).format(
                    channel=ch.name, field=ch.contact_field, address=shown, stage=stage,
                    refund_days=plan.shop.contact.refund_days,
                    once=a.trigger.once_within_days, holdout=a.holdout)]
            verdicts.append(ActivityVerdict(a.id, a.name, ch.name, status == "send", status, why))
        shown_facts = {k: facts[k] for k in (
            "stage", "customer_type", "tier", "purchases", "spend", "days_since_last_purchase",
            "r", "f", "m")}
        return Explanation(customer_id, compiled.as_of, shown_facts, verdicts)
