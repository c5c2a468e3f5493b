"""The send files' and audience lists' row order without second sorts: `send_rows` is
stored in activity and customer order once, and the audience lists copy their slice of
it as stored (crmspec.outputs.write)."""

import csv

import duckdb

from crmspec.compile import ROW_ATTRIBUTES
from crmspec.core.mask import mask_value_sql
from crmspec.outputs.write import SEND_COLUMNS, create_send_rows, write_audience

CHANNELS = {"winback": "email", "care": "sms"}


def _shuffled_decisions(con, n: int = 6000) -> None:
    """`decisions` and `features` of n customers with integer ids (9 sorts before 10),
    two activities each, inserted in an order unrelated to the ids; a fifth of the rows
    held out (control), which no audience list shows."""
    con.execute(f"""CREATE TABLE features AS SELECT i AS customer_id,
        (['active', 'silent'])[i % 2 + 1] AS stage, 'returning' AS customer_type,
        CASE WHEN i % 3 = 0 THEN 'vip1' END AS tier, i % 5 AS purchases,
        CAST(i / 7 AS DECIMAL(14, 2)) AS spend, i % 30 AS days_since_last_purchase,
        i % 5 + 1 AS r, i % 4 + 1 AS f, i % 3 + 1 AS m
        FROM range(1, {n + 1}) t(i) ORDER BY hash(i)""")
    con.execute("""CREATE TABLE decisions AS SELECT f.customer_id, a.activity_id,
        a.channel, CASE a.channel
          WHEN 'sms' THEN '138' || lpad(CAST(f.customer_id AS VARCHAR), 8, '0')
          ELSE 'u' || f.customer_id || '@qq.com' END AS address,
        a.activity_id || '_all' AS segment, TIMESTAMP '2026-07-01 10:00' AS scheduled_at,
        CASE WHEN f.customer_id % 5 = 0 THEN 'control'
             WHEN a.channel = 'email' AND f.customer_id % 7 = 0 THEN 'not_sent'
             ELSE 'send' END AS status, CAST(0.05 AS DECIMAL(12, 4)) AS cost
        FROM features AS f,
          (VALUES ('winback', 'email'), ('care', 'sms')) AS a(activity_id, channel)
        ORDER BY hash(f.customer_id, a.activity_id)""")


def test_audience_lists_are_the_sorted_slices_of_send_rows(tmp_path):
    """6,000 customers; and 150,000 on four threads, where DuckDB scans row groups in
    parallel: the test of a cell's first character (`safe_cell_sql`, an IN list of six
    code points) became a MARK join that put the slices out of order, differently on each
    run, until create_send_rows turned that rewrite off."""
    for n, threads in ((6000, 1), (150_000, 4)):
        con = duckdb.connect(config={"threads": threads})
        try:
            _shuffled_decisions(con, n)
            create_send_rows(con)
            for attempt in range(3 if n > 6000 else 1):
                for activity in ("winback", "care"):
                    rel = write_audience(con, activity, CHANNELS[activity],
                                         f"{activity}_all", tmp_path)
                    with open(tmp_path / rel, encoding="utf-8", newline="") as f:
                        ids = [int(r["customer_id"]) for r in csv.DictReader(f)]
                    assert ids == [i for i in range(1, n + 1) if i % 5 != 0], (n, attempt)
        finally:
            con.close()


def test_audience_lists_write_the_bytes_of_a_sorted_copy(tmp_path):
    con = duckdb.connect()
    try:
        _shuffled_decisions(con)
        create_send_rows(con)
        for activity in ("winback", "care"):
            rel = write_audience(con, activity, CHANNELS[activity], f"{activity}_all",
                                 tmp_path)
            with open(tmp_path / rel, encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
            ids = [int(r["customer_id"]) for r in rows]
            # every row sent or listed as not sent, in the numbers' order, the held-out not
            want = [i for i in range(1, 6001) if i % 5 != 0]
            assert ids == want
            # the same bytes as the list sorted by the COPY itself (the former query), with
            # the channel and segment of `decisions` (send_rows does not store them)
            cols = ", ".join(f"{mask_value_sql('address')} AS address" if c == "address"
                             else f'"{c}"' for c in SEND_COLUMNS)
            sorted_copy = tmp_path / f"{activity}_sorted.csv"
            con.execute(f"COPY (SELECT {cols}, strftime(scheduled_at, '%Y-%m-%d %H:%M') AS "
                        f"scheduled_at FROM (SELECT s.*, d.channel, d.segment FROM send_rows s "
                        f"JOIN decisions d USING (customer_id, activity_id)) "
                        f"WHERE activity_id = '{activity}' ORDER BY customer_id) "
                        f"TO '{sorted_copy}' (FORMAT csv, HEADER true)")
            assert (tmp_path / rel).read_bytes() == sorted_copy.read_bytes()
        assert rows[0]["address"] == "138****0001" and rows[0]["stage"] == "silent"
        assert list(rows[0]) == list(SEND_COLUMNS) + ["scheduled_at"]
        assert set(ROW_ATTRIBUTES) <= set(rows[0])
    finally:
        con.close()
