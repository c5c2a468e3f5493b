"""`crmspec build`: validate, attach data, compile, run, write outputs.

The one function the CLI calls. It refuses to run an invalid plan (the diagnostics
say why), generates the demo data on first use when the shop's source is the demo,
and writes send lists plus `manifest.json` atomically.

One plugin manager per build (`crmspec.plugins.get_plugin_manager`, made from the
project root unless the caller passes one) provides the channels and the hooks:
`prepare_connection` once the data is attached, `build_finished` once the outputs are
in place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import duckdb
import pluggy

from crmspec import __version__
from crmspec.compile import CompiledPlan, compile_plan
from crmspec.contacts import apply_budgets, apply_limits, rules_for
from crmspec.diagnostics import Diagnostic, PlanError, has_errors
from crmspec.ledger import attach_ledger, check_order, history_view, record_run
from crmspec.model import Plan
from crmspec.outputs import (
    ActivityOutput,
    Rendered,
    activity_options,
    atomic_dir,
    cost_sql,
    create_send_rows,
    not_ready,
    priced_by_message,
    render_activities,
    write_activity,
    write_json,
)
from crmspec.plugins import call_hook, channel_set, get_plugin_manager
from crmspec.project import PLAN_DIR
from crmspec.report import audiences, contact_report, power_summary
from crmspec.run import RunResult, count_activities, run_plan
from crmspec.sources import (
    AttachedData,
    attach,
    attach_suppressions,
    problems_as_diagnostics,
)
from crmspec.templates import ActivityTemplates, template_needs
from crmspec.validate import Validation, validate_project

# DuckDB's own default is 80% of the machine's memory, and a build holds on to what it
# took: about 4.5 GB for a 1M-customer shop with 10M orders. With a cap DuckDB spills to
# a temporary folder instead (benchmarks/README.md: 1.2 GB peak, ~10% more CPU there).
# CRMSPEC_MEMORY_LIMIT overrides it ("4GB"; empty: DuckDB's default).
MEMORY_LIMIT = "1GB"


# A build's tables live for seconds. DuckDB checkpoints its in-memory (temporary)
# storage every 16 MiB of changes, and a checkpoint compresses every table changed since
# the last one, on one thread: at 1M customers that was 1-2 s of a build spent
# compressing tables about to be dropped. Without automatic checkpoints they stay as
# written; the ledger is checkpointed when the connection closes (and, were the build
# killed first, its write-ahead log is replayed on the next open).
NO_AUTO_CHECKPOINT = {"checkpoint_threshold": "1TB"}


def connect(capped: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for a command that reads the shop's data, its memory capped
    (CRMSPEC_MEMORY_LIMIT) unless `capped` is false. `crmspec kpi` and `evaluate` are
    not capped: at 1M customers the KPIs took 27-29 s in 2.5 GB, 31-37 s capped."""
    limit = os.environ.get("CRMSPEC_MEMORY_LIMIT", MEMORY_LIMIT if capped else "")
    config = dict(NO_AUTO_CHECKPOINT)
    if limit:
        spill = os.path.join(tempfile.gettempdir(), f"crmspec-duckdb-{os.getpid()}")
        config.update(memory_limit=limit, temp_directory=spill)
    con = duckdb.connect(config=config)
    # DuckDB would print its own progress bars into the build's output.
    con.execute("SET enable_progress_bar = false")
    return con


@dataclass
class BuildResult:
    as_of: date
    out_dir: Path | None  # None on a dry run
    manifest: dict
    run: RunResult
    plan: Plan
    warnings: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_hash(root: Path) -> str:
    """Hash of every file under plans/ (path and bytes): any edit changes it."""
    h = hashlib.sha256()
    for f in sorted(p for p in (root / PLAN_DIR).rglob("*") if p.is_file()):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def ensure_demo_data(plan: Plan, root: Path) -> str | None:
    """Generate the demo shop when the plan's source is the demo and it is not there yet."""
    ds = plan.shop.data
    target = root / ds.path
    if ds.source != "demo" or (target / "customers.parquet").exists():
        return None
    from crmspec.demo import generate_demo

    summary = generate_demo(target, customers=ds.demo_customers, seed=ds.demo_seed,
                            end_date=ds.demo_end_date)
    return (f"generated the demo shop in {ds.path}/ ({summary.customers} customers, "
            f"{summary.orders} orders, {summary.events} events; seed {ds.demo_seed})")


def open_plan(root: Path, pm: pluggy.PluginManager | None = None) -> Validation:
    """A valid plan with its channels, templates and warnings, or PlanError."""
    validation = validate_project(root, pm)
    if not validation.ok or validation.plan is None:
        raise PlanError(validation.diagnostics)
    return validation


@dataclass
class Prepared:
    plan: Plan
    compiled: CompiledPlan
    data: AttachedData
    warnings: list[Diagnostic]
    templates: dict[str, ActivityTemplates]

    def __iter__(self):
        """`plan, compiled, data, warnings = prepare(...)` (the shape callers relied on)."""
        return iter((self.plan, self.compiled, self.data, self.warnings))


def prepare(root: Path, as_of: date | None, con: duckdb.DuckDBPyConnection, strict: bool = False,
            notes: list[str] | None = None, pm: pluggy.PluginManager | None = None,
            record: bool = False) -> Prepared:
    """Everything up to running: plan, data and ledger attached as of the date, compiled SQL.

    `record`: the build will record its run in the ledger (attached writable, created if
    absent); otherwise the ledger is only read.
    """
    pm = pm if pm is not None else get_plugin_manager(root)
    validation = open_plan(root, pm)
    plan, channels = validation.plan, validation.channels
    assert plan is not None
    note = ensure_demo_data(plan, root)
    if note and notes is not None:
        notes.append(note)
    # Time-zone-aware timestamps in the data (TIMESTAMPTZ) become the shop's local time.
    con.execute("SET TimeZone = " + "'" + plan.shop.timezone.replace("'", "''") + "'")
    # Compile once to learn which columns the plan needs, attach, then compile for real.
    needs = compile_plan(plan, as_of or date(2000, 1, 1), channels).needs
    for column, src in template_needs(validation.templates):
        needs.add(column, src)
    data = attach(con, plan.shop.data, root, as_of or plan.shop.as_of, needs.columns)
    data_diags = problems_as_diagnostics(data.problems, plan.shop.data.src, strict)
    if strict and has_errors(data_diags):
        raise PlanError(data_diags)
    attach_ledger(con, root / plan.shop.ledger_path, read_only=not record)
    attach_suppressions(con, plan.shop.data, root)
    previous = con.execute("SELECT max(as_of) FROM ledger.tiers WHERE as_of < ?",
                           [data.as_of]).fetchone()[0]
    call_hook(pm, "prepare_connection", con=con, plan=plan)
    compiled = compile_plan(plan, data.as_of, channels, previous,
                            previous_in_ledger=previous is not None)
    return Prepared(plan, compiled, data, validation.diagnostics + data_diags,
                    validation.templates)


def build(root: Path, as_of: date | None = None, out: Path | None = None, strict: bool = False,
          dry_run: bool = False, progress: Callable[[str], None] | None = None,
          pm: pluggy.PluginManager | None = None, force: bool = False) -> BuildResult:
    """Build the plan of the project at `root`; raises PlanError on any blocking problem.

    `pm`: the plugin manager to use (default: `get_plugin_manager(root)`). A dry run
    reads the ledger but records nothing and writes no files; `force` allows a build
    dated before the latest recorded run.
    """
    say = progress or (lambda _msg: None)
    notes: list[str] = []
    pm = pm if pm is not None else get_plugin_manager(root)
    owners = channel_set(pm).owner
    con = connect()
    try:
        p = prepare(root, as_of, con, strict, notes, pm, record=not dry_run)
        plan, compiled, data = p.plan, p.compiled, p.data
        for n in notes:
            say(n)
        if not dry_run:
            check_order(con, data.as_of, force, plan.shop.src.at("ledger")
                        if plan.shop.src.at("ledger").exists() else plan.shop.src)
        say(f"running the plan as of {data.as_of.isoformat()}")
        result = run_plan(con, compiled, plan)
        rendered = decide_contacts(con, plan, compiled, p.templates)
        result.activities = count_activities(con, compiled)
        manifest = _manifest(plan, root, data, result)
        manifest.update(contact_report(con, plan, compiled, data.as_of))
        warnings = p.warnings + power_summary(plan, audiences(result))

        def write(folder: Path | None) -> dict[str, ActivityOutput]:
            return {ca.activity.id: write_activity(
                        con, plan, ca, p.templates.get(ca.activity.id), rendered[ca.activity.id],
                        folder, data.as_of, owners.get(ca.channel.name), root)
                    for ca in compiled.activities}

        out_dir = None
        if dry_run:
            outputs = write(None)
            _add_outputs(manifest, outputs)
        else:
            out_dir = (out or root / "out").resolve()
            with atomic_dir(out_dir) as tmp:
                outputs = write(tmp)
                _add_outputs(manifest, outputs)
                write_json(tmp / "manifest.json", manifest)
                # Last step before the swap: a crash before it leaves both the ledger and
                # the outputs as they were; after it, re-running the date replaces the run.
                record_run(con, data.as_of, "decisions", manifest["plan_hash"],
                           data.fingerprint, tiers="facts")
        warnings += [w for o in outputs.values() for w in o.warnings]
        build_result = BuildResult(data.as_of, out_dir, manifest, result, plan, warnings, notes)
    finally:
        con.close()
    if out_dir is not None:
        call_hook(pm, "build_finished", result=build_result)
    return build_result


def decide_contacts(con: duckdb.DuckDBPyConnection, plan: Plan, compiled: CompiledPlan,
                    templates: dict) -> dict[str, Rendered]:
    """The contact plan: limits, the messages whose cost depends on them rendered and
    costed (SMS), budgets and control groups, then the other messages rendered for the
    contacts kept. Leaves `sends` (the final decisions) and the rendered rows."""
    options = {ca.activity.id: activity_options(plan, ca, templates.get(ca.activity.id))
               for ca in compiled.activities}
    unsendable = {ca.activity.id: not_ready(plan, ca, templates.get(ca.activity.id))
                  for ca in compiled.activities}
    rules = rules_for(plan, compiled, options, unsendable)
    history_view(con, compiled.as_of)
    apply_limits(con, rules, compiled.as_of)
    con.execute("CREATE OR REPLACE TEMP VIEW sends AS SELECT * EXCLUDE (reason), "
                "coalesce(reason, 'send') AS status FROM decisions_pre")
    early = [ca for ca in compiled.activities
             if priced_by_message(ca, options[ca.activity.id], unsendable[ca.activity.id])]
    rendered = render_activities(con, plan, compiled, templates, early)
    costs = [sql for ca in early
             if (sql := cost_sql(plan, ca, rendered[ca.activity.id])) is not None]
    con.execute("CREATE OR REPLACE TEMP TABLE row_costs AS "
                + ("\nUNION ALL\n".join(costs) if costs else
                   "SELECT NULL::VARCHAR AS activity_id, NULL::VARCHAR AS customer_id, "
                   "NULL::DOUBLE AS cost WHERE false"))
    apply_budgets(con, rules, compiled.as_of, costs="row_costs")
    con.execute("CREATE OR REPLACE TEMP VIEW sends AS SELECT * FROM decisions")
    rendered.update(render_activities(con, plan, compiled, templates,
                                      [ca for ca in compiled.activities if ca not in early]))
    create_send_rows(con)
    return {ca.activity.id: rendered[ca.activity.id] for ca in compiled.activities}


def _add_outputs(manifest: dict, outputs: dict[str, ActivityOutput]) -> None:
    for entry in manifest["activities"]:
        entry.update(outputs[entry["id"]].manifest())


def _manifest(plan: Plan, root: Path, data: AttachedData, result: RunResult) -> dict:
    acts = {a.id: a for a in plan.activities}
    return {
        "crmspec_version": __version__,
        "shop": plan.shop.name,
        "as_of": data.as_of.isoformat(),
        "plan_hash": plan_hash(root),
        "data_fingerprint": data.fingerprint,
        "rows": data.rows,
        "data_problems": [p.as_dict() for p in data.problems],
        "stages": result.stages,
        "customer_types": result.customer_types,
        "tiers": result.tiers,
        "segments": result.segments,
        "activities": [
            {
                "id": c.activity_id,
                "name": acts[c.activity_id].name,
                "kind": acts[c.activity_id].kind,
                "channel": acts[c.activity_id].channel,
                "segment": acts[c.activity_id].segment,
                "eligible": c.eligible,
                "suppressed": c.suppressed,
                "sent": c.sent,
                "control": c.control,
                "files": [],
            }
            for c in result.activities
        ],
    }


def compiled_sql(root: Path, as_of: date | None = None,
                 pm: pluggy.PluginManager | None = None) -> str:
    """The SQL script of the plan as of a date (`crmspec compile`)."""
    con = duckdb.connect()
    try:
        return prepare(root, as_of, con, pm=pm).compiled.script()
    finally:
        con.close()
