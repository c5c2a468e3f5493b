"""A shop's data and plan, ready to run: the plan validated, the data attached as of a
date and checked, the ledger and the do-not-contact list attached, the plugins'
`prepare_connection` called, the plan compiled. `build`, `kpi`, `evaluate` and
`explain` all start from `open_session`."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import duckdb
import pluggy

from crmspec.compile import CompiledPlan, compile_plan
from crmspec.compile.segments import Needs
from crmspec.contact.ledger import attach_ledger, previous_run
from crmspec.core.diagnostics import Diagnostic, PlanError, has_errors
from crmspec.core.sql import sql_str
from crmspec.data.cleaning import problems_as_diagnostics
from crmspec.data.demo import demo_present, ensure_demo
from crmspec.data.sources import AttachedData, attach
from crmspec.data.suppressions import attach_suppressions
from crmspec.engine.connection import connect
from crmspec.plan.model import Plan
from crmspec.plugins import call_hook, get_plugin_manager
from crmspec.templates.loading import ActivityTemplates
from crmspec.templates.rendering import template_columns, template_needs
from crmspec.validate import Validation, open_plan

if TYPE_CHECKING:  # a Spark shop's inputs: imported at run time by such a shop only
    from crmspec.engine.spark.data import SparkInputs


@dataclass
class Prepared:
    plan: Plan
    compiled: CompiledPlan
    data: AttachedData
    warnings: list[Diagnostic]
    templates: dict[str, ActivityTemplates]
    # the data read and checked by Spark (a catalog or URI source), else None
    spark_inputs: SparkInputs | None = None

    def __iter__(self):
        """`plan, compiled, data, warnings = prepare(...)` (the shape callers relied on)."""
        return iter((self.plan, self.compiled, self.data, self.warnings))


def prepare(root: Path, as_of: date | None, con: duckdb.DuckDBPyConnection, strict: bool = False,
            notes: list[str] | None = None, pm: pluggy.PluginManager | None = None,
            record: bool = False, engine: str | None = None) -> Prepared:
    """Everything up to running: plan, data and ledger attached as of the date, compiled SQL.

    `record`: the build will record its run in the ledger (attached writable, created if
    absent); otherwise the ledger is only read.
    """
    pm = pm if pm is not None else get_plugin_manager(root)
    return prepare_plans(root, [open_plan(root, pm)], as_of, con, strict=strict, notes=notes,
                         pm=pm, record=record, engine=engine)[0]


def prepare_plans(root: Path, validations: list[Validation], as_of: date | None,
                  con: duckdb.DuckDBPyConnection, *, strict: bool = False,
                  notes: list[str] | None = None, pm: pluggy.PluginManager | None = None,
                  record: bool = False, scratch: Path | None = None,
                  engine: str | None = None) -> list[Prepared]:
    """Valid plans (`crmspec.validate.open_plan`) over the data of the project at `root`
    on one connection: `crmspec build` prepares one, `crmspec plan` the plan at a base
    revision and the working tree's. The data is attached once, as the first plan's
    shop.yaml says, with the columns any of the plans needs; so are the ledger and the
    do-not-contact list, and the plugins' `prepare_connection` is called once (with the
    first plan). Then each plan is compiled as of the same date.

    `scratch`: where a demo shop that is not generated yet goes (the review writes
    nothing into the project); default: its place in the project, as a build does.
    """
    pm = pm if pm is not None else get_plugin_manager(root)
    first = validations[0].plan
    assert first is not None and all(v.plan is not None for v in validations)
    ds = first.shop.data
    data_root = scratch if scratch is not None and not demo_present(ds, root) else root
    note = ensure_demo(ds, data_root)
    if note and notes is not None:
        notes.append(note if data_root == root else note.replace(
            f"in {ds.path}/", "in a temporary folder"))
    # Time-zone-aware timestamps in the data (TIMESTAMPTZ) become the shop's local time.
    con.execute("SET TimeZone = " + sql_str(first.shop.timezone))
    # Compile once to learn which columns the plans need, attach, then compile for real.
    # `features` carries the customer columns any of the plans reads: two plans of a
    # review compile to the same facts statement unless they differ in what they compute.
    needs, reads = Needs(), set()
    for v in validations:
        draft = compile_plan(v.plan, as_of or date(2000, 1, 1), v.channels,
                             reads=template_columns(v.templates))
        for column, src in draft.needs.columns.items():
            needs.add(column, src)
        for column, src in template_needs(v.templates):
            needs.add(column, src)
        reads.update(draft.customer_columns)
    # The checks' results live beside the ledger; only a build that records stores them.
    checks = (root / first.shop.ledger_path).parent / "checks.json"
    inputs = None
    if ds.spark_only:  # catalog tables or a URI: Spark reads and checks them
        # the Spark modules (sqlglot's Spark dialect) only for such a shop
        from crmspec.engine.spark.data import attach_on_spark, needs_spark
        from crmspec.engine.spark.session import spark_session
        if (engine or first.shop.engine) != "spark":
            raise PlanError([needs_spark(ds)])
        data, inputs = attach_on_spark(con, first.shop, spark_session(first.shop),
                                       as_of or first.shop.as_of, needs.columns)
    else:
        data = attach(con, ds, data_root, as_of or first.shop.as_of, needs.columns, checks,
                      record=record)
    try:
        if notes is not None:
            notes.extend(data.notes)
        data_diags = problems_as_diagnostics(data.problems, ds.src, strict)
        if strict and has_errors(data_diags):
            raise PlanError(data_diags)
        attach_ledger(con, root / first.shop.ledger_path, read_only=not record)
        if inputs is None:  # else attach_on_spark made it from the Spark source's list
            attach_suppressions(con, ds, data_root)
        previous = previous_run(con, data.as_of)
        call_hook(pm, "prepare_connection", con=con, plan=first)
        return [Prepared(v.plan, compile_plan(v.plan, data.as_of, v.channels, previous,
                                              previous_in_ledger=previous is not None,
                                              reads=sorted(reads)),
                         data, v.diagnostics + data_diags, v.templates, inputs)
                for v in validations]
    except BaseException:
        if inputs is not None:
            inputs.close()
        raise


@contextmanager
def open_session(root: Path, as_of: date | None = None, *, capped: bool = True,
                 strict: bool = False, record: bool = False,
                 pm: pluggy.PluginManager | None = None,
                 say: Callable[[str], None] | None = None, engine: str | None = None
                 ) -> Iterator[tuple[duckdb.DuckDBPyConnection, Prepared]]:
    """A connection (`connect(capped)`) with the project at `root` prepared on it as of
    `as_of` (`prepare`); notes such as "generated the demo shop" go to `say`. The
    connection is closed when the block ends (and the data Spark read and checked
    removed). `engine`: the build's `--engine` (default shop.yaml's), which decides
    whether data only Spark reads may be read (E410)."""
    con = connect(capped)
    prepared = None
    try:
        notes: list[str] = []
        prepared = prepare(root, as_of, con, strict, notes, pm, record, engine)
        for note in notes:
            (say or (lambda _msg: None))(note)
        yield con, prepared
    finally:
        if prepared is not None and prepared.spark_inputs is not None:
            prepared.spark_inputs.close()
        con.close()
