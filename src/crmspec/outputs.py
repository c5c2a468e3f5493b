"""Write a build's outputs atomically and deterministically.

Everything is written into a temporary sibling folder and swapped into place at the
end, so a build that crashes or is killed leaves the previous outputs untouched. Files
hold no timestamps or run ids and rows are ordered by customer id: the same plan, data
and as-of date give the same bytes.

Per activity the build writes:
- the channel's send file(s), by the channel's writer (`crmspec.channels`): e.g.
  `sms/<activity>.csv` (phone, content, scheduled_at, segments) for an SMS gateway,
  from the activity's rows with its messages rendered set-based (`crmspec.templates`);
  not written (warning W518) when the channel lacks what it needs, e.g. a template;
- `audience/<activity>.csv`: who is contacted and why (customer id, address, segment,
  stage, type, tier, purchases, spend, recency, RFM), for review and evaluation.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterator

import duckdb

from crmspec.channels import WriteContext
from crmspec.channels.base import quote_path, rows_view, sql_ident, sql_str
from crmspec.compile import ROW_ATTRIBUTES, CompiledActivity, CompiledPlan
from crmspec.contacts import send_windows
from crmspec.diagnostics import Diagnostic, PlanError
from crmspec.model import Plan, channel_options
from crmspec.plugins import writer_failure
from crmspec.schedule import first_slot
from crmspec.templates import ActivityTemplates, create_rows, create_send_values, over_limit

SEND_COLUMNS = ("customer_id", "activity_id", "channel", "address", "segment") + ROW_ATTRIBUTES


def _recover(out_dir: Path) -> None:
    """Finish a swap that was interrupted between its two renames."""
    if out_dir.exists():
        return
    olds = sorted(out_dir.parent.glob(f".{out_dir.name}.old-*"))
    if olds:
        os.replace(olds[-1], out_dir)


@contextmanager
def atomic_dir(out_dir: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder that replaces `out_dir` only if the block succeeds."""
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _recover(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out_dir.exists():
        # mkdtemp reserves a unique name; the empty folder is then replaced by out_dir.
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


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


def create_send_rows(con: duckdb.DuckDBPyConnection) -> None:
    """`send_rows`: the contacts to list in audience files (status send or not_sent) with
    the customers' attributes, ordered by activity and customer: each activity's list
    is then one contiguous slice (the other 1M candidate rows never join `features`)."""
    attributes = ", ".join(f'f."{c}"' for c in ROW_ATTRIBUTES)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE send_rows AS
        SELECT d.customer_id, d.activity_id, d.channel, d.address, d.segment, {attributes},
          d.scheduled_at, d.status, d.cost
        FROM decisions d JOIN features f USING (customer_id)
        WHERE d.status IN ('send', 'not_sent') ORDER BY d.activity_id, d.customer_id""")


def write_audience(con: duckdb.DuckDBPyConnection, activity_id: str, folder: Path) -> str:
    """audience/<activity>.csv: who is contacted and why (stage, type, tier, RFM...), and
    when; for an activity without a send file (`not_sent`), who would have been."""
    rel = f"audience/{activity_id}.csv"
    target = folder / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    cols = ", ".join(f'"{c}"' for c in SEND_COLUMNS)
    con.execute(
        f"COPY (SELECT {cols}, strftime(scheduled_at, '%Y-%m-%d %H:%M') AS scheduled_at "
        f"FROM send_rows WHERE activity_id = {sql_str(activity_id)} "
        f"ORDER BY customer_id) TO {quote_path(target)} "
        "(FORMAT csv, HEADER true)"
    )
    return rel


@dataclass
class Rendered:
    """An activity's send rows with their messages, before the final decisions."""

    table: str  # quoted name of the rows table
    parts: tuple[str, ...]
    renderings: int
    options: dict
    not_ready: str | None  # why the channel cannot write its file (None: it can)


def activity_options(plan: Plan, ca: CompiledActivity, at: ActivityTemplates | None) -> dict:
    return at.options if at else channel_options(plan, ca.activity,
                                                 ca.channel.option_defaults())


def not_ready(plan: Plan, ca: CompiledActivity, at: ActivityTemplates | None) -> str | None:
    """Why the activity's channel cannot write a send file, decided before any row."""
    parts = tuple(sorted(at.parts)) if at and at.parts else ()
    return ca.channel.not_ready(ca.activity, activity_options(plan, ca, at), parts)


def render_activity(con: duckdb.DuckDBPyConnection, plan: Plan, ca: CompiledActivity,
                    at: ActivityTemplates | None, as_of: date,
                    values: str | None = None) -> Rendered:
    """Create `rows_<activity>` from `sends` (status 'send'), messages rendered set-based.

    `values`: the send-values table of `render_activities` (one features join for all)."""
    table = sql_ident(f"rows_{ca.activity.id}")
    result = create_rows(con, plan, ca.activity, table, at, as_of, values)
    options = activity_options(plan, ca, at)
    return Rendered(table, result.parts, result.renderings, options,
                    ca.channel.not_ready(ca.activity, options, result.parts))


def render_activities(con: duckdb.DuckDBPyConnection, plan: Plan, compiled: CompiledPlan,
                      templates: dict[str, ActivityTemplates],
                      activities: list[CompiledActivity] | None = None) -> dict[str, Rendered]:
    """`render_activity` of the given activities (default: all), their send rows joined
    with `features` once."""
    activities = compiled.activities if activities is None else activities
    values = create_send_values(con, {ca.activity.id: templates[ca.activity.id]
                                      for ca in activities if ca.activity.id in templates})
    try:
        return {ca.activity.id: render_activity(con, plan, ca, templates.get(ca.activity.id),
                                                compiled.as_of, values)
                for ca in activities}
    finally:
        con.execute(f"DROP TABLE IF EXISTS {values}")


def priced_by_message(ca: CompiledActivity, options: dict, not_ready: str | None) -> bool:
    """Whether a contact's cost depends on its rendered message (SMS: its segments).

    Such activities are rendered before the budgets, which need each contact's cost;
    every other contact costs the activity's expected unit cost (`contacts.ActivityRule`)
    exactly, so its messages are rendered after the budgets, for the contacts kept."""
    return not_ready is None and ca.channel.units_sql(options).strip() != "1"


def cost_sql(plan: Plan, ca: CompiledActivity, r: Rendered) -> str | None:
    """SELECT activity_id, customer_id, cost: each row's units x price plus the coupon's
    amount x expected redemption (the budget's view of a contact). None unless the cost
    depends on the message (`priced_by_message`): the expected unit cost is then exact."""
    ch, a = ca.channel, ca.activity
    if not priced_by_message(ca, r.options, r.not_ready):
        return None
    units = ch.units_sql(r.options)
    coupon = a.coupon or {}
    coupon_cost = float(coupon.get("amount", 0)) * float(coupon.get("expected_redemption", 0))
    return (f"SELECT {sql_str(a.id)} AS activity_id, customer_id, "
            f"CAST({ch.unit_price(r.options)!r} * ({units}) + {coupon_cost!r} AS DOUBLE) "
            f"AS cost FROM {r.table}")


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
        warnings = over_limit(con, r.table, at, r.parts)
        files: list[str] = []
        cost = None
        if r.not_ready is None:
            # The slot the contact plan gave every row (contacts.rules_for), not a query.
            first = first_slot(as_of, send_windows(a, ch), plan.blackout_dates)
            slot = first.strftime("%Y-%m-%d %H:%M") if first else None
            ctx = WriteContext(con, plan, a, ch, r.options, as_of,
                               folder if folder is not None else Path("."), r.table, r.parts,
                               scheduled_at=slot)
            try:
                if folder is not None:
                    files = _checked_files(ch.write(ctx), folder, ch)
                units = ch.count_units(ctx)
            except PlanError:
                raise
            except Exception as exc:  # noqa: BLE001 - a channel writer of a plugin failed
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
            files.append(write_audience(con, a.id, folder))
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


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
