"""Small edits of a copied fixture shop and the production-path look-ups the boundary
tests share: a plan file edited in place, a data file extended, a segment's members
read with the compiled SQL on the build's own `features` table, and the statuses a
build gave an activity's candidates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from crmspec.engine.decide import decide_contacts
from crmspec.engine.run import run_plan
from crmspec.engine.session import open_session
from crmspec.plugins import get_plugin_manager

# Source of a connection wrapper for a subprocess that must die inside crmspec's
# ledger transaction: it kills the process when COMMIT is about to be executed.
DIES_BEFORE_COMMIT = r"""
import os, signal


class DiesBeforeCommit:
    def __init__(self, con):
        self.con = con

    def execute(self, sql, *args):
        if sql.strip() == "COMMIT":
            os.kill(os.getpid(), signal.SIGKILL)
        return self.con.execute(sql, *args)
"""


def edit(root: Path, name: str, old: str, new: str) -> None:
    """Replace the first `old` in plans/<name> (which must hold it) by `new`."""
    path = root / "plans" / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(root: Path, name: str, text: str) -> None:
    """Add `text` at the end of plans/<name>."""
    path = root / "plans" / name
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def add_rows(root: Path, name: str, lines: str) -> None:
    """Add CSV lines to data/<name> (the fixture's files end with a newline)."""
    with open(root / "data" / name, "a", encoding="utf-8", newline="") as f:
        f.write(lines)


def members(root: Path, *segments: str, as_of: date | None = None) -> dict[str, list[str]]:
    """Customer ids per segment, as the build decides membership: the segment's compiled
    condition over the `features` table the build's statements create."""
    pm = get_plugin_manager(root, entry_points=False)
    with open_session(root, as_of, pm=pm) as (con, prepared):
        run_plan(con, prepared.compiled, prepared.plan)
        return {sid: [r[0] for r in con.execute(
            f"SELECT customer_id FROM features WHERE coalesce(({prepared.compiled.segments[sid]}),"
            " false) ORDER BY customer_id").fetchall()] for sid in segments}


def decisions(root: Path, as_of: date | None = None) -> dict[str, dict[str, str]]:
    """{activity: {customer: status}} for every candidate, as a build decides them: the
    session, the plan run and the contact pass a build runs (`sends`), nothing recorded."""
    pm = get_plugin_manager(root, entry_points=False)
    with open_session(root, as_of, pm=pm) as (con, p):
        run_plan(con, p.compiled, p.plan)
        decide_contacts(con, p.plan, p.compiled, p.templates)
        out: dict[str, dict[str, str]] = {ca.activity.id: {} for ca in p.compiled.activities}
        for aid, cid, status in con.execute(
                "SELECT activity_id, customer_id, status FROM sends ORDER BY 1, 2").fetchall():
            out[aid][cid] = status
        return out
