"""The contact ledger: what every build sent and held out, kept across builds.

Limits, cooldowns, "the contact goes once" windows, month-to-date budgets, and the
evaluation of control groups all read it. It is a DuckDB file in the project
(shop.yaml `ledger.path`, default `state/ledger.duckdb`), attached to the build's
connection as `ledger`.

Rules:
- one run per as-of date: re-running a date replaces that run's records, so a re-run
  gives the same outputs and leaves no duplicates;
- a build dated before the latest recorded run is refused unless forced (the past
  would be rewritten while later runs already read it);
- a run's records change in one transaction: a build killed at any moment leaves the
  ledger as it was before, or with the whole new run;
- the transaction also records the run as pending (`ledger.pending`: the output folder
  and the complete temporary folder that is to replace it); the build clears it once
  the folder is swapped in, and the next build finishes or reports a run still pending
  (`crmspec.outputs.runstate`), so the ledger and out/ never disagree silently;
- records hold customer ids, never contact details.
"""

from __future__ import annotations

import fcntl
import os
from datetime import date
from pathlib import Path

import duckdb

from crmspec.core.diagnostics import Diagnostic, PlanError, Src

DEFAULT_PATH = "state/ledger.duckdb"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ledger.runs (
        as_of DATE PRIMARY KEY,
        plan_hash VARCHAR NOT NULL,
        data_fingerprint VARCHAR NOT NULL,
        contacts BIGINT NOT NULL,
        controls BIGINT NOT NULL,
        cost DECIMAL(14, 4) NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ledger.contacts (
        as_of DATE NOT NULL,
        activity_id VARCHAR NOT NULL,
        customer_id VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        grp VARCHAR NOT NULL,            -- treatment | control
        service BOOLEAN NOT NULL,        -- exempt from marketing limits
        stage VARCHAR,                   -- the customer's stage when contacted
        scheduled_at TIMESTAMP,
        cost DECIMAL(12, 4) NOT NULL     -- 0 for the control group
    )""",
    # The member tiers' changes, so that the next build sees who moved up since: a row
    # is a customer's tier from that run on (0: below every tier), written when it
    # differs from the customer's tier before (tiers_as_of). A row per member per build
    # was most of the ledger's writes (1M customers: 0.7 s a build) to repeat itself.
    """CREATE TABLE IF NOT EXISTS ledger.tiers (
        as_of DATE NOT NULL,
        customer_id VARCHAR NOT NULL,
        tier_rank INTEGER NOT NULL
    )""",
)
# A run recorded whose output folder was not swapped into place yet (at most one row).
PENDING_SCHEMA = """CREATE TABLE IF NOT EXISTS ledger.pending (
        as_of DATE NOT NULL,
        out_dir VARCHAR NOT NULL,        -- the output folder the run's files replace
        tmp_dir VARCHAR NOT NULL         -- the complete folder that replaces it
    )"""

# The columns a build's `decisions` table provides for recording.
RECORD_COLUMNS = ("activity_id", "customer_id", "channel", "grp", "service", "stage",
                  "scheduled_at", "cost")


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def attach_ledger(con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
    """Attach the ledger as `ledger`; an absent ledger is an empty one.

    Read-only use (dry runs, explain) of a ledger that does not exist yet attaches an
    empty in-memory stand-in, so that nothing is created on disk.
    """
    if read_only and not path.exists():
        con.execute("ATTACH ':memory:' AS ledger")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = " (READ_ONLY)" if read_only else ""
        try:
            con.execute(f"ATTACH {_quote(path)} AS ledger{mode}")
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            raise PlanError([ledger_busy(path)]) from None
    if not read_only or not path.exists():
        for statement in SCHEMA + (PENDING_SCHEMA,):
            con.execute(statement)


def ledger_busy(path: Path) -> Diagnostic:
    """E607: the ledger file is locked by another process (a build, or a program that
    opened it); the build lock's file says which build when there is one."""
    holder = lock_holder(path)
    who = f"another build is running ({holder})" if holder else \
        "another process has the contact ledger open"
    return Diagnostic(str(path), 1, 1, "E607", f"{who}: the ledger cannot be opened",
                      "wait for it to finish and run again; the ledger and out/ are unchanged")


def lock_path(ledger: Path) -> Path:
    """The build lock of a ledger: `<ledger>.lock` beside it."""
    return ledger.with_name(ledger.name + ".lock")


def lock_holder(ledger: Path) -> str | None:
    """'pid N, started at T' as the build holding the lock wrote it; None when no build
    holds it (the file of a finished or killed build is not a lock: flock is)."""
    try:
        fd = os.open(lock_path(ledger), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "pid unknown"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def latest_audiences(path: Path) -> tuple[date, dict[str, int]] | None:
    """The as-of date of the ledger's latest run and, per activity, the customers it
    contacted or held out; None when there is no ledger or no run in it. Opened read
    only; raises duckdb.Error when the file cannot be read (another build writing it)."""
    if not path.is_file():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
        if not {"runs", "contacts"} <= tables:
            return None
        (latest,) = con.execute("SELECT max(as_of) FROM runs").fetchone()
        if latest is None:
            return None
        sizes = dict(con.execute("SELECT activity_id, count(*) FROM contacts WHERE as_of = ? "
                                 "GROUP BY activity_id ORDER BY activity_id", [latest]).fetchall())
        return latest, sizes
    finally:
        con.close()


def latest_run(con: duckdb.DuckDBPyConnection) -> date | None:
    return con.execute("SELECT max(as_of) FROM ledger.runs").fetchone()[0]


def check_order(con: duckdb.DuckDBPyConnection, as_of: date, force: bool, src: Src) -> None:
    """Refuse a build dated before the latest recorded run, unless forced."""
    latest = latest_run(con)
    if latest is not None and as_of < latest and not force:
        raise PlanError([src.diag(
            "E601", f"the ledger already holds a run as of {latest.isoformat()}, after "
            f"{as_of.isoformat()}",
            "later runs read the ledger: rebuilding the past would change what they saw; "
            "use --force if you mean it, or --dry-run to look without recording")])


def previous_run(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """The latest run before `as_of`: the one whose tiers tier upgrades compare with."""
    return con.execute("SELECT max(as_of) FROM ledger.runs WHERE as_of < ?",
                       [as_of]).fetchone()[0]


def history_view(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """`history`: the ledger's records of earlier runs (a re-run ignores its own)."""
    con.execute(
        "CREATE OR REPLACE TEMP VIEW history AS SELECT * FROM ledger.contacts "
        f"WHERE as_of < DATE '{as_of.isoformat()}'"
    )


def record_run(con: duckdb.DuckDBPyConnection, as_of: date, decisions: str, plan_hash: str,
               fingerprint: str, tiers: str | None = None,
               pending: tuple[Path, Path] | None = None) -> None:
    """Replace the run of `as_of` with the contacts and controls in table `decisions`.

    `decisions` must have RECORD_COLUMNS and a `status` column; rows with status
    'send' (treatment) or 'control' are recorded; `tiers` (a table with customer_id and
    tier_rank, e.g. the build's facts) gives the members' tiers, of which the changes
    since the tiers recorded before `as_of` are recorded. `pending`: (output
    folder, complete temporary folder) recorded with the run until `finish_run`. One
    transaction: a failed COMMIT (a full disk) is raised as itself, not hidden by the
    rollback that follows it.
    """
    # Imported here: `crmspec validate` reads the ledger and need not load the compiler.
    from crmspec.compile.facts import tiers_as_of

    day = f"DATE '{as_of.isoformat()}'"
    cols = ", ".join(RECORD_COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM ledger.contacts WHERE as_of = {day}")
        con.execute(f"DELETE FROM ledger.runs WHERE as_of = {day}")
        con.execute(f"DELETE FROM ledger.tiers WHERE as_of = {day}")
        if tiers:
            con.execute(
                f"INSERT INTO ledger.tiers SELECT {day}, t.customer_id, t.tier_rank "
                f"FROM {tiers} AS t LEFT JOIN ({tiers_as_of(day, before=True)}) AS p "
                "USING (customer_id) WHERE t.tier_rank <> coalesce(p.tier_rank, 0) "
                "ORDER BY t.customer_id")
        con.execute(
            f"INSERT INTO ledger.contacts (as_of, {cols}) SELECT {day}, {cols} FROM {decisions} "
            "WHERE status IN ('send', 'control') ORDER BY activity_id, customer_id"
        )
        con.execute(
            f"INSERT INTO ledger.runs SELECT {day}, ?, ?, "
            "count(*) FILTER (WHERE grp = 'treatment'), count(*) FILTER (WHERE grp = 'control'), "
            f"coalesce(sum(cost), 0) FROM ledger.contacts WHERE as_of = {day}",
            [plan_hash, fingerprint],
        )
        con.execute("DELETE FROM ledger.pending")
        if pending is not None:
            con.execute("INSERT INTO ledger.pending VALUES (?, ?, ?)",
                        [as_of, str(pending[0]), str(pending[1])])
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the failed statement (or COMMIT) ended the transaction already
        raise


def finish_run(con: duckdb.DuckDBPyConnection) -> None:
    """The recorded run's folder is in place: nothing is pending any more."""
    con.execute("DELETE FROM ledger.pending")
