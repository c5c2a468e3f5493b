"""The contact ledger: one run per as-of date, replaced on re-run, atomic."""

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from shop_edits import DIES_BEFORE_COMMIT

from crmspec.contact.ledger import attach_ledger, check_order, history_view, latest_run, record_run
from crmspec.core.diagnostics import PlanError, Src
from crmspec.plan.load import load_text

SRC = Src(load_text("ledger:\n  path: state/ledger.duckdb\n", "plans/shop.yaml"), ("ledger",))


def decisions(con, rows):
    con.execute("CREATE OR REPLACE TEMP TABLE decisions (activity_id VARCHAR, customer_id "
                "VARCHAR, channel VARCHAR, grp VARCHAR, service BOOLEAN, stage VARCHAR, "
                "scheduled_at TIMESTAMP, cost DECIMAL(12,4), status VARCHAR)")
    con.executemany("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def row(activity, customer, status, grp="treatment", cost=0.05):
    return (activity, customer, "sms", grp, False, "active", "2026-07-01 10:00:00",
            cost if status == "send" else 0, status)


def test_record_replace_and_history(tmp_path):
    path = tmp_path / "state/ledger.duckdb"
    con = duckdb.connect()
    attach_ledger(con, path, read_only=False)
    decisions(con, [row("a", "c1", "send"), row("a", "c2", "control", "control"),
                    row("a", "c3", "opted_out")])
    record_run(con, date(2026, 7, 1), "decisions", "p1", "d1")
    assert con.execute("SELECT customer_id, grp, CAST(cost AS DOUBLE) FROM ledger.contacts "
                       "ORDER BY 1"
                       ).fetchall() == [("c1", "treatment", 0.05), ("c2", "control", 0)]
    assert con.execute("SELECT contacts, controls, CAST(cost AS DOUBLE) FROM ledger.runs"
                       ).fetchall() == [
        (1, 1, 0.05)]
    # re-running the same date replaces its records
    decisions(con, [row("a", "c4", "send")])
    record_run(con, date(2026, 7, 1), "decisions", "p1", "d1")
    assert con.execute("SELECT customer_id FROM ledger.contacts").fetchall() == [("c4",)]
    record_run(con, date(2026, 7, 2), "decisions", "p1", "d1")
    assert latest_run(con) == date(2026, 7, 2)
    history_view(con, date(2026, 7, 2))
    assert con.execute("SELECT as_of FROM history").fetchall() == [(date(2026, 7, 1),)]


def test_earlier_build_is_refused_unless_forced(tmp_path):
    con = duckdb.connect()
    attach_ledger(con, tmp_path / "l.duckdb", read_only=False)
    decisions(con, [row("a", "c1", "send")])
    record_run(con, date(2026, 7, 5), "decisions", "p", "d")
    with pytest.raises(PlanError) as err:
        check_order(con, date(2026, 7, 4), False, SRC)
    assert err.value.diagnostics[0].text().startswith(
        "plans/shop.yaml:2:3: error[E601]: the ledger already holds a run as of 2026-07-05, "
        "after 2026-07-04")
    check_order(con, date(2026, 7, 4), True, SRC)  # forced
    check_order(con, date(2026, 7, 5), False, SRC)  # the same date is a re-run


def test_read_only_use_creates_nothing(tmp_path):
    path = tmp_path / "state/ledger.duckdb"
    con = duckdb.connect()
    attach_ledger(con, path, read_only=True)
    assert latest_run(con) is None
    assert not path.exists()


def test_failure_inside_the_transaction_changes_nothing(tmp_path):
    con = duckdb.connect()
    attach_ledger(con, tmp_path / "l.duckdb", read_only=False)
    decisions(con, [row("a", "c1", "send")])
    record_run(con, date(2026, 7, 1), "decisions", "p", "d")
    con.execute("CREATE OR REPLACE TEMP TABLE bad AS SELECT * FROM decisions")
    con.execute("ALTER TABLE bad DROP COLUMN cost")  # the INSERT will fail after the DELETE
    with pytest.raises(duckdb.Error):
        record_run(con, date(2026, 7, 1), "bad", "p", "d")
    assert con.execute("SELECT customer_id FROM ledger.contacts").fetchall() == [("c1",)]


# A re-run of 2026-07-01 through crmspec's record_run, on a connection that kills the
# process right after the last statement before COMMIT: were any statement of the run
# committed on its own, the ledger would no longer hold the previous run.
KILLER = DIES_BEFORE_COMMIT + r"""
import sys
from datetime import date
from pathlib import Path
import duckdb
from crmspec.contact.ledger import attach_ledger, record_run

con = duckdb.connect()
attach_ledger(con, Path(sys.argv[1]), read_only=False)
con.execute("CREATE TEMP TABLE decisions AS SELECT 'a' AS activity_id, 'x' || range AS "
            "customer_id, 'sms' AS channel, 'treatment' AS grp, false AS service, "
            "'active' AS stage, NULL::TIMESTAMP AS scheduled_at, 0.05 AS cost, "
            "'send' AS status FROM range(200000)")
record_run(DiesBeforeCommit(con), date(2026, 7, 1), "decisions", "p2", "d2")
"""


def test_killed_mid_transaction_leaves_the_previous_run(tmp_path):
    """Ledger rule: a run's records change in one transaction. A re-run killed after
    its DELETEs and INSERTs, before COMMIT, leaves the previous run whole."""
    path = tmp_path / "l.duckdb"
    con = duckdb.connect()
    attach_ledger(con, path, read_only=False)
    decisions(con, [row("a", "c1", "send")])
    record_run(con, date(2026, 7, 1), "decisions", "p", "d")
    con.close()
    proc = subprocess.run([sys.executable, "-c", KILLER, str(path)])
    assert proc.returncode == -9
    con = duckdb.connect()
    attach_ledger(con, Path(path), read_only=False)
    assert con.execute("SELECT customer_id FROM ledger.contacts").fetchall() == [("c1",)]
    assert con.execute("SELECT as_of, plan_hash, contacts FROM ledger.runs").fetchall() == [
        (date(2026, 7, 1), "p", 1)]
