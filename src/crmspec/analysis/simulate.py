"""A demo that knows the truth: simulated responses to the ledger's contacts
(`crmspec simulate`).

`crmspec evaluate` estimates how much an activity raised the purchase rate of the
customers it contacted. On real data nobody knows the right answer; on the demo shop we
can put one in and check that the evaluation finds it. After one or more builds,
`crmspec simulate` lets every customer the ledger records (treatment and control, every
run) respond with a known probability:

    control contact:    baseline
    treatment contact:  baseline + uplift          (per activity, configurable)

A responding contact gets one new paid order, paid at a uniformly drawn moment of the
window after its send time (`send time <= paid_at < send time + window days`), of an
amount drawn around `order_value` (log-normal, mean order_value), shipped a day and
signed three days after payment. Nothing else changes: the control group is only ever
drawn at the baseline, so the true uplift of every activity is exactly the configured
one.

Deterministic and set-based: every draw is md5(seed, field, run, activity, customer)
(crmspec.contact.holdout.bucket_sql, in DuckDB), so the same seed and the same ledger give the
same orders, whatever the order of the rows. The simulated orders (id `SIM-<run>-<activity>-
<customer>`, source `simulated`) are appended to the demo's orders.parquet; a new
simulation replaces those of the previous one, so running it after every build is safe.
The truth is recorded in the ledger (table `simulation`) and shown by `crmspec evaluate`.

Only the demo shop (shop.yaml `data.source: demo`) is ever simulated: a real shop's
orders are never written to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from crmspec.contact.holdout import bucket_sql
from crmspec.contact.ledger import attach_ledger
from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.data.demo import ensure_demo
from crmspec.plan.checks import unknown_reference
from crmspec.plan.load import Document, load_file
from crmspec.plan.model import Plan
from crmspec.plan.schema_check import check_schema
from crmspec.validate import open_plan

SOURCE = "simulated"  # orders.source of simulated orders
PREFIX = "SIM-"  # and their order ids
SIGMA = 0.4  # log-normal spread of simulated order amounts

TRUTH_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "seed": {"type": "integer", "minimum": 0,
                 "description": "Seed of every draw: same seed, same orders."},
        "baseline": {"type": "number", "minimum": 0, "maximum": 1,
                     "description": "Purchase probability of a contact in its window "
                     "without any effect (control and treatment)."},
        "uplift": {"type": "number", "minimum": -1, "maximum": 1,
                   "description": "Added to the baseline for treatment contacts, for "
                   "every activity not listed under activities."},
        "window_days": {"type": "integer", "minimum": 1, "maximum": 365,
                        "description": "Days after the send within which a response is "
                        "paid (default: shop.yaml evaluation.window_days)."},
        "order_value": {"type": "number", "exclusiveMinimum": 0,
                        "description": "Mean amount of a simulated order."},
        "activities": {
            "type": "object",
            "description": "Per activity id: its own baseline and/or uplift.",
            "additionalProperties": {
                "type": "object", "additionalProperties": False,
                "properties": {
                    "baseline": {"type": "number", "minimum": 0, "maximum": 1},
                    "uplift": {"type": "number", "minimum": -1, "maximum": 1},
                },
            },
        },
    },
}


@dataclass
class Truth:
    """What the simulation puts in: per activity a baseline and an uplift."""

    seed: int
    baseline: float
    uplift: float
    window_days: int
    order_value: float = 150.0
    activities: dict[str, dict[str, float]] = field(default_factory=dict)

    def of(self, activity: str) -> tuple[float, float]:
        own = self.activities.get(activity, {})
        return float(own.get("baseline", self.baseline)), float(own.get("uplift", self.uplift))


@dataclass
class SimulationSummary:
    truth: Truth
    runs: int
    contacts: int
    orders: int
    # activity -> (baseline, uplift, treatment contacts, control contacts,
    #              treatment orders, control orders)
    activities: dict[str, tuple[float, float, int, int, int, int]]
    path: Path


def load_truth(path: Path, plan: Plan, shown_as: str | None = None) -> tuple[dict, Document]:
    """The truth file, schema-checked, every problem located (PlanError)."""
    doc = load_file(path, shown_as)
    problems = check_schema(doc, "simulation", TRUTH_SCHEMA)
    if problems:
        raise PlanError(problems)
    data = doc.data
    known = [a.id for a in plan.activities]
    for aid, own in data.get("activities", {}).items():
        if aid not in known:
            problems.append(unknown_reference(_at(doc, ("activities", aid), key=True),
                                              "activity", aid, known))
        base = own.get("baseline", data.get("baseline"))
        up = own.get("uplift", data.get("uplift"))
        if base is not None and up is not None and not 0 <= base + up <= 1:
            where = ("activities", aid, "uplift" if "uplift" in own else "baseline")
            problems.append(doc.diag(where, "E201", f"activity '{aid}': baseline + uplift = "
                                     f"{base + up:g} is not a probability",
                                     "baseline + uplift must lie between 0 and 1"))
    if problems:
        raise PlanError(problems)
    return data, doc


class _at:
    """A located key of the truth file, for `unknown_reference` (which wants a Src-like)."""

    def __init__(self, doc: Document, path: tuple, key: bool = False):
        self.doc, self.path, self.key = doc, path, key

    def diag(self, code: str, message: str, hint: str | None = None) -> Diagnostic:
        return self.doc.diag(self.path, code, message, hint, key=self.key)


def make_truth(plan: Plan, file_data: dict | None = None, *, seed: int | None = None,
               baseline: float | None = None, uplift: float | None = None,
               window_days: int | None = None) -> Truth:
    """Defaults < the truth file < the command-line options."""
    d = file_data or {}
    ev = plan.shop.evaluation

    def pick(option, key, default):
        return option if option is not None else d.get(key, default)

    return Truth(seed=int(pick(seed, "seed", 1)),
                 baseline=float(pick(baseline, "baseline", ev.baseline_response)),
                 uplift=float(pick(uplift, "uplift", 0.0)),
                 window_days=int(pick(window_days, "window_days", ev.window_days)),
                 order_value=float(d.get("order_value", 150.0)),
                 activities={k: dict(v) for k, v in d.get("activities", {}).items()})


class TruthError(ValueError):
    """Probabilities out of range because of the command line's values."""


def check_truth(truth: Truth) -> None:
    """Every probability the options and the file make must lie in [0, 1] (ValueError:
    the command line's values are at fault, the file's were checked at its lines)."""
    pairs = [("the default", truth.baseline, truth.uplift)]
    pairs += [(f"activity '{a}'", *truth.of(a)) for a in truth.activities]
    for who, b, u in pairs:
        if not 0 <= b <= 1 or not 0 <= b + u <= 1:
            raise TruthError(f"{who}: baseline {b:g} + uplift {u:+g} is not a probability "
                             "(both the baseline and baseline + uplift must lie in [0, 1])")


def _u(salt: str, field_name: str) -> str:
    """A uniform draw in [0, 1) per contact (columns as_of, activity_id, customer_id)."""
    key = "strftime(c.as_of, '%Y-%m-%d') || ':' || c.activity_id || ':' || c.customer_id"
    return bucket_sql(key, f"{salt}:{field_name}")


def simulated_orders_sql(truth: Truth) -> str:
    """The simulated orders of the contacts in `ledger.contacts`, given table `sim_truth`
    (activity_id, baseline, uplift). Columns as orders.parquet."""
    salt = f"simulate:{truth.seed}"
    window_s = int(truth.window_days) * 86400
    # Box-Muller: a standard normal from two uniforms; E[exp(s z)] = exp(s^2 / 2).
    gauss = (f"sqrt(-2 * ln(1 - {_u(salt, 'amount1')})) "
             f"* cos(2 * pi() * {_u(salt, 'amount2')})")
    return f"""
SELECT 'SIM-' || strftime(as_of, '%Y%m%d') || '-' || activity_id || '-' || customer_id
         AS order_id,
       customer_id,
       greatest(sent_at, paid_at - INTERVAL (pay_s) SECOND) AS created_at,
       paid_at,
       paid_at + INTERVAL 1 DAY AS shipped_at,
       paid_at + INTERVAL 3 DAY AS signed_at,
       CAST(greatest(9.9, round(amount, 2)) AS DECIMAL(12, 2)) AS amount,
       'paid' AS status,
       '{SOURCE}' AS source
FROM (
  SELECT c.as_of, c.activity_id, c.customer_id, c.sent_at,
         c.sent_at + INTERVAL (CAST(floor({_u(salt, 'when')} * {window_s}) AS BIGINT)) SECOND
           AS paid_at,
         CAST(floor({_u(salt, 'pay')} * 600) AS BIGINT) AS pay_s,
         {float(truth.order_value)!r} * exp({SIGMA} * {gauss} - {SIGMA ** 2 / 2!r}) AS amount
  FROM (
    SELECT l.as_of, l.activity_id, l.customer_id, l.grp,
           coalesce(l.scheduled_at, CAST(l.as_of AS TIMESTAMP)) AS sent_at,
           t.baseline + CASE WHEN l.grp = 'treatment' THEN t.uplift ELSE 0 END AS p
    FROM ledger.contacts l JOIN sim_truth t USING (activity_id)
  ) c
  WHERE {_u(salt, 'respond')} < c.p
)"""


def expected_sql(plan: Plan, as_of: date, window_days: int, activities: list[str] | None
                 ) -> str:
    """What a perfect evaluation finds, per activity, run and group, under the simulation
    in `ledger.simulation`: (activity_id, run, grp, contacts, sum over contacts of the
    probability that the contact's customer has a purchase in the evaluation window).

    A contact's window [s, s + W) holds a purchase when the customer has a real (not
    simulated) purchase in it, or when one of the customer's simulated orders falls into
    it: the contact's own (probability p = baseline [+ uplift]) and those of the
    customer's other contacts, each of which responds with its own p at a uniform moment of
    its simulation window, so it lands in this window with probability p x overlap /
    simulation window. Contacts of runs after the last simulation have p = 0. Overlapping
    contacts of other activities therefore raise both groups' rates and shrink the
    measurable uplift below the configured one: the expected uplift says by how much.
    """
    statuses = ", ".join("'" + x.replace("'", "''") + "'" for x in plan.shop.purchase_statuses)
    where = ""
    if activities is not None:
        where = "WHERE x.activity_id IN (" + ", ".join(
            "'" + a.replace("'", "''") + "'" for a in activities) + ")"
    we = int(window_days)
    return f"""
WITH c AS (
  SELECT l.as_of, l.activity_id, l.customer_id, l.grp,
         coalesce(l.scheduled_at, CAST(l.as_of AS TIMESTAMP)) AS sent_at,
         coalesce(t.window_days, 0) * 86400 AS ws,
         CASE WHEN l.as_of <= t.simulated_through
              THEN t.baseline + CASE WHEN l.grp = 'treatment' THEN t.uplift ELSE 0 END
              ELSE 0 END AS p
  FROM ledger.contacts l LEFT JOIN ledger.simulation t USING (activity_id)
), real_purchases AS (
  SELECT customer_id, paid_at FROM orders
  WHERE status IN ({statuses}) AND paid_at IS NOT NULL
    AND CAST(paid_at AS DATE) <= DATE '{as_of.isoformat()}'
    AND NOT (source = '{SOURCE}' AND starts_with(order_id, '{PREFIX}'))
), miss AS (
  SELECT x.as_of, x.activity_id, x.customer_id, x.grp,
    exp(sum(ln(1 - y.p * (epoch(least(x.sent_at + INTERVAL ({we}) DAY,
                                      y.sent_at + to_seconds(y.ws)))
                          - epoch(greatest(x.sent_at, y.sent_at))) / y.ws))) AS p_miss
  FROM c x JOIN c y ON y.customer_id = x.customer_id AND y.ws > 0
   AND y.sent_at < x.sent_at + INTERVAL ({we}) DAY AND y.sent_at + to_seconds(y.ws) > x.sent_at
  {where}
  GROUP BY ALL
), contact AS (
  SELECT x.as_of, x.activity_id, x.grp,
    CASE WHEN EXISTS (SELECT 1 FROM real_purchases r WHERE r.customer_id = x.customer_id
                      AND r.paid_at >= x.sent_at
                      AND r.paid_at < x.sent_at + INTERVAL ({we}) DAY) THEN 1.0
         ELSE 1 - coalesce(m.p_miss, 1.0) END AS p_any
  FROM c x LEFT JOIN miss m USING (as_of, activity_id, customer_id, grp)
  {where}
)
SELECT activity_id, as_of AS run, grp, count(*) AS contacts, sum(p_any) AS expected
FROM contact GROUP BY ALL"""


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def simulate(root: Path, truth_file: Path | None = None, *, seed: int | None = None,
             baseline: float | None = None, uplift: float | None = None,
             window_days: int | None = None) -> SimulationSummary:
    """Replace the demo's simulated orders with those of the ledger's contacts now."""
    plan = open_plan(root).plan
    assert plan is not None
    ds = plan.shop.data
    if ds.source != "demo":
        raise PlanError([ds.src.at("source").diag(
            "E604", f"crmspec simulate writes simulated orders into the demo shop only; this "
            f"shop's data source is '{ds.source}'",
            "simulate on a copy of the project whose shop.yaml has data.source: demo; real "
            "orders are never written to")])
    file_data = None
    if truth_file is not None:
        try:
            shown = str(truth_file.resolve().relative_to(root.resolve()))
        except ValueError:
            shown = str(truth_file)
        file_data, _ = load_truth(truth_file, plan, shown)
    truth = make_truth(plan, file_data, seed=seed, baseline=baseline, uplift=uplift,
                       window_days=window_days)
    check_truth(truth)
    ledger_path = root / plan.shop.ledger_path
    con = duckdb.connect()
    try:
        runs = 0
        if ledger_path.exists():
            attach_ledger(con, ledger_path, read_only=False)
            runs = con.execute("SELECT count(*) FROM ledger.runs").fetchone()[0]
        if not runs:
            src = plan.shop.src.at("ledger")
            raise PlanError([(src if src.exists() else plan.shop.src).diag(
                "E603", f"the contact ledger ({plan.shop.ledger_path}) holds no runs: "
                "there are no contacts to respond to",
                "run crmspec build first; simulate after each build")])
        ensure_demo(plan.shop.data, root)
        orders = (root / ds.path / "orders.parquet").resolve()
        ids = con.execute("SELECT DISTINCT activity_id FROM ledger.contacts ORDER BY 1"
                          ).fetchall()
        con.execute("CREATE TEMP TABLE sim_truth (activity_id VARCHAR, baseline DOUBLE, "
                    "uplift DOUBLE)")
        con.executemany("INSERT INTO sim_truth VALUES (?, ?, ?)",
                        [(a, *truth.of(a)) for (a,) in ids])
        con.execute(f"CREATE TEMP TABLE sim_orders AS {simulated_orders_sql(truth)}")
        con.execute(f"CREATE TEMP TABLE base_orders AS SELECT * FROM read_parquet("
                    f"{_quote(orders)}) WHERE NOT (source = '{SOURCE}' AND "
                    f"starts_with(order_id, '{PREFIX}'))")
        columns = [r[0] for r in con.execute("DESCRIBE base_orders").fetchall()]
        cols = ", ".join(f'"{c}"' for c in columns)
        tmp = orders.with_name(f".{orders.name}.simulate-{os.getpid()}")
        try:
            con.execute(f"COPY (SELECT {cols} FROM base_orders UNION ALL "
                        f"SELECT {cols} FROM (SELECT * FROM sim_orders ORDER BY order_id)) "
                        f"TO {_quote(tmp)} (FORMAT parquet)")
            os.replace(tmp, orders)
        finally:
            tmp.unlink(missing_ok=True)
        per = con.execute("""
            SELECT l.activity_id,
              count(*) FILTER (WHERE l.grp = 'treatment'),
              count(*) FILTER (WHERE l.grp = 'control'),
              count(s.order_id) FILTER (WHERE l.grp = 'treatment'),
              count(s.order_id) FILTER (WHERE l.grp = 'control')
            FROM ledger.contacts l LEFT JOIN sim_orders s ON s.order_id = 'SIM-'
              || strftime(l.as_of, '%Y%m%d') || '-' || l.activity_id || '-' || l.customer_id
            GROUP BY 1 ORDER BY 1""").fetchall()
        through = con.execute("SELECT max(as_of) FROM ledger.runs").fetchone()[0]
        con.execute("""CREATE OR REPLACE TABLE ledger.simulation (
            activity_id VARCHAR PRIMARY KEY, baseline DOUBLE, uplift DOUBLE, seed BIGINT,
            window_days INTEGER, order_value DOUBLE, simulated_through DATE)""")
        con.executemany("INSERT INTO ledger.simulation VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(a, *truth.of(a), truth.seed, truth.window_days, truth.order_value,
                          through) for (a,) in ids])
        contacts = sum(r[1] + r[2] for r in per)
        n_orders = sum(r[3] + r[4] for r in per)
        return SimulationSummary(
            truth, runs, contacts, n_orders,
            {a: (*truth.of(a), int(t), int(c), int(ot), int(oc)) for a, t, c, ot, oc in per},
            orders)
    finally:
        con.close()


def describe(summary: SimulationSummary) -> str:
    """What was simulated, per activity (the CLI's output)."""
    t = summary.truth
    lines = [(f"simulated {summary.orders:,} orders for {summary.contacts:,} contacts of "
              f"{summary.runs} run(s) (seed {t.seed}, {t.window_days}-day window, mean order "
              f"value {t.order_value:g}) into {summary.path}")]
    width = max((len(a) for a in summary.activities), default=8)
    lines.append(f"{'activity':<{width}}  baseline   uplift  treated  control  orders T  "
                 "orders C")
    for a, (b, u, nt, nc, ot, oc) in summary.activities.items():
        lines.append(f"{a:<{width}}  {b * 100:7.2f}%  {u * 100:+6.2f}pp  {nt:7,}  {nc:7,}  "
                     f"{ot:8,}  {oc:8,}")
    return "\n".join(lines) + "\n"


__all__ = ["TRUTH_SCHEMA", "SimulationSummary", "Truth", "TruthError", "check_truth",
           "describe", "expected_sql", "load_truth", "make_truth", "simulate",
           "simulated_orders_sql"]
