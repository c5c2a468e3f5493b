"""Evaluations kept in the ledger (table `evaluations`) for the SOP battle record."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from crmspec.analysis.evaluate.results import COLUMNS, EvalRow
from crmspec.core.sql import sql_str

STORE_SQL = """CREATE TABLE IF NOT EXISTS evaluations (
    evaluated_as_of DATE NOT NULL,
    level VARCHAR NOT NULL, activity VARCHAR NOT NULL, run DATE, runs INTEGER,
    window_days INTEGER, sent_at TIMESTAMP, window_closes TIMESTAMP, status VARCHAR,
    treatment BIGINT, control BIGINT, treatment_responders BIGINT,
    control_responders BIGINT, treatment_rate DOUBLE, control_rate DOUBLE, uplift DOUBLE,
    uplift_low DOUBLE, uplift_high DOUBLE, relative_uplift DOUBLE, relative_low DOUBLE,
    relative_high DOUBLE, p_value DOUBLE, q_value DOUBLE, fdr_status VARCHAR,
    treatment_revenue DOUBLE, revenue_per_responder DOUBLE, incremental_orders DOUBLE,
    incremental_revenue DOUBLE, cost DOUBLE, roi DOUBLE, power DOUBLE, underpowered BOOLEAN,
    needed_audience BIGINT, runs_needed BIGINT, true_uplift DOUBLE, expected_uplift DOUBLE,
    note VARCHAR
)"""


def store(ledger_path: Path, as_of: date, rows: list[EvalRow], activities: list[str] | None
          ) -> None:
    """Replace the stored evaluations of the evaluated activities (all: the whole table)
    with these rows, in one transaction."""
    con = duckdb.connect(str(ledger_path))
    try:
        present = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'evaluations' "
            "AND schema_name = 'main' ORDER BY column_index").fetchall()]
        if present and present != ["evaluated_as_of", *COLUMNS]:
            # written by another crmspec version: derived data, rebuilt from the ledger
            con.execute("DROP TABLE evaluations")
        con.execute(STORE_SQL)
        con.execute("BEGIN TRANSACTION")
        try:
            if activities is None:
                con.execute("DELETE FROM evaluations")
            else:
                con.execute("DELETE FROM evaluations WHERE activity IN ("
                            + ", ".join(sql_str(a) for a in activities) + ")")
            marks = ", ".join("?" for _ in range(len(COLUMNS) + 1))
            con.executemany(f"INSERT INTO evaluations (evaluated_as_of, {', '.join(COLUMNS)}) "
                            f"VALUES ({marks})",
                            [[as_of] + [getattr(r, c) for c in COLUMNS] for r in rows])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
