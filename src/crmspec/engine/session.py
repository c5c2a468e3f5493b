"""A shop's data and plan, ready to run: the plan validated, the data attached as of a
date and checked, the ledger and the do-not-contact list attached, the plugins'
`prepare_connection` called, the plan compiled. `build`, `kpi`, `evaluate` and
`explain` all start from `open_session`."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import pluggy

from crmspec.compile import CompiledPlan, compile_plan
from crmspec.contact.ledger import attach_ledger
from crmspec.core.diagnostics import Diagnostic, PlanError, has_errors
from crmspec.core.sql import sql_str
from crmspec.data.cleaning import problems_as_diagnostics
from crmspec.data.demo import ensure_demo
from crmspec.data.sources import AttachedData, attach
from crmspec.data.suppressions import attach_suppressions
from crmspec.engine.connection import connect
from crmspec.plan.model import Plan
from crmspec.plugins import call_hook, get_plugin_manager
from crmspec.templates.loading import ActivityTemplates
from crmspec.templates.rendering import template_needs
from crmspec.validate import open_plan


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
    note = ensure_demo(plan.shop.data, root)
    if note and notes is not None:
        notes.append(note)
    # Time-zone-aware timestamps in the data (TIMESTAMPTZ) become the shop's local time.
    con.execute("SET TimeZone = " + sql_str(plan.shop.timezone))
    # Compile once to learn which columns the plan needs, attach, then compile for real.
    needs = compile_plan(plan, as_of or date(2000, 1, 1), channels).needs
    for column, src in template_needs(validation.templates):
        needs.add(column, src)
    data = attach(con, plan.shop.data, root, as_of or plan.shop.as_of, needs.columns)
    if notes is not None:
        notes.extend(data.notes)
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


@contextmanager
def open_session(root: Path, as_of: date | None = None, *, capped: bool = True,
                 strict: bool = False, record: bool = False,
                 pm: pluggy.PluginManager | None = None,
                 say: Callable[[str], None] | None = None
                 ) -> Iterator[tuple[duckdb.DuckDBPyConnection, Prepared]]:
    """A connection (`connect(capped)`) with the project at `root` prepared on it as of
    `as_of` (`prepare`); notes such as "generated the demo shop" go to `say`. The
    connection is closed when the block ends."""
    con = connect(capped)
    try:
        notes: list[str] = []
        prepared = prepare(root, as_of, con, strict, notes, pm, record)
        for note in notes:
            (say or (lambda _msg: None))(note)
        yield con, prepared
    finally:
        con.close()
