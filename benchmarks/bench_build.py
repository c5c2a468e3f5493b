"""Time `crmspec build` of the example plan against a hand-written DuckDB reference.

    python benchmarks/bench_build.py                  # 100k and 1M customers
    python benchmarks/bench_build.py --sizes 100000   # just one size
    python benchmarks/bench_build.py --10m            # also 10M customers (slow, ~7 GB)
    python benchmarks/bench_build.py --repeat 3       # best of 3 of every timing

Per size, a demo shop with 10 orders and 20 events per customer on average (the contact-plan
issue's benchmark shape) is generated once into benchmarks/work/shop_<n>/data/demo and
reused while its parameters match (benchmarks/work/ is git-ignored). Then, each in a fresh
process (so that peak RSS is that process's own), with the shop's files warm in the page
cache and an empty ledger:

1. `crmspec build` of a copy of plans/ pointed at the shop, default as-of date: wall and
   CPU seconds, peak RSS;
2. the same build in-process (`crmspec.build.build`, the function the CLI calls) with a
   timer around each phase: prepare (validate, attach: check, clean and fingerprint the data,
   compile, attach the ledger), run_plan (facts, features, every activity's candidates),
   decide_contacts (limits, message rendering, budgets, control groups), report, write
   (send files and audience lists), ledger. The phases are the build's own functions,
   wrapped in this process only; nothing in crmspec is changed;
3. the hand-written reference (benchmarks/reference.sql, its slots filled from the plan by
   `render_reference`): the same facts and segments, every activity's audience, and
   crmspec's contact plan for a first build (channel verdict, open refunds, global
   hold-out, channel, overall and stage limits, activity and monthly budgets with each
   contact's cost, control groups, first send slot), written as one CSV per activity with
   the rows and columns of crmspec's audience/<activity>.csv; wall and CPU seconds (facts /
   counts / audiences / contact plan / copies), peak RSS. The do-not-contact list and
   cooldowns are left out (the demo shop has no suppressions file, the ledger is empty),
   and so are activities that cannot write a send file (not_sent: none in the example
   plan); `render_reference` stops if the plan or shop needs any of them.

The reference's results are checked against crmspec's: customers per stage, type, tier and
segment, and every audience/<activity>.csv of the `crmspec build` run (1) byte for byte
against the reference's file. A mismatch is reported per activity (how many rows differ:
only in crmspec, only in the reference, other values; with an example) and makes the
script exit non-zero.

`like-for-like` is crmspec's time for the part the reference does (data, facts, audiences,
contact plan, files): prepare + run_plan + decide_contacts + write of the in-process build,
against the reference's SQL time (both without process start-up). crmspec's part still
does more: it validates the plan, cleans and fingerprints the data, renders every message
(the reference only computes SMS lengths, for their cost) and writes a channel file next
to each audience list.
Results are also written to benchmarks/work/results.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
CHECKS = ROOT / "benchmarks" / "checks.sql"
REFERENCE = ROOT / "benchmarks" / "reference.sql"
ORDERS_PER_CUSTOMER = 10
EVENTS_PER_CUSTOMER = 20
SEED = 7


# --- the shops ----------------------------------------------------------------------


def copy_plans(rev: str, target: Path) -> str:
    """plans/ as of git revision `rev` ("worktree": the working tree) into target/plans;
    returns what was copied (commit id, or "worktree")."""
    if (target / "plans").exists():
        shutil.rmtree(target / "plans")
    target.mkdir(parents=True, exist_ok=True)
    if rev == "worktree":
        shutil.copytree(ROOT / "plans", target / "plans")
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "plans"],
                               capture_output=True, text=True).stdout.strip()
        return f"{head or '?'}{' + uncommitted edits' if dirty else ''}"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                            capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "plans"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return commit


def project(n: int, rev: str) -> tuple[Path, float | None, str]:
    """benchmarks/work/shop_<n>: a fresh copy of plans/ (git revision `rev`) over an
    n-customer demo shop.

    Returns the project, the demo's generation seconds (measured when it was made, stored
    next to the data; None if unknown) and the plans' revision."""
    root = WORK / f"shop_{n}"
    plans = copy_plans(rev, root)
    shop = root / "plans/shop.yaml"
    text = shop.read_text(encoding="utf-8")
    text = re.sub(r"customers: \d+", f"customers: {n}", text, count=1)
    text = re.sub(r"seed: \d+", f"seed: {SEED}", text, count=1)
    shop.write_text(text, encoding="utf-8")
    data = root / "data/demo"
    stamp = data / "bench.json"
    wanted = {"customers": n, "orders_per_customer": ORDERS_PER_CUSTOMER,
              "events_per_customer": EVENTS_PER_CUSTOMER, "seed": SEED}
    if stamp.exists():
        made = json.loads(stamp.read_text())
        if {k: made.get(k) for k in wanted} == wanted and (data / "events.parquet").exists():
            return root, made.get("generate_s"), plans
    print(f"generating the {n:,}-customer demo shop ...", flush=True)
    gen = ("from pathlib import Path; from crmspec.data.demo import generate_demo; "
           f"generate_demo(Path({str(data)!r}), customers={n}, seed={SEED}, "
           f"orders_per_customer={ORDERS_PER_CUSTOMER}, "
           f"events_per_customer={EVENTS_PER_CUSTOMER})")
    m = run([sys.executable, "-c", gen])
    stamp.write_text(json.dumps({**wanted, "generate_s": round(m["wall_s"], 1),
                                 "generate_cpu_s": round(m["cpu_s"], 1),
                                 "generate_rss_mib": m["rss_mib"]}) + "\n")
    return root, m["wall_s"], plans


def warm(root: Path) -> None:
    """Read the shop's files once, so every measurement starts with them cached."""
    for f in sorted((root / "data/demo").glob("*.parquet")):
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass


def fresh_state(root: Path, out: str) -> None:
    """An empty ledger and no previous output in root/<out>: every build is a first build."""
    for d in ("state", out):
        shutil.rmtree(root / d, ignore_errors=True)


# --- child processes ----------------------------------------------------------------


# Children run as an installed program runs: with its modules' bytecode. pip compiles it
# at install time; these machines set PYTHONDONTWRITEBYTECODE, under which an editable
# checkout recompiles crmspec's ~110 modules in every process (0.1-0.15 CPU s a run that
# no user pays, and that the plain job, importing only DuckDB's precompiled modules, does
# not pay either).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], ok: tuple[int, ...] = (0,)) -> dict:
    """Run a child process: wall and CPU seconds, its own peak RSS (MiB), its stdout;
    stop unless it exits with a code in `ok`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=CHILD_ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode not in ok:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "rss_mib": round(usage.ru_maxrss / 1024), "stdout": stdout}


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_s"])


# --- the instrumented build (child) --------------------------------------------------

# (label, module, function, depth): the build's own functions, timed in the module that
# calls them (names looked up there at call time).
PHASES = (
    ("plugins", "crmspec.build", "get_plugin_manager", 0),
    ("prepare", "crmspec.engine.session", "prepare", 0),
    ("validate", "crmspec.engine.session", "open_plan", 1),
    ("attach", "crmspec.engine.session", "attach", 1),
    ("clean", "crmspec.data.sources", "clean", 2),
    ("compile", "crmspec.engine.session", "compile_plan", 1),
    ("ledger_attach", "crmspec.engine.session", "attach_ledger", 1),
    ("run_plan", "crmspec.build", "run_plan", 0),
    ("decide_contacts", "crmspec.build", "decide_contacts", 0),
    ("limits", "crmspec.engine.decide", "apply_limits", 1),
    ("render", "crmspec.engine.decide", "render_activities", 1),
    ("budgets", "crmspec.engine.decide", "apply_budgets", 1),
    ("report", "", "", 0),  # the sum of the four below
    ("count", "crmspec.build", "count_activities", 1),
    ("contact_report", "crmspec.build", "contact_report", 1),
    ("power_warnings", "crmspec.build", "power_summary", 1),
    ("manifest", "crmspec.build", "_manifest", 1),
    ("write", "crmspec.build", "write_activity", 0),
    ("write", "crmspec.build", "write_json", 0),
    ("ledger", "crmspec.build", "record_run", 0),
    ("close", "crmspec.engine.connection", "duckdb.connect().close", 0),  # freeing memory
)
TOP = ("plugins", "prepare", "run_plan", "decide_contacts", "report", "write", "ledger",
       "close")
# The phases doing what the reference does: data, facts, audiences, contact plan, files.
LIKE_FOR_LIKE = ("prepare", "run_plan", "decide_contacts", "write")

CHECK_SQL = ("SELECT activity_id, count(*), sum(hash(customer_id))::HUGEINT::VARCHAR "
             "FROM {table} WHERE {where} GROUP BY 1 ORDER BY 1")


def child_phases(root: Path) -> None:
    import importlib
    from types import SimpleNamespace

    import duckdb

    import crmspec.build as B
    import crmspec.engine.connection as C

    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    rss: dict[str, int] = {}
    check: dict = {}

    def timed(label, fn):
        def wrapper(*args, **kwargs):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                wall[label] = wall.get(label, 0.0) + time.perf_counter() - t0
                cpu[label] = cpu.get(label, 0.0) + time.process_time() - c0
                rss[label] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        return wrapper

    class Connection:
        """The build's DuckDB connection, with its close() timed."""

        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def close(self):
            return timed("close", self._con.close)()

    C.duckdb = SimpleNamespace(**{**vars(C.duckdb),
                                  "connect": lambda *a, **k: Connection(duckdb.connect(*a, **k))})
    for label, module, names, _ in PHASES:
        if label == "close" or not module:
            continue
        mod = importlib.import_module(module)
        name = next((n for n in names.split("|") if hasattr(mod, n)), None)
        if name is None:
            print(f"warning: {module}.{names} not found: phase '{label}' not timed "
                  f"(update PHASES in {__file__})", file=sys.stderr)
            continue
        setattr(mod, name, timed(label, getattr(mod, name)))

    timed_run_plan = B.run_plan

    def run_plan_and_check(con, compiled, plan, *runner):
        result = timed_run_plan(con, compiled, plan, *runner)
        t0 = time.perf_counter()  # not part of the build: subtracted below
        check["activities"] = con.execute(CHECK_SQL.format(
            table="candidates", where="status = 'send'")).fetchall()
        check["stages"], check["customer_types"] = result.stages, result.customer_types
        check["tiers"], check["segments"] = result.tiers, result.segments
        check["seconds"] = time.perf_counter() - t0
        return result

    B.run_plan = run_plan_and_check
    t0, c0 = time.perf_counter(), time.process_time()
    result = B.build(root, out=root / "out")
    total, total_cpu = time.perf_counter() - t0 - check["seconds"], time.process_time() - c0
    report = ("count", "contact_report", "power_warnings", "manifest")
    wall["report"] = sum(wall.get(k, 0.0) for k in report)
    cpu["report"] = sum(cpu.get(k, 0.0) for k in report)
    rss["report"] = max(rss.get(k, 0) for k in report)
    print(json.dumps({"as_of": result.as_of.isoformat(), "total_s": total,
                      "total_cpu_s": total_cpu, "wall": wall, "cpu": cpu, "rss_mib": rss,
                      "check": check}, default=str))


# --- the reference -------------------------------------------------------------------


def _q(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bucket(salt_sql: str, key_sql: str) -> str:
    """A stable number in [0, 1) from md5(salt:key), as crmspec draws hold-outs."""
    return (f"('0x' || substr(md5({salt_sql} || ':' || {key_sql}), 1, 8))::BIGINT "
            "/ 4294967296.0")


def _sms_length(root: Path, plan, a, ch, options: dict, as_of: date) -> str:
    """SQL of the length of activity `a`'s SMS text as crmspec renders it: the template
    rendered per tier with and without a name (plus the channel's signature and opt-out
    text), and the name's length added in SQL. Stops if the text depends on anything else."""
    from types import SimpleNamespace

    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    from crmspec.templates import zhe

    folder = root / "plans" / "templates"
    names = [f for f in (f"{a.template}.{ch.name}.j2", f"{a.template}.{ch.name}.text.j2")
             if (folder / f).exists()]
    if len(names) != 1:
        sys.exit(f"activity {a.id}: expected one SMS template file, found {names}")
    env = SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True, finalize=lambda x: "" if x is None else x)
    env.filters["zhe"] = zhe
    template = env.from_string((folder / names[0]).read_text(encoding="utf-8-sig"))
    tiers = list(plan.tiers)
    blank = SimpleNamespace(id=None, name=None, discount=None, min_spend=None)

    def length(i: int, name: str | None) -> int:  # i: the customer's tier (-1: none)
        up = tiers[i + 1] if i + 1 < len(tiers) else None
        ctx = {
            "customer": SimpleNamespace(name=name),
            "tier": (SimpleNamespace(id=tiers[i].id, name=tiers[i].name,
                                     discount=tiers[i].discount) if i >= 0 else blank),
            "next_tier": blank if up is None else SimpleNamespace(
                id=up.id, name=up.name, discount=up.discount,
                min_spend=int(up.min_spend) if float(up.min_spend).is_integer()
                else up.min_spend),
            "coupon": SimpleNamespace(**(a.coupon or {})),
            "shop": SimpleNamespace(name=plan.shop.name, currency=plan.shop.currency),
            "activity": SimpleNamespace(id=a.id, name=a.name), "as_of": as_of,
        }
        return len(ch.finish("text", template.render(ctx), a, options, plan))

    named, unnamed = {}, {}
    for i in range(-1, len(tiers)):
        key = tiers[i].id if i >= 0 else None
        try:
            named[key], unnamed[key] = length(i, "X") - 1, length(i, None)
            linear = length(i, "XXXX") - 4 == named[key] and length(i, "") == unnamed[key]
        except TemplateError as exc:
            linear = False
            print(f"{a.id}: {exc}", file=sys.stderr)
        if not linear:
            sys.exit(f"activity {a.id}: its SMS text depends on more than the customer's name "
                     "and tier: extend the message lengths of benchmarks/bench_build.py")

    def by_tier(lengths: dict) -> str:
        if len(set(lengths.values())) == 1:
            return str(lengths[None])
        return ("CASE tier " + " ".join(f"WHEN {_q(k)} THEN {n}" for k, n in lengths.items()
                                        if k is not None) + f" ELSE {lengths[None]} END")

    return (f"(CASE WHEN coalesce(name, '') <> '' THEN {by_tier(named)} + length(name) "
            f"ELSE {by_tier(unnamed)} END)")


def render_reference(root: Path, out_dir: Path) -> tuple[str, date]:
    """benchmarks/reference.sql with its slots filled from the plan of `root`."""
    import duckdb

    from crmspec.channels.base import SendWindow
    from crmspec.compile import compile_plan
    from crmspec.compile.facts import last_review_date, next_review_date
    from crmspec.compile.segments import Needs, SegmentCompiler
    from crmspec.compile.triggers import activity_trigger_condition
    from crmspec.contact.schedule import first_slot, windows_for
    from crmspec.core.mask import mask_value_sql
    from crmspec.plan.model import channel_options, stage_bands
    from crmspec.plan.triggers import WEEKDAYS
    from crmspec.validate import validate_project

    v = validate_project(root)
    plan, channels = v.plan, v.channels
    if plan is None or not v.ok:
        sys.exit(f"the plan in {root / 'plans'} does not validate (try another --plans):\n"
                 + "\n".join(str(d) for d in v.diagnostics if d.severity == "error"))
    data = (root / plan.shop.data.path).resolve()
    files = {t: str(data / f"{t}.parquet") for t in ("customers", "orders", "events")}
    as_of = plan.shop.as_of
    if as_of is None:  # as crmspec: the day after the last order
        con = duckdb.connect()
        (last,) = con.execute(f"SELECT max(created_at)::DATE FROM read_parquet("
                              f"{_q(files['orders'])})").fetchone()
        con.close()
        as_of = last + timedelta(days=1)
    d = f"DATE '{as_of.isoformat()}'"
    statuses = ", ".join(_q(s) for s in plan.shop.purchase_statuses)
    if plan.shop.same_day != "once" or statuses != "'paid'":
        sys.exit("the reference covers purchases counted once a day with status paid: "
                 "update benchmarks/reference.sql for this plan")
    window = int(plan.tier_window_days or 100_000)
    review = next_review_date(plan.tier_review_date, as_of)
    review_start = (f"DATE '{review}' - {window}" if review and plan.tier_window_days
                    else f"DATE '{as_of}' - {window}")
    # With a window, a tier reached is kept until the next review: the tier is the higher
    # of today's and the one on the last review date.
    kept = last_review_date(plan.tier_review_date, as_of) if plan.tier_window_days else None

    # The plan's constants: stage bands, tiers.
    stage = ["CASE"]
    never = next((s for s in plan.stages if s.never_purchased), None)
    stage.append(f"WHEN purchases = 0 THEN {_q(never.id) if never else 'NULL'}")
    for s in stage_bands(plan):
        cond = f"days_since_last_purchase >= {int(s.from_days or 0)}"
        if s.to_days is not None:
            cond += f" AND days_since_last_purchase < {int(s.to_days)}"
        stage.append(f"WHEN {cond} THEN {_q(s.id)}")
    stage.append("END")

    def tiers(spend: str = "spend", purchases: str = "purchases", ids: bool = False) -> str:
        parts = []
        for t in sorted(plan.tiers, key=lambda t: -t.rank):
            cond = f"{spend} >= {float(t.min_spend)!r}"
            if t.min_purchases:
                cond += f" AND {purchases} >= {int(t.min_purchases)}"
            parts.append(f"WHEN {cond} THEN {_q(t.id) if ids else t.rank}")
        return f"CASE {' '.join(parts)} ELSE {'NULL' if ids else 0} END" if parts else (
            "NULL" if ids else "0")

    # Segment conditions and intents, as the plan compiles them (over features columns).
    compiled = compile_plan(plan, as_of, channels)
    segc = SegmentCompiler(plan, Needs())
    for s in plan.segments:
        segc.segment(s.id)
    intents = sorted(segc.intents, key=lambda i: i.column)

    # Order-event triggers: one flag per (event, window), over the orders they concern.
    order_cols, order_conds, flag_cols, flags = [], [], [], {}
    for a in plan.activities:
        t = a.trigger
        if t.type != "after_order" or t.event in ("first_purchase", "last_purchase"):
            continue
        key = (t.event, t.first_day, t.last_day, t.amount_min, t.amount_max)
        if key in flags:
            continue
        name = f"t_{len(flags)}"
        flags[key] = name
        column = {"ordered_unpaid": "created_at", "paid": "paid_at", "shipped": "shipped_at",
                  "signed": "signed_at"}[t.event]
        status = "status = 'unpaid'" if t.event == "ordered_unpaid" else f"status IN ({statuses})"
        lo, hi = as_of - timedelta(days=t.last_day), as_of - timedelta(days=t.first_day)
        cond = f"{status} AND {column}::DATE BETWEEN DATE '{lo}' AND DATE '{hi}'"
        if t.amount_min is not None:
            cond += f" AND amount >= {t.amount_min!r}"
        if t.amount_max is not None:
            cond += f" AND amount < {t.amount_max!r}"
        order_conds.append(cond)
        order_cols.append(f"bool_or({cond}) AS {name}")
        flag_cols.append(f"coalesce(o.{name}, false) AS {name}")
    event_cols, event_window = [], 1
    for i in intents:
        col = _ident(i.column)
        types = [t for t in i.events if t != "unpaid_order"]
        parts = []
        if "unpaid_order" in i.events:
            cond = (f"status = 'unpaid' AND created_at::DATE <= {d} "
                    f"AND created_at::DATE > {d} - {int(i.within_days)}")
            order_conds.append(cond)
            order_cols.append(f"max(created_at) FILTER (WHERE {cond}) AS {col}")
            parts.append(f"o.{col}")
        if types:
            event_window = max(event_window, i.within_days)
            event_cols.append(
                f"max(event_at) FILTER (WHERE event_type IN ({', '.join(map(_q, types))}) "
                f"AND event_at::DATE > {d} - {int(i.within_days)}) AS {col}")
            parts.append(f"e.{col}")
        flag_cols.append(f"{parts[0] if len(parts) == 1 else f'greatest({parts[0]}, {parts[1]})'}"
                         f" AS {col}")

    tier_ids = ("CASE tier_rank " + " ".join(f"WHEN {t.rank} THEN {_q(t.id)}" for t in plan.tiers)
                + " END") if plan.tiers else "NULL::VARCHAR"

    def cols(items: list[str], indent: str = "    ") -> str:
        return "".join(f",\n{indent}{c}" for c in items)

    # The contact plan's constants (a first build: no earlier contacts in the ledger).
    contact = plan.shop.contact
    # crmspec.data.suppressions.attach_suppressions: no such file, an empty do-not-contact list.
    named = plan.shop.data.tables.get("suppressions")
    if (data / named).exists() if named else any(data.glob("suppressions.*")):
        sys.exit("the shop has a do-not-contact list: add it to benchmarks/reference.sql")
    if contact.refund_days is not None:
        cond = f"status = 'refunded' AND created_at::DATE > {d} - {int(contact.refund_days)}"
        order_conds.append(cond)
        order_cols.append(f"bool_or({cond}) AS open_refund")
        flag_cols.append("coalesce(o.open_refund, false) AS open_refund")
    else:
        flag_cols.append("false AS open_refund")
    held_out = (f"{_bucket(_q(contact.salt + ':global'), 'customer_id')} "
                f"< {float(contact.global_holdout)!r}" if contact.global_holdout else "false")
    overall = min((int(w.max) for w in contact.overall), default=2147483647)
    stage_limits = [f"({_q(s.id)}, {min(overall, int(s.contacts_max))})" for s in plan.stages
                    if s.contacts_max is not None] or ["(NULL, NULL)"]
    # Activities numbered in the order limits choose them: priority descending, then id.
    ranked = sorted(plan.activities, key=lambda a: (-a.priority, a.id))
    number = {a.id: i for i, a in enumerate(ranked)}

    audiences, rules, copies = [], [], []
    out_dir.mkdir(parents=True, exist_ok=True)
    for a in ranked:
        ch = channels[a.channel]
        options = channel_options(plan, a, ch.option_defaults())
        at = v.templates.get(a.id)
        why = ch.not_ready(a, options, tuple(sorted(at.parts)) if at and at.parts else ())
        if why is not None:
            sys.exit(f"activity {a.id} has no send file ({why}): add crmspec's not_sent "
                     "status to benchmarks/reference.sql")
        t = a.trigger
        if t.type == "after_order" and t.event not in ("first_purchase", "last_purchase"):
            trig = flags[(t.event, t.first_day, t.last_day, t.amount_min, t.amount_max)]
        else:
            trig = activity_trigger_condition(a, plan, as_of).sql("duckdb")
        addr = _ident(ch.contact_field)
        verdict = ["NOT coalesce(opt_out_all, false)"]
        if ch.opt_out_field and not a.service:
            verdict.append(f"NOT coalesce({_ident(ch.opt_out_field)}, false)")
        verdict.append(f"{addr} IS NOT NULL")
        if ch.address_pattern:
            verdict.append(f"regexp_full_match({addr}::VARCHAR, {_q(ch.address_pattern)})")
        trimmable = a.kind == "marketing" and not a.service
        if trimmable:
            verdict.append("NOT open_refund AND NOT global_holdout")
        # Its cost: units x unit price + the coupon's amount x expected redemption.
        if ch.name == "sms":
            length = _sms_length(root, plan, a, ch, options, as_of)
            units = (f"CASE WHEN {length} <= 70 THEN 1 "
                     f"ELSE CAST(ceil(({length}) / 67) AS INTEGER) END")
        elif ch.units_sql(options) == "1":
            units = "1"
        else:
            sys.exit(f"channel {ch.name}: its cost units are not covered by "
                     "benchmarks/reference.sql")
        coupon = a.coupon or {}
        coupon_cost = float(coupon.get("amount", 0)) * float(coupon.get("expected_redemption", 0))
        cost = f"CAST({ch.unit_price(options)!r} * ({units}) + {coupon_cost!r} AS DOUBLE)"
        trim_key = f"{'-' if a.trim_desc else ''}CAST({_ident(a.trim_by)} AS DOUBLE)"
        audiences.append(
            f"SELECT {number[a.id]} AS a, customer_id, stage, {cost} AS cost, "
            f"{trim_key} AS trim_key\n"
            f"FROM features WHERE coalesce(({compiled.segments[a.segment]}), false)\n"
            f"  AND ({trig}) AND {' AND '.join(verdict)}")
        windows = ([SendWindow(tuple(WEEKDAYS.index(d) + 1 for d in w["days"]), w["start"],
                               w["end"]) for w in a.send_windows] if a.send_windows
                   else windows_for(a.kind, ch.windows))
        slot = first_slot(as_of, windows, plan.blackout_dates)
        limit = min((int(w.max) for w in contact.per_channel.get(ch.name, ())), default=None)
        rules.append(
            f"({number[a.id]}, {_q(a.id)}, {_q(ch.name)}, {_q(a.segment)}, "
            f"{str(not a.service).lower()}, {str(trimmable).lower()}, "
            f"{float(a.holdout or 0)!r}::DOUBLE, "
            f"{'NULL' if a.budget_cap is None else repr(float(a.budget_cap))}::DOUBLE, "
            f"{'NULL' if limit is None else limit}::INTEGER, "
            f"{_q(slot.strftime('%Y-%m-%d %H:%M')) if slot else 'NULL'}::VARCHAR)")
        copies.append(f"COPY (SELECT * FROM sends WHERE activity_id = {_q(a.id)} ORDER BY "
                      f"customer_id) TO {_q(str(out_dir / (a.id + '.csv')))} "
                      "(FORMAT csv, HEADER true);")
    address = " ".join(f"WHEN {_q(name)} THEN f.{_ident(channels[name].contact_field)}::VARCHAR"
                       for name in sorted({a.channel for a in plan.activities}))
    counts = [f"count(*) FILTER (WHERE coalesce(({cond}), false)) AS {_ident('seg:' + sid)}"
              for sid, cond in compiled.segments.items()]
    sql = Template(REFERENCE.read_text(encoding="utf-8")).substitute(
        customers=files["customers"], orders=files["orders"], events=files["events"],
        as_of=as_of.isoformat(), stage_case=" ".join(stage),
        tier_window=window, review_window_start=review_start,
        review_date=f"DATE '{review}'" if review else "NULL::DATE",
        kept=f"DATE '{kept}'" if kept else "NULL::DATE",
        tier_case=tier_ids,
        tier_rank_case=(f"greatest({tiers()}, {tiers('kept_spend', 'kept_purchases')})"
                        if kept else tiers()),
        review_tier_rank_case=tiers("review_spend"),
        fans_min=int(plan.shop.fans_min_purchases), order_columns=cols(order_cols),
        order_filter="\n     OR ".join(f"({c})" for c in order_conds) or "false",
        event_columns=cols(event_cols, "  "), event_window=int(event_window),
        flag_columns=cols(flag_cols), global_holdout=held_out, counts=cols(counts, "       "),
        audiences="\nUNION ALL\n".join(audiences), rules=",\n    ".join(rules),
        stage_limits=", ".join(stage_limits), overall_limit=overall,
        monthly_cap=("'infinity'::DOUBLE" if plan.shop.cap_for(as_of) is None
                     else repr(float(plan.shop.cap_for(as_of)))),
        salt=_q(contact.salt), address_case=mask_value_sql(f"CASE r.channel {address} END"),
        copies="\n".join(copies))
    return sql, as_of


def _statements(sql: str) -> list[str]:
    """The script's statements (comments dropped; none of its strings holds ';\\n')."""
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", text + "\n") if s.strip()]


def render_checks(root: Path, as_of: date) -> str:
    """benchmarks/checks.sql with its slots filled for the demo shop of `root`."""
    from crmspec.channels import EMAIL_RE, MOBILE_RE

    data = root / "data" / "demo"
    return Template(CHECKS.read_text(encoding="utf-8")).substitute(
        customers=data / "customers.parquet", orders=data / "orders.parquet",
        events=data / "events.parquet", end=f"TIMESTAMP '{as_of.isoformat()} 23:59:59.999999'",
        mobile=MOBILE_RE.replace("'", "''"), email=EMAIL_RE.replace("'", "''"))


def child_checks(script: Path) -> None:
    """Run checks.sql; print its SQL time."""
    import duckdb

    t0, c0 = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    for stmt in _statements(script.read_text(encoding="utf-8")):
        con.execute(stmt).fetchall()
    print(json.dumps({"total_s": time.perf_counter() - t0,
                      "total_cpu_s": time.process_time() - c0}))


def child_reference(script: Path) -> None:
    import duckdb

    t0, c0 = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    steps: dict[str, float] = {}
    counts = None
    for stmt in _statements(script.read_text(encoding="utf-8")):
        label = ("facts" if "TABLE features" in stmt[:40] else
                 "audiences" if "TABLE candidates" in stmt[:40] else
                 "contact_plan" if "TABLE sends" in stmt[:40] else
                 "counts" if stmt.startswith("SELECT histogram") else
                 "copies" if stmt.startswith("COPY") else "other")
        s0 = time.perf_counter()
        cur = con.execute(stmt)
        if label == "counts":
            names = [c[0] for c in cur.description]
            counts = dict(zip(names, cur.fetchone()))
        steps[label] = steps.get(label, 0.0) + time.perf_counter() - s0
    total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
    (candidates,) = con.execute("SELECT count(*) FROM candidates").fetchone()
    (sends,) = con.execute("SELECT count(*) FROM sends").fetchone()
    print(json.dumps({"total_s": total, "total_cpu_s": total_cpu, "steps": steps,
                      "candidates": candidates, "sends": sends,
                      "check": {"counts": counts}}, default=str))


# --- the comparison ------------------------------------------------------------------


def _rows(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """A CSV's header and its rows by customer id (the first column)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return (rows[0] if rows else []), {r[0]: r for r in rows[1:]}


def compare(crm: dict, ref: dict, plan_activities: list[str], crm_dir: Path,
            ref_dir: Path) -> list[str]:
    """Differences between crmspec's and the reference's results (empty: the same): the
    counts, and every audience/<activity>.csv of crmspec's build byte for byte."""
    diffs = []
    counts = ref["counts"]
    for key in ("stages", "customer_types", "tiers"):
        mine = {k: v for k, v in crm[key].items() if v}
        theirs = {k: v for k, v in counts[key].items() if v}
        if mine != theirs:
            diffs.append(f"{key}: crmspec {mine} vs reference {theirs}")
    for sid, n in crm["segments"].items():
        if counts.get("seg:" + sid) != n:
            diffs.append(f"segment {sid}: crmspec {n} vs reference {counts.get('seg:' + sid)}")
    extra = sorted({f.stem for f in crm_dir.glob("*.csv")} - set(plan_activities))
    if extra:
        diffs.append(f"crmspec wrote audience lists of no activity of the plan: {extra}")
    for aid in plan_activities:
        mine, theirs = crm_dir / f"{aid}.csv", ref_dir / f"{aid}.csv"
        missing = [w for w, f in (("crmspec", mine), ("the reference", theirs))
                   if not f.is_file()]
        if missing:
            diffs.append(f"activity {aid}: no audience list from {' and '.join(missing)}")
            continue
        if mine.read_bytes() == theirs.read_bytes():
            continue
        (head_a, a), (head_b, b) = _rows(mine), _rows(theirs)
        only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
        changed = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        what = (f"activity {aid}: {len(only_a) + len(only_b) + len(changed)} rows differ "
                f"(crmspec {len(a):,} rows, reference {len(b):,}: {len(only_a)} only in "
                f"crmspec, {len(only_b)} only in the reference, {len(changed)} with other "
                "values)")
        if head_a != head_b:
            what += f"; columns: crmspec {head_a} vs reference {head_b}"
        elif not (only_a or only_b or changed):
            what += "; the same rows, but not the same bytes (order, quoting or line ends)"
        if only_a:
            what += f"; e.g. only in crmspec: {','.join(a[only_a[0]])}"
        if only_b:
            what += f"; e.g. only in the reference: {','.join(b[only_b[0]])}"
        if changed:
            k = changed[0]
            what += f"; e.g. crmspec {','.join(a[k])} vs reference {','.join(b[k])}"
        diffs.append(what)
    return diffs


def bench(n: int, repeat: int, rev: str) -> dict:
    root, gen_s, plans = project(n, rev)
    warm(root)
    script = root / "reference.sql"
    sql, as_of = render_reference(root, root / "ref_out")
    script.write_text(sql, encoding="utf-8")
    checks_script = root / "checks.sql"
    checks_script.write_text(render_checks(root, as_of), encoding="utf-8")
    me = [sys.executable, str(Path(__file__).resolve())]
    builds, phases, refs, checks = [], [], [], []
    for _ in range(repeat):
        fresh_state(root, "build_out")
        builds.append(run([sys.executable, "-m", "crmspec", "build", "--project", str(root),
                           "--out", str(root / "build_out")]))
        fresh_state(root, "out")
        p = run(me + ["--child-phases", str(root)])
        phases.append({**p, **json.loads(p["stdout"].splitlines()[-1])})
        fresh_state(root, "ref_out")
        (root / "ref_out").mkdir()
        r = run(me + ["--child-reference", str(script)])
        refs.append({**r, **json.loads(r["stdout"].splitlines()[-1])})
        c = run(me + ["--child-checks", str(checks_script)])
        checks.append({**c, **json.loads(c["stdout"].splitlines()[-1])})
    build, ph, ref = best(builds), best(phases), best(refs)
    checked = min(checks, key=lambda c: c["total_s"])
    from crmspec.validate import validate_project

    ids = [a.id for a in validate_project(root).plan.activities]
    # The audience lists of the last `crmspec build` (the CLI's) against the reference's.
    diffs = compare(ph["check"], ref["check"], ids, root / "build_out" / "audience",
                    root / "ref_out")
    wall = ph["wall"]
    like = sum(wall.get(k, 0.0) for k in LIKE_FOR_LIKE)
    return {
        "customers": n, "plans": plans, "as_of": as_of.isoformat(), "generate_s": gen_s,
        "build_s": build["wall_s"], "build_cpu_s": build["cpu_s"],
        "build_rss_mib": build["rss_mib"],
        "phases_total_s": ph["total_s"], "phases": wall, "phases_cpu": ph["cpu"],
        "phases_rss_mib": ph["rss_mib"],
        "like_for_like_s": like,
        "reference_s": ref["wall_s"], "reference_sql_s": ref["total_s"],
        "reference_cpu_s": ref["cpu_s"], "reference_rss_mib": ref["rss_mib"],
        "reference_steps": ref["steps"], "audience_rows": ref["candidates"],
        "send_rows": ref["sends"],
        "ratio": build["wall_s"] / ref["wall_s"],
        "ratio_cpu": build["cpu_s"] / ref["cpu_s"],
        "ratio_like_for_like": like / ref["total_s"],
        "checks_s": checked["total_s"], "checks_cpu_s": checked["total_cpu_s"],
        "ratio_with_checks": build["wall_s"] / (ref["wall_s"] + checked["total_s"]),
        "check": "same" if not diffs else diffs,
        "all_walls": {"build": [r["wall_s"] for r in builds],
                      "phases": [r["total_s"] for r in phases],
                      "reference": [r["wall_s"] for r in refs]},
        "load_avg": os.getloadavg(),
    }


def show(r: dict) -> None:
    f = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
    ph = r["phases"]
    print(f"\n{r['customers']:,} customers (plans {r['plans']}, as of {r['as_of']}; "
          f"{r['send_rows']:,} rows in the audience lists, {r['audience_rows']:,} before "
          f"limits and budgets; load average {r['load_avg'][0]:.1f})")
    print(f"  generate            {f(r['generate_s'])} s")
    print(f"  crmspec build       {f(r['build_s'])} s wall, {f(r['build_cpu_s'])} s CPU, "
          f"peak RSS {r['build_rss_mib']} MiB")
    print(f"  in-process phases   {f(r['phases_total_s'])} s:")
    seen = set()
    for label, _, _, depth in PHASES:
        if label in seen or label not in ph:
            continue
        seen.add(label)
        print(f"    {'  ' * depth}{label:<{18 - 2 * depth}} {ph[label]:6.1f} s wall "
              f"{r['phases_cpu'][label]:6.1f} s CPU  peak RSS so far "
              f"{r['phases_rss_mib'][label]} MiB")
    other = r["phases_total_s"] - sum(ph.get(k, 0.0) for k in TOP)
    print(f"    {'other':<18} {other:6.1f} s")
    print(f"  like-for-like       {f(r['like_for_like_s'])} s ({' + '.join(LIKE_FOR_LIKE)})")
    print(f"  reference           {f(r['reference_s'])} s wall ({f(r['reference_sql_s'])} s SQL: "
          + ", ".join(f"{k} {v:.1f}" for k, v in r["reference_steps"].items())
          + f"), {f(r['reference_cpu_s'])} s CPU, peak RSS {r['reference_rss_mib']} MiB")
    print(f"  ratio               {r['ratio']:.2f}x wall, {r['ratio_cpu']:.2f}x CPU (build / "
          f"reference); like-for-like {r['ratio_like_for_like']:.2f}x wall")
    print(f"  data checks by hand {f(r['checks_s'])} s SQL, {f(r['checks_cpu_s'])} s CPU "
          "(benchmarks/checks.sql)")
    print(f"  with the checks     {r['ratio_with_checks']:.2f}x wall (build / (reference + "
          "data checks))")
    print(f"  check               {r['check'] if r['check'] == 'same' else ''}")
    if r["check"] != "same":
        for d in r["check"]:
            print(f"    {d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--10m", dest="ten_m", action="store_true",
                        help="also 10M customers (100M orders, 200M events)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N (default 1)")
    parser.add_argument("--plans", default="worktree", metavar="REV",
                        help="git revision of plans/ to benchmark (default: plans/ as it "
                             "is in the working tree)")
    parser.add_argument("--child-phases", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-checks", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_phases:
        return child_phases(args.child_phases)
    if args.child_checks:
        return child_checks(args.child_checks)
    if args.child_reference:
        return child_reference(args.child_reference)
    sizes = [int(s) for s in args.sizes.split(",")] + ([10_000_000] if args.ten_m else [])
    results = []
    for n in sizes:
        r = bench(n, args.repeat, args.plans)
        show(r)
        results.append(r)
    (WORK / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("\n| customers | generate s | build s (CPU) | phases s: " + " / ".join(TOP)
          + " | like-for-like s | reference s (CPU) | ratio wall (CPU) | like-for-like ratio "
          "| peak RSS MiB build / reference |")
    print("|---" * 9 + "|")
    for r in results:
        ph = r["phases"]
        print(f"| {r['customers']:,} | {r['generate_s'] or 0:.1f} | {r['build_s']:.1f} "
              f"({r['build_cpu_s']:.1f}) | " + " / ".join(f"{ph.get(k, 0):.1f}" for k in TOP)
              + f" | {r['like_for_like_s']:.1f} | {r['reference_s']:.1f} "
              f"({r['reference_cpu_s']:.1f}) | {r['ratio']:.2f}x ({r['ratio_cpu']:.2f}x) | "
              f"{r['ratio_like_for_like']:.2f}x | {r['build_rss_mib']} / "
              f"{r['reference_rss_mib']} |")
    if len(results) > 1:
        a, b = results[0], results[-1]
        k = b["customers"] / a["customers"]
        print(f"growth {a['customers']:,} -> {b['customers']:,} ({k:g}x data): build "
              f"{b['build_s'] / a['build_s']:.1f}x wall, "
              f"{b['build_cpu_s'] / a['build_cpu_s']:.1f}x CPU; reference "
              f"{b['reference_s'] / a['reference_s']:.1f}x wall, "
              f"{b['reference_cpu_s'] / a['reference_cpu_s']:.1f}x CPU")
    if any(r["check"] != "same" for r in results):
        sys.exit("the reference's audiences differ from crmspec's (see above)")


if __name__ == "__main__":
    main()
