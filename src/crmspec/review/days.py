"""`crmspec plan --days N`: the next N days of builds of both plans, one a day from the
as-of date, assuming no new orders, so that the contact pressure of a month can be read
before a change merges (domain rule 4: contacts per customer have a lower and an upper
bound in every stage).

Each plan gets a scratch copy of the ledger in the review's temporary folder (the
shop's ledger is only read): every simulated build records its contacts there, as a
real build would, so that the next day's limits, cooldowns and budgets see them. The
data stays the snapshot of the as-of date (orders and events after it are not there
anyway): customers age a day a build, order triggers run out, nobody buys. Every
customer is simulated, no sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from crmspec.compile import compile_plan
from crmspec.contact.ledger import attach_ledger, previous_run, record_run
from crmspec.contact.report import contact_report
from crmspec.core.sql import quote_path
from crmspec.engine.decide import decide
from crmspec.engine.run import run_candidates, run_facts
from crmspec.engine.session import Prepared
from crmspec.validate import Validation

PRESSURE_CAP = 10  # contacts per customer shown one by one; more are "10+"


@dataclass(frozen=True)
class DaysSide:
    """One plan's N simulated builds."""

    contacts: dict[str, int]  # channel -> contacts sent over the days
    cost: float
    month_to_date: float  # the as-of date's month, with the ledger's earlier runs
    per_customer: dict[str, int]  # marketing and care contacts (not service) -> customers
    stages: dict[str, dict]  # per bounded stage on the last day (crmspec.contact.report)

    def as_dict(self) -> dict:
        return {"contacts": self.contacts, "cost": self.cost,
                "month_to_date": self.month_to_date, "per_customer": self.per_customer,
                "stages": self.stages}


@dataclass(frozen=True)
class Days:
    days: int
    first: date
    last: date
    base: DaysSide
    head: DaysSide

    def as_dict(self) -> dict:
        return {"days": self.days, "first": self.first.isoformat(),
                "last": self.last.isoformat(), "base": self.base.as_dict(),
                "head": self.head.as_dict()}


def simulate_days(con: duckdb.DuckDBPyConnection, sides: dict[str, tuple[Prepared, Validation]],
                  days: int, ledger: Path, scratch: Path) -> Days:
    """`sides`: "base" and "head", each prepared (on `con`) with its validation; `ledger`:
    the shop's ledger file (read only, absent: empty)."""
    first = next(iter(sides.values()))[0].compiled.as_of
    last = first + timedelta(days=days - 1)
    con.execute("DETACH ledger")
    if ledger.exists():
        con.execute(f"ATTACH {quote_path(ledger)} AS ledger_src (READ_ONLY)")
    files = {side: scratch / f"ledger-{side}.duckdb" for side in sides}
    for path in files.values():
        attach_ledger(con, path, read_only=False)
        if ledger.exists():
            for table in ("runs", "contacts", "tiers"):
                con.execute(f"INSERT INTO ledger.{table} SELECT * FROM ledger_src.{table}")
        con.execute("DETACH ledger")
    if ledger.exists():
        con.execute("DETACH ledger_src")
    stages: dict[str, dict] = {}
    previous: date | None = None
    for i in range(days):
        day = first + timedelta(days=i)
        statements = None
        for side, (p, v) in sides.items():
            con.execute(f"ATTACH {quote_path(files[side])} AS ledger")
            if previous is None:
                previous = previous_run(con, day)
            compiled = compile_plan(p.plan, day, v.channels, previous,
                                    previous_in_ledger=previous is not None,
                                    reads=p.compiled.customer_columns)
            if compiled.statements != statements:
                run_facts(con, compiled)
                statements = compiled.statements
            run_candidates(con, compiled)
            for r in decide(con, p.plan, compiled, p.templates).values():
                con.execute(f"DROP TABLE IF EXISTS {r.table}")
            if day == last:
                stages[side] = contact_report(con, p.plan, compiled, day)["stage_contacts"]
            record_run(con, day, "decisions", "review", p.data.fingerprint, tiers="facts")
            con.execute("DETACH ledger")
        previous = day
    out = {}
    for side, path in files.items():
        con.execute(f"ATTACH {quote_path(path)} AS ledger (READ_ONLY)")
        out[side] = _side(con, first, last, stages[side])
        con.execute("DETACH ledger")
    return Days(days, first, last, out["base"], out["head"])


def _side(con: duckdb.DuckDBPyConnection, first: date, last: date, stages: dict) -> DaysSide:
    window = "grp = 'treatment' AND as_of BETWEEN ? AND ?"
    contacts = dict(con.execute(f"SELECT channel, count(*) FROM ledger.contacts WHERE {window} "
                                "GROUP BY channel ORDER BY channel", [first, last]).fetchall())
    (cost,) = con.execute(f"SELECT coalesce(sum(cost), 0) FROM ledger.contacts WHERE {window}",
                          [first, last]).fetchone()
    month = first.replace(day=1)
    month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    (mtd,) = con.execute("SELECT coalesce(sum(cost), 0) FROM ledger.contacts WHERE grp = "
                         "'treatment' AND as_of BETWEEN ? AND ?",
                         [month, min(last, month_end)]).fetchone()
    rows = con.execute(f"""
        WITH n AS (SELECT f.customer_id, count(c.customer_id) AS n FROM features f
                   LEFT JOIN ledger.contacts c ON c.customer_id = f.customer_id
                     AND NOT c.service AND c.grp = 'treatment' AND c.as_of BETWEEN ? AND ?
                   GROUP BY f.customer_id)
        SELECT least(n, {PRESSURE_CAP}), count(*) FROM n GROUP BY 1 ORDER BY 1""",
                       [first, last]).fetchall()
    per_customer = {(f"{k}+" if k == PRESSURE_CAP else str(k)): v for k, v in rows}
    return DaysSide(contacts, round(float(cost), 2), round(float(mtd), 2), per_customer, stages)
