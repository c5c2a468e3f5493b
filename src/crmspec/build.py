"""`crmspec build`: the pipeline from plan files to send lists, on top of every other
package: a session (`crmspec.engine`), the plan run, the contact pass, the outputs
written, the run recorded in the ledger, the manifest.

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
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pluggy

from crmspec import __version__
from crmspec.contact.ledger import check_order, finish_run, record_run
from crmspec.contact.power import power_summary
from crmspec.contact.report import budget_problems, contact_report
from crmspec.core.diagnostics import Diagnostic, PlanError, has_errors
from crmspec.core.disk import disk_full, is_disk_full
from crmspec.core.mask import mask_data
from crmspec.core.progress import Progress
from crmspec.core.sql import execute_all
from crmspec.data.sources import AttachedData
from crmspec.engine.decide import decide_contacts
from crmspec.engine.run import RunResult, count_activities, run_plan
from crmspec.engine.script import RecordingConnection
from crmspec.engine.session import open_session, prepare
from crmspec.outputs.files import atomic_dir, write_json
from crmspec.outputs.runstate import build_lock, recover
from crmspec.outputs.write import ActivityOutput, write_activity
from crmspec.plan.model import Plan
from crmspec.plan.project import PLAN_DIR
from crmspec.plugins import call_hook, channel_set, get_plugin_manager


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


def build(root: Path, as_of: date | None = None, out: Path | None = None, strict: bool = False,
          dry_run: bool = False, progress: Progress | None = None,
          pm: pluggy.PluginManager | None = None, force: bool = False,
          engine: str | None = None) -> BuildResult:
    """Build the plan of the project at `root`; raises PlanError on any blocking problem.

    `pm`: the plugin manager to use (default: `get_plugin_manager(root)`). A dry run
    reads the ledger but records nothing and writes no files; `force` allows a build
    dated before the latest recorded run; `strict` makes data problems and a month over
    its budget (W605) errors. `progress` is told each phase as it starts
    (core.progress; default: nothing is reported). `engine`: `duckdb` or `spark`
    (default: shop.yaml `engine`); on Spark the facts, features, candidates and the
    contact decisions (limits, budgets, control groups) are computed there, and the
    rendering and writing after them runs as on DuckDB (docs/spark.md).
    """
    notes: list[str] = []
    progress = progress or Progress()

    def note(message: str) -> None:
        notes.append(message)
        progress.note(message)

    pm = pm if pm is not None else get_plugin_manager(root)
    owners = channel_set(pm).owner
    progress.start("checking the plan, attaching and checking the data")
    with ExitStack() as stack, open_session(root, as_of, strict=strict, record=not dry_run,
                                            pm=pm, say=note, engine=engine) as (con, p):
        plan, compiled, data = p.plan, p.compiled, p.data
        if not dry_run:
            # The session holds the ledger (DuckDB's file lock); the build lock says who.
            stack.enter_context(build_lock(root / plan.shop.ledger_path))
            for message in recover(con, (out or root / "out").resolve()):
                note(message)
            check_order(con, data.as_of, force, plan.shop.src.at("ledger")
                        if plan.shop.src.at("ledger").exists() else plan.shop.src)
        engine = engine or plan.shop.engine
        progress.start(f"running the plan as of {data.as_of.isoformat()}"
                       + (" on Spark" if engine == "spark" else ""))
        spark = None
        if engine == "spark":  # sqlglot's Spark dialect only for a Spark build
            from crmspec.engine.spark.run import SparkRunner
            spark = SparkRunner(plan.shop, given=p.spark_inputs.given if p.spark_inputs
                                else None)
        runner = spark or execute_all
        try:
            result = run_plan(con, compiled, plan, runner)
            progress.start("deciding the contacts (limits, budgets, control groups)")
            rendered = decide_contacts(con, plan, compiled, p.templates, runner)
        finally:  # what follows reads DuckDB's tables only
            if spark is not None:
                spark.close()
        result.activities = count_activities(con, compiled)
        manifest = _manifest(plan, root, data, result)
        manifest.update(contact_report(con, plan, compiled, data.as_of))
        budget = budget_problems(plan, manifest["costs"], data.as_of, strict)
        if has_errors(budget):  # --strict: nothing written, nothing recorded
            raise PlanError(budget)
        warnings = p.warnings + budget + power_summary(plan, audiences(result))

        def write(folder: Path | None) -> dict[str, ActivityOutput]:
            n = len(compiled.activities)
            progress.start(f"writing the files of {n} activities" if folder is not None
                           else f"costing the messages of {n} activities (dry run)", n)
            outputs = {}
            for ca in compiled.activities:
                outputs[ca.activity.id] = write_activity(
                    con, plan, ca, p.templates.get(ca.activity.id), rendered[ca.activity.id],
                    folder, data.as_of, owners.get(ca.channel.name), root)
                progress.advance()
            return outputs

        out_dir = None
        if dry_run:
            outputs = write(None)
            _add_outputs(manifest, outputs)
            manifest = masked(manifest)
        else:
            out_dir = (out or root / "out").resolve()
            committed, writing = False, _shown(root, out_dir)
            try:
                with atomic_dir(out_dir) as tmp:
                    outputs = write(tmp)
                    _add_outputs(manifest, outputs)
                    manifest = masked(manifest)  # names and data problems may quote data
                    write_json(tmp / "manifest.json", manifest)
                    # Last step before the swap, with the swap recorded as pending: a crash
                    # before the commit leaves the ledger and out/ as they were; after it,
                    # the next build finishes the swap (outputs.runstate.recover).
                    progress.start("recording the run in the ledger")
                    writing = _shown(root, root / plan.shop.ledger_path)
                    record_run(con, data.as_of, "decisions", manifest["plan_hash"],
                               data.fingerprint, tiers="facts", pending=(out_dir, tmp))
                    committed = True
            except Exception as exc:
                if is_disk_full(exc) and not committed:
                    raise PlanError([disk_full(writing, exc)]) from None
                raise
            finish_run(con)
        warnings += [w for o in outputs.values() for w in o.warnings]
        build_result = BuildResult(data.as_of, out_dir, manifest, result, plan, warnings, notes)
    if out_dir is not None:
        call_hook(pm, "build_finished", result=build_result)
    progress.finish()
    return build_result


def _shown(root: Path, path: Path) -> str:
    base = root.resolve()
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


def masked(manifest: dict) -> dict:
    """The manifest with its free text through `mask_text`: the shop's and activities'
    names and the data problems (whose examples are collected masked already). Hashes,
    dates and counts are left alone: a fingerprint's hex digits can look like a phone
    number."""
    out = dict(manifest)
    out["shop"] = mask_data(manifest["shop"])
    out["data_problems"] = mask_data(manifest["data_problems"])
    out["activities"] = [{**a, "name": mask_data(a["name"])} for a in manifest["activities"]]
    return out


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
    """The SQL script of the plan as of a date (`crmspec compile`), with the statements
    that attach the shop's data and the ledger: it runs as printed."""
    con = duckdb.connect()
    try:
        recording = RecordingConnection(con)
        compiled = prepare(root, as_of, recording, pm=pm).compiled  # type: ignore[arg-type]
        return compiled.script(recording.statements, recording.unprintable)
    finally:
        con.close()


def audiences(result: RunResult) -> dict[str, int]:
    """Per activity, the customers contacted or held out by a build."""
    return {c.activity_id: c.sent + c.control for c in result.activities}
