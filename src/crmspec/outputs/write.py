"""Write an activity's files: the channel's send file(s), by the channel's writer
(`crmspec.channels`), and `audience/<activity>.csv`, who is contacted and why, for
review and evaluation; with the cost of what was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from crmspec.channels import WriteContext
from crmspec.channels.base import rows_view
from crmspec.compile import ROW_ATTRIBUTES, CompiledActivity
from crmspec.contact.rules import send_windows
from crmspec.contact.schedule import day_hours, first_slot
from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.core.disk import is_disk_full
from crmspec.core.mask import mask_value_sql
from crmspec.core.spreadsheet import safe_select
from crmspec.core.sql import quote_path, sql_str
from crmspec.outputs.render import Rendered
from crmspec.plan.model import Plan
from crmspec.plugins import writer_failure
from crmspec.templates.loading import ActivityTemplates

SEND_COLUMNS = ("customer_id", "activity_id", "channel", "address", "segment") + ROW_ATTRIBUTES


@dataclass
class ActivityOutput:
    files: list[str]  # relative to the output folder: the channel's files, then audience/
    template: str | None
    parts: list[str]  # rendered message parts
    renderings: int  # distinct template renderings (not customers)
    cost: dict | None  # unit, units, unit_price, total (None: no send file)
    not_written: str | None  # why the channel's file was not written
    warnings: list[Diagnostic] = field(default_factory=list)

    def manifest(self) -> dict:
        return {"files": self.files, "template": self.template,
                "message": {"parts": self.parts, "renderings": self.renderings},
                "cost": self.cost, "not_written": self.not_written}


def keep_table_order(con: duckdb.DuckDBPyConnection) -> None:
    """Turn off DuckDB's IN-clause optimizer for the rest of the connection.

    DuckDB keeps a table's row order through a scan, a filter and a projection, but that
    optimizer makes `x IN (5 or more constants)` a MARK join, which does not: at 1M
    customers the audience lists came out in another order on every run (the test of a
    cell's first character in `core.spreadsheet.safe_cell_sql`; an email's advertising
    domains are another such list, a plugin's writer may have more). Only for the
    writing: on the audiences' filters the rewrite is what makes a long IN list cheap
    (500 values over 10M rows: 0.65 CPU s with it, 20 without)."""
    (off,) = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    if "in_clause" not in off.split(","):
        names = ",".join(filter(None, [off, "in_clause"]))
        con.execute(f"SET disabled_optimizers = {sql_str(names)}")


def create_send_rows(con: duckdb.DuckDBPyConnection) -> None:
    """`send_rows`: the contacts to list in audience files (status send or not_sent) with
    the customers' attributes, stored in activity and customer order: each activity's
    list is then one contiguous slice (zone maps skip the rest; the other 1M candidate
    rows never join `features`), already in the order of its file, so that the
    audience COPYs read it without sorting again (`write_audience`). From here on the
    connection keeps a table's order through the writers' COPYs (`keep_table_order`).

    The activity's channel and segment are the same on each of its rows, so they are
    not stored: `write_audience` writes them as constants. Carried through the sort they
    were two more strings per row (at 1M customers 0.2 of the statement's 0.8 CPU s)."""
    keep_table_order(con)
    attributes = ", ".join(f'f."{c}"' for c in ROW_ATTRIBUTES)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE send_rows AS
        SELECT d.customer_id, d.activity_id, d.address, {attributes},
          d.scheduled_at, d.status, d.cost
        FROM decisions d JOIN features f USING (customer_id)
        WHERE d.status IN ('send', 'not_sent') ORDER BY d.activity_id, d.customer_id""")


def write_audience(con: duckdb.DuckDBPyConnection, activity_id: str, channel: str,
                   segment: str, folder: Path) -> str:
    """audience/<activity>.csv: who is contacted and why (stage, type, tier, RFM...), and
    when; for an activity without a send file (`not_sent`), who would have been.

    A list for review, opened in a spreadsheet: the address is masked (the send file is
    the only place with the real one) and no text cell reads as a formula.

    Rows in customer order without an ORDER BY: `send_rows` is stored in that order
    within an activity, and a single-table SELECT with a WHERE (also inside
    `safe_select`'s subquery) and COPY keep a table's order (DuckDB's documentation,
    "Order Preservation"), once create_send_rows has turned off the IN-clause rewrite
    that would put a join in it. A sort here was a second one of every audience row (at
    1M customers 0.3 CPU s of the build's 1.0 s of audience lists)."""
    rel = f"audience/{activity_id}.csv"
    target = folder / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    constants = {"channel": channel, "segment": segment}
    cols = ", ".join(f"{mask_value_sql('address')} AS address" if c == "address"
                     else f'{sql_str(constants[c])} AS "{c}"' if c in constants
                     else f'"{c}"' for c in SEND_COLUMNS)
    select = safe_select(
        con, f"SELECT {cols}, strftime(scheduled_at, '%Y-%m-%d %H:%M') AS scheduled_at "
        f"FROM send_rows WHERE activity_id = {sql_str(activity_id)}")
    con.execute(f"COPY ({select}) TO {quote_path(target)} (FORMAT csv, HEADER true)")
    return rel


def write_activity(con: duckdb.DuckDBPyConnection, plan: Plan, ca: CompiledActivity,
                   at: ActivityTemplates | None, r: Rendered, folder: Path | None,
                   as_of: date, owner: str | None = None, root: Path | None = None
                   ) -> ActivityOutput:
    """Keep the rows still to be sent after the final decisions, write the channel's file
    and the audience list into `folder` (None: a dry run), and count the cost."""
    a, ch = ca.activity, ca.channel
    con.execute(f"DELETE FROM {r.table} WHERE customer_id NOT IN (SELECT customer_id FROM "
                f"send_rows WHERE activity_id = {sql_str(a.id)} AND status = 'send')")
    try:
        warnings = list(r.too_long)  # the messages left out as too long (drop_too_long)
        files: list[str] = []
        cost = None
        if r.not_ready is None:
            # The slot the contact plan gave every row (contacts.rules_for), not a query.
            windows = send_windows(a, ch)
            first = first_slot(as_of, windows, plan.blackout_dates)
            slot = first.strftime("%Y-%m-%d %H:%M") if first else None
            ctx = WriteContext(con, plan, a, ch, r.options, as_of,
                               folder if folder is not None else Path("."), r.table, r.parts,
                               scheduled_at=slot,
                               send_hours=day_hours(as_of, windows, plan.blackout_dates))
            try:
                if folder is not None:
                    files = _checked_files(ch.write(ctx), folder, ch)
                units = ch.count_units(ctx)
            except PlanError:
                raise
            except Exception as exc:  # noqa: BLE001 - a channel writer of a plugin failed
                if is_disk_full(exc):
                    raise  # the machine's, not the plugin's: the build says so (E608)
                raise writer_failure(owner or ch.name, ch, exc, root) from None
            price = ch.unit_price(r.options)
            (total,) = con.execute(
                f"SELECT coalesce(sum(cost), 0) FROM send_rows WHERE activity_id = "
                f"{sql_str(a.id)} AND status = 'send'").fetchone()
            cost = {"unit": ch.cost.unit, "units": units, "unit_price": price,
                    "total": round(float(total), 2), "currency": plan.shop.currency}
        else:
            warnings.append(a.src.at("channel").diag(
                "W518", f"activity '{a.id}': no {ch.name} send file written: {r.not_ready}",
                f"only audience/{a.id}.csv lists its customers"))
        if folder is not None:
            files.append(write_audience(con, a.id, ch.name, a.segment, folder))
    finally:
        con.execute(f"DROP VIEW IF EXISTS {rows_view(r.table)}")
        con.execute(f"DROP TABLE IF EXISTS {r.table}")
    return ActivityOutput(files, a.template, list(r.parts), r.renderings, cost,
                          r.not_ready, warnings)


def _checked_files(files, folder: Path, ch) -> list[str]:
    out = []
    for rel in files or []:
        p = (folder / rel).resolve()
        if not p.is_relative_to(folder.resolve()) or not p.is_file():
            raise ValueError(f"channel '{ch.name}' reported a file it did not write inside "
                             f"the output folder: {rel}")
        out.append(Path(rel).as_posix())
    return out


