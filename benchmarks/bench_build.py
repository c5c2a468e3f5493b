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
   timer around each phase: prepare (validate, attach and clean the data, fingerprint,
   compile, attach the ledger), run_plan (facts, features, every activity's candidates),
   decide_contacts (limits, message rendering, budgets, control groups), report, write
   (send files and audience lists), ledger. The phases are the build's own functions,
   wrapped in this process only; nothing in crmspec is changed;
3. the hand-written reference (benchmarks/reference.sql, its slots filled from the plan):
   the same facts, segments and per-activity send lists before contact limits, one CSV per
   activity; wall and CPU seconds, peak RSS.

The reference's results are checked against crmspec's: customers per stage, type, tier and
segment, and per activity the customers with a send verdict before the contact plan
(crmspec's `candidates` with status 'send'): same count and same sum of hash(customer_id).
A mismatch is reported and makes the script exit non-zero.

`like-for-like` is crmspec's time for the part the reference does (facts, audiences,
files): prepare + run_plan + write of the in-process build, against the reference's SQL
time (both without process start-up). crmspec's part still does more: it validates the
plan, cleans and fingerprints the data, and writes a channel file next to each audience
list.
Results are also written to benchmarks/work/results.json.
"""

from __future__ import annotations

import argparse
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
    gen = ("from pathlib import Path; from crmspec.demo import generate_demo; "
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


def fresh_state(root: Path) -> None:
    """An empty ledger and no previous outputs: every build is a first build."""
    for d in ("state", "out", "ref_out"):
        shutil.rmtree(root / d, ignore_errors=True)


# --- child processes ----------------------------------------------------------------


def run(cmd: list[str]) -> dict:
    """Run a child process: wall and CPU seconds, its own peak RSS (MiB), its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "rss_mib": round(usage.ru_maxrss / 1024), "stdout": stdout}


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_s"])


# --- the instrumented build (child) --------------------------------------------------

# (label, module, function, depth): the build's own functions, timed where build.py calls
# them (names looked up in crmspec.build at call time) or inside crmspec.sources.
PHASES = (
    ("plugins", "crmspec.build", "get_plugin_manager", 0),
    ("prepare", "crmspec.build", "prepare", 0),
    ("validate", "crmspec.build", "open_plan", 1),
    ("attach", "crmspec.build", "attach", 1),
    ("clean", "crmspec.sources", "_clean", 2),
    ("fingerprint", "crmspec.sources", "_fingerprint", 2),
    ("compile", "crmspec.build", "compile_plan", 1),
    ("ledger_attach", "crmspec.build", "attach_ledger", 1),
    ("run_plan", "crmspec.build", "run_plan", 0),
    ("decide_contacts", "crmspec.build", "decide_contacts", 0),
    ("limits", "crmspec.build", "apply_limits", 1),
    ("render", "crmspec.build", "render_activities|render_activity", 1),
    ("budgets", "crmspec.build", "apply_budgets", 1),
    ("report", "", "", 0),  # the sum of the four below
    ("count", "crmspec.build", "count_activities", 1),
    ("contact_report", "crmspec.build", "contact_report", 1),
    ("power_warnings", "crmspec.build", "power_warnings", 1),
    ("manifest", "crmspec.build", "_manifest", 1),
    ("write", "crmspec.build", "write_activity", 0),
    ("write", "crmspec.build", "write_json", 0),
    ("ledger", "crmspec.build", "record_run", 0),
    ("close", "crmspec.build", "duckdb.connect().close", 0),  # freeing DuckDB's memory
)
TOP = ("plugins", "prepare", "run_plan", "decide_contacts", "report", "write", "ledger",
       "close")

CHECK_SQL = ("SELECT activity_id, count(*), sum(hash(customer_id))::HUGEINT::VARCHAR "
             "FROM {table} WHERE {where} GROUP BY 1 ORDER BY 1")


def child_phases(root: Path) -> None:
    import importlib
    from types import SimpleNamespace

    import duckdb

    import crmspec.build as B

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

    B.duckdb = SimpleNamespace(**{**vars(B.duckdb),
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

    def run_plan_and_check(con, compiled, plan):
        result = timed_run_plan(con, compiled, plan)
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


def render_reference(root: Path, out_dir: Path) -> tuple[str, date]:
    """benchmarks/reference.sql with its slots filled from the plan of `root`."""
    import duckdb

    from crmspec.compile import (
        Needs,
        SegmentCompiler,
        _trigger_condition,
        compile_plan,
        last_review_date,
        next_review_date,
    )
    from crmspec.model import stage_bands
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
    # The ledger is empty: the previous tier is the one on purchases up to two days before.
    previous = as_of - timedelta(days=2)
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
        key = (t.event, t.first_day, t.last_day)
        if key in flags:
            continue
        name = f"t_{len(flags)}"
        flags[key] = name
        column = {"ordered_unpaid": "created_at", "paid": "paid_at", "shipped": "shipped_at",
                  "signed": "signed_at"}[t.event]
        status = "status = 'unpaid'" if t.event == "ordered_unpaid" else f"status IN ({statuses})"
        lo, hi = as_of - timedelta(days=t.last_day), as_of - timedelta(days=t.first_day)
        cond = f"{status} AND {column}::DATE BETWEEN DATE '{lo}' AND DATE '{hi}'"
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

    audiences, copies = [], []
    out_dir.mkdir(parents=True, exist_ok=True)
    for a in plan.activities:
        ch = channels[a.channel]
        t = a.trigger
        if t.type == "after_order" and t.event not in ("first_purchase", "last_purchase"):
            trig = flags[(t.event, t.first_day, t.last_day)]
        else:
            trig = _trigger_condition(a, plan, as_of).sql("duckdb")
        addr = _ident(ch.contact_field)
        verdict = ["NOT coalesce(opt_out_all, false)"]
        if ch.opt_out_field and not a.service:
            verdict.append(f"NOT coalesce({_ident(ch.opt_out_field)}, false)")
        verdict.append(f"{addr} IS NOT NULL")
        if ch.address_pattern:
            verdict.append(f"regexp_full_match({addr}::VARCHAR, {_q(ch.address_pattern)})")
        audiences.append(
            f"SELECT customer_id, {_q(a.id)} AS activity_id, {_q(ch.name)} AS channel, "
            f"{addr}::VARCHAR AS address, {_q(a.segment)} AS segment, stage, customer_type, "
            f"tier, purchases, spend, days_since_last_purchase, r, f, m\n"
            f"FROM features WHERE coalesce(({compiled.segments[a.segment]}), false)\n"
            f"  AND ({trig}) AND {' AND '.join(verdict)}")
        copies.append(f"COPY (SELECT * FROM sends WHERE activity_id = {_q(a.id)} ORDER BY "
                      f"customer_id) TO {_q(str(out_dir / (a.id + '.csv')))} "
                      "(FORMAT csv, HEADER true);")
    counts = [f"count(*) FILTER (WHERE coalesce(({cond}), false)) AS {_ident('seg:' + sid)}"
              for sid, cond in compiled.segments.items()]
    sql = Template(REFERENCE.read_text(encoding="utf-8")).substitute(
        customers=files["customers"], orders=files["orders"], events=files["events"],
        as_of=as_of.isoformat(), previous=previous.isoformat(), stage_case=" ".join(stage),
        tier_window=window, review_window_start=review_start,
        review_date=f"DATE '{review}'" if review else "NULL::DATE",
        kept=f"DATE '{kept}'" if kept else "NULL::DATE",
        tier_case=tier_ids,
        tier_rank_case=(f"greatest({tiers()}, {tiers('kept_spend', 'kept_purchases')})"
                        if kept else tiers()),
        previous_tier_rank_case=tiers("previous_spend", "previous_purchases"),
        review_tier_rank_case=tiers("review_spend"),
        fans_min=int(plan.shop.fans_min_purchases), order_columns=cols(order_cols),
        order_filter="\n     OR ".join(f"({c})" for c in order_conds) or "false",
        event_columns=cols(event_cols, "  "), event_window=int(event_window),
        flag_columns=cols(flag_cols), counts=cols(counts, "       "),
        audiences="\nUNION ALL\n".join(audiences), copies="\n".join(copies))
    return sql, as_of


def _statements(sql: str) -> list[str]:
    """The script's statements (comments dropped; none of its strings holds ';\\n')."""
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", text + "\n") if s.strip()]


def child_reference(script: Path) -> None:
    import duckdb

    t0, c0 = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    steps: dict[str, float] = {}
    counts = None
    for stmt in _statements(script.read_text(encoding="utf-8")):
        label = ("features" if "TABLE features" in stmt[:40] else
                 "sends" if "TABLE sends" in stmt[:40] else
                 "counts" if stmt.startswith("SELECT histogram") else
                 "copy" if stmt.startswith("COPY") else "other")
        s0 = time.perf_counter()
        cur = con.execute(stmt)
        if label == "counts":
            names = [c[0] for c in cur.description]
            counts = dict(zip(names, cur.fetchone()))
        steps[label] = steps.get(label, 0.0) + time.perf_counter() - s0
    total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
    activities = con.execute(CHECK_SQL.format(table="sends", where="true")).fetchall()
    print(json.dumps({"total_s": total, "total_cpu_s": total_cpu, "steps": steps,
                      "check": {"activities": activities, "counts": counts}}, default=str))


# --- the comparison ------------------------------------------------------------------


def compare(crm: dict, ref: dict, plan_activities: list[str]) -> list[str]:
    """Differences between crmspec's and the reference's figures (empty: the same)."""
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
    a = {r[0]: (r[1], r[2]) for r in crm["activities"]}
    b = {r[0]: (r[1], r[2]) for r in ref["activities"]}
    for aid in plan_activities:
        if a.get(aid, (0, None)) != b.get(aid, (0, None)):
            diffs.append(f"activity {aid}: crmspec {a.get(aid, (0,))[0]} customers vs "
                         f"reference {b.get(aid, (0,))[0]} (or different ids)")
    return diffs


def bench(n: int, repeat: int, rev: str) -> dict:
    root, gen_s, plans = project(n, rev)
    warm(root)
    script = root / "reference.sql"
    sql, as_of = render_reference(root, root / "ref_out")
    script.write_text(sql, encoding="utf-8")
    me = [sys.executable, str(Path(__file__).resolve())]
    builds, phases, refs = [], [], []
    for _ in range(repeat):
        fresh_state(root)
        builds.append(run([sys.executable, "-m", "crmspec", "build", "--project", str(root),
                           "--out", str(root / "out")]))
        fresh_state(root)
        p = run(me + ["--child-phases", str(root)])
        phases.append({**p, **json.loads(p["stdout"].splitlines()[-1])})
        fresh_state(root)
        (root / "ref_out").mkdir()
        r = run(me + ["--child-reference", str(script)])
        refs.append({**r, **json.loads(r["stdout"].splitlines()[-1])})
    build, ph, ref = best(builds), best(phases), best(refs)
    from crmspec.validate import validate_project

    ids = [a.id for a in validate_project(root).plan.activities]
    diffs = compare(ph["check"], ref["check"], ids)
    wall = ph["wall"]
    like = sum(wall.get(k, 0.0) for k in ("prepare", "run_plan", "write"))
    sends = sum(r[1] for r in ref["check"]["activities"])
    return {
        "customers": n, "plans": plans, "as_of": as_of.isoformat(), "generate_s": gen_s,
        "build_s": build["wall_s"], "build_cpu_s": build["cpu_s"],
        "build_rss_mib": build["rss_mib"],
        "phases_total_s": ph["total_s"], "phases": wall, "phases_cpu": ph["cpu"],
        "phases_rss_mib": ph["rss_mib"],
        "like_for_like_s": like,
        "reference_s": ref["wall_s"], "reference_sql_s": ref["total_s"],
        "reference_cpu_s": ref["cpu_s"], "reference_rss_mib": ref["rss_mib"],
        "reference_steps": ref["steps"], "send_rows": sends,
        "ratio": build["wall_s"] / ref["wall_s"],
        "ratio_cpu": build["cpu_s"] / ref["cpu_s"],
        "ratio_like_for_like": like / ref["total_s"],
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
          f"{r['send_rows']:,} send rows "
          f"before contact limits; load average {r['load_avg'][0]:.1f})")
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
    print(f"  like-for-like       {f(r['like_for_like_s'])} s (prepare + run_plan + write)")
    print(f"  reference           {f(r['reference_s'])} s wall ({f(r['reference_sql_s'])} s SQL: "
          + ", ".join(f"{k} {v:.1f}" for k, v in r["reference_steps"].items())
          + f"), {f(r['reference_cpu_s'])} s CPU, peak RSS {r['reference_rss_mib']} MiB")
    print(f"  ratio               {r['ratio']:.2f}x wall, {r['ratio_cpu']:.2f}x CPU (build / "
          f"reference); like-for-like {r['ratio_like_for_like']:.2f}x wall")
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
    args = parser.parse_args()
    if args.child_phases:
        return child_phases(args.child_phases)
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
