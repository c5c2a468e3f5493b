"""The data checks' shortcuts find exactly what a full test of every row finds
(crmspec.data.cleaning, crmspec.data.stats; benchmarks/README.md, issue 16).

A build checks a Parquet export with shortcuts: the file's statistics rule out NULLs,
negative amounts, dates after the as-of date and customer ids outside the customers'
range; customers whose integer ids fill a range are known without a join; ids each
greater than the one before are distinct without counting them. Each shortcut is taken
only when it proves its count is 0, so every problem must come out as without it.

The tiny shop (16 customers c01..c16, 21 orders o01..o21) as Parquet files with integer
ids, written four ways: by DuckDB (one row group, statistics); with its timestamps as
INT96 (statistics the checks do not trust); by pyarrow in row groups of four rows; and
by pyarrow without statistics. Each case adds one row at the boundary of a check, on
the side that is a problem and on the side that is not, and must give the same problems
(codes, counts, examples) and rows as the same data read as CSV with text ids, where no
shortcut applies but the ids' order.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from crmspec.build import build

AS_OF = date(2026, 3, 1)
ORDER = "o{id},{customer},{created},{paid},,,{amount},{status},normal"


def order(id="22", customer="c03", created="2026-02-01 10:00:00", paid="2026-02-01 10:05:00",
          amount="70.00", status="paid") -> tuple[str, str]:
    return "orders", ORDER.format(id=id, customer=customer, created=created, paid=paid,
                                  amount=amount, status=status)


def event(customer="c03", type="cart", at="2026-02-20 10:00:00") -> tuple[str, str]:
    return "events", f"{customer},{type},{at},SKU001"


def customer(id: str) -> tuple[str, str]:
    return "customers", (f"c{id},139000000{id},c{id}@qq.com,,n{id},,,F,浙江,1,"
                         "2025-06-01 10:00:00,organic,false,false,false,false,false")


CLEAN_ROWS = {"customers": 16, "orders": 21, "events": 7}
BAD_PHONE = {"customers_bad_phone": 1}  # c13's, in the fixture

# case -> (rows added, problems beyond the fixture's bad phone, rows kept)
CASES = {
    "clean": ([], {}, CLEAN_ROWS),
    "created at the end of the as-of day": (
        [order(created="2026-03-01 23:59:59")], {}, {"orders": 22}),
    "created after the as-of day": (
        [order(created="2026-03-02 00:00:00")], {"orders_after_as_of": 1}, {}),
    "an amount of 0": ([order(amount="0.00")], {}, {"orders": 22}),
    "a negative amount": ([order(amount="-0.01")], {"orders_negative_amount": 1}, {}),
    "no amount": ([order(amount="")], {"orders_missing_values": 1}, {}),
    "no creation time": ([order(created="")], {"orders_missing_values": 1}, {}),
    "no status": ([order(status="")], {"orders_bad_status": 1}, {}),
    "an unknown status": ([order(status="lost")], {"orders_bad_status": 1}, {}),
    "paid without a payment time": (
        [order(paid="")], {"orders_paid_without_time": 1}, {"orders": 22}),
    "closed without a payment time": ([order(paid="", status="closed")], {}, {"orders": 22}),
    "an order of the last customer": ([order(customer="c16")], {}, {"orders": 22}),
    "an order of the first customer": ([order(customer="c01")], {}, {"orders": 22}),
    "an order of a customer after the last": (
        [order(customer="c17")], {"orders_unknown_customer": 1}, {}),
    "an order of a customer before the first": (
        [order(customer="c00")], {"orders_unknown_customer": 1}, {}),
    "an order without a customer": (
        [order(customer="")], {"orders_unknown_customer": 1}, {}),
    "customers with a gap": (  # c18 but no c17: the range is not full, the join decides
        [customer("18"), order(customer="c17"), order(id="23", customer="c18")],
        {"orders_unknown_customer": 1}, {"customers": 17, "orders": 22}),
    "customers without a gap": (
        [customer("17"), order(customer="c17")], {}, {"customers": 17, "orders": 22}),
    "a customer listed twice": (
        [customer("05"), order(customer="c17")],
        {"customers_duplicate_id": 1, "orders_unknown_customer": 1}, {}),
    "an order id listed again": ([order(id="01")], {"orders_duplicate_id": 1}, {}),
    "the last order id again right after it": (  # not greater than the one before
        [order(id="21")], {"orders_duplicate_id": 1}, {"orders": 21}),
    "an order id listed again far from the first": (  # in another row group of four
        [order(id="20"), order(id="99")], {"orders_duplicate_id": 1}, {"orders": 22}),
    "order ids out of order": ([order(id="00")], {}, {"orders": 22}),
    "an event of an unknown customer": (
        [event(customer="c17")], {"events_unknown_customer": 1}, {}),
    "an event of the last customer": ([event(customer="c16")], {}, {"events": 8}),
    "an event at the end of the as-of day": ([event(at="2026-03-01 23:59:59")], {},
                                             {"events": 8}),
    "an event after the as-of day": (
        [event(at="2026-03-02 00:00:00")], {"events_after_as_of": 1}, {}),
    "an event without a time": ([event(at="")], {}, {"events": 7}),  # left out, not reported
    "an event without a type": ([event(type="")], {"events_bad_type": 1}, {}),
}

TYPES = {
    "customers": {"buyer_id": "BIGINT", "birthday": "DATE", "city_tier": "INTEGER",
                  "registered_at": "TIMESTAMP", "opt_out_sms": "BOOLEAN",
                  "opt_out_email": "BOOLEAN", "opt_out_wechat": "BOOLEAN",
                  "opt_out_phone": "BOOLEAN", "opt_out_all": "BOOLEAN"},
    "orders": {"order_id": "BIGINT", "customer_id": "BIGINT", "created_at": "TIMESTAMP",
               "paid_at": "TIMESTAMP", "shipped_at": "TIMESTAMP", "signed_at": "TIMESTAMP",
               "amount": "DECIMAL(12,2)"},
    "events": {"customer_id": "BIGINT", "event_at": "TIMESTAMP"},
}


def _as_parquet(root: Path, writer: str) -> None:
    """The shop's CSV files as typed Parquet files with integer ids (c07 -> 7)."""
    con = duckdb.connect()
    for table, types in TYPES.items():
        csv = root / "data" / f"{table}.csv"
        casts = ", ".join(f"CAST(substr({c}, 2) AS BIGINT) AS {c}" if t == "BIGINT"
                          else f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
        query = (f"SELECT * REPLACE ({casts}) FROM read_csv('{csv}', header = true, "
                 "all_varchar = true)")
        out = root / "data" / f"{table}.parquet"
        if writer in ("duckdb", "int96"):
            con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet"
                        + (", WRITE_TIMESTAMP_AS_INT96 true)" if writer == "int96" else ")"))
        else:
            pq = pytest.importorskip("pyarrow.parquet")
            pq.write_table(con.sql(query).to_arrow_table(), out, row_group_size=4,
                           write_statistics=writer == "arrow groups")
        csv.unlink()
    shop = root / "plans" / "shop.yaml"
    shop.write_text(shop.read_text(encoding="utf-8").replace("source: csv", "source: parquet"),
                    encoding="utf-8")


def _checked(root: Path) -> tuple[dict, dict]:
    """The build's problems (code -> count, examples with ids as numbers) and rows."""
    m = build(root, as_of=AS_OF, dry_run=True).manifest
    return ({p["code"]: (p["count"], [re.sub(r"^[co]0*(\d)", r"\1", e) for e in p["examples"]])
             for p in m["data_problems"]}, m["rows"])


def _add(root: Path, case: str) -> None:
    for table, line in CASES[case][0]:
        with open(root / "data" / f"{table}.csv", "a", encoding="utf-8") as f:
            f.write(line + "\n")


_TEXT: dict[str, tuple[dict, dict]] = {}  # case -> the CSV build's, the same for every writer


@pytest.mark.parametrize("writer", ["duckdb", "int96", "arrow groups", "arrow no statistics"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_parquet_export_is_checked_as_its_rows_say(tiny, tmp_path, case, writer):
    _, problems, rows = CASES[case]
    _add(tiny, case)
    if case not in _TEXT:
        text = tmp_path / "text"
        shutil.copytree(tiny, text)
        _TEXT[case] = _checked(text)
    want, want_kept = _TEXT[case]
    _as_parquet(tiny, writer)
    got, kept = _checked(tiny)
    assert got == want
    assert kept == want_kept
    assert {code: n for code, (n, _) in got.items()} == BAD_PHONE | problems
    if rows:
        assert kept == CLEAN_ROWS | rows


@pytest.mark.parametrize(("ids", "duplicates"), [
    (["7", "8", "9", "10"], 0),  # in order as numbers, not as text
    (["07", "7", "8"], 0),  # equal as numbers, different as text
    (["b", "a10", "a9"], 0),  # in no order: counted
    (["a1", "a2", "a2"], 1),
    (["10", "9", "10"], 1),
])
def test_text_order_ids_are_proven_distinct_only_when_they_are(tiny, ids, duplicates):
    """A CSV export's ids are text: in order as text or as numbers they are distinct;
    otherwise they are counted, and equal numbers written differently are not equal."""
    orders = tiny / "data" / "orders.csv"
    header, *rows = orders.read_text(encoding="utf-8").splitlines()
    body = [re.sub(r"^o\d+", "", r) for r in rows[:len(ids)]]
    orders.write_text("\n".join([header] + [i + r for i, r in zip(ids, body, strict=True)])
                      + "\n", encoding="utf-8")
    got, kept = _checked(tiny)
    assert got.get("orders_duplicate_id", (0,))[0] == duplicates
    assert kept["orders"] == len(ids) - duplicates


def _statements(root: Path) -> dict[str, str]:
    """The checking passes `crmspec.data.sources.attach` runs, by what they start with."""
    from crmspec.data.sources import attach
    from crmspec.validate import validate_project

    plan = validate_project(root).plan
    con = duckdb.connect()
    ran: list[str] = []

    class Recording:
        def execute(self, sql, *args):
            ran.append(" ".join(sql.split()))
            return con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(con, name)

    attach(Recording(), plan.shop.data, root, AS_OF, {})
    passes = {}
    for sql in ran:
        for start in ("SELECT count(*) AS n", "SELECT status,", "SELECT event_type,"):
            if sql.startswith(start):
                passes[start.split()[1].strip(",").replace("count(*)", "customers")] = sql
    passes["ids"] = " ".join(sql for sql in ran if "lag(" in sql)
    return passes


@pytest.mark.parametrize("writer", ["duckdb", "arrow no statistics"])
def test_what_the_statistics_prove_is_not_tested_per_row(tiny, writer):
    """The shortcuts are taken: on the clean tiny shop written by DuckDB (statistics for
    every column) the passes test no date, amount, NULL or customer id per row and join
    nothing; without statistics they test each, but still need no join (the customers'
    ids fill 1..16) and no distinct count (the ids are in order)."""
    _as_parquet(tiny, writer)
    passes = _statements(tiny)
    stats = writer == "duckdb"
    orders, events = passes["status"], passes["event_type"]
    for sql in (passes["customers"], orders, events):
        assert "JOIN" not in sql and "DISTINCT" not in sql
    for test in ("created_at >", "amount < 0", "amount IS NULL", "customer_id > 16"):
        assert (test in orders) is not stats, test
    for test in ("event_at >", "event_at IS NULL", "customer_id > 16"):
        assert (test in events) is not stats, test
    assert ("customer_id IS NULL" in passes["customers"]) is not stats
    assert 'src."buyer_id"' in passes["ids"] and 'src."order_id"' in passes["ids"]


def test_customers_with_a_gap_are_joined(tiny):
    _add(tiny, "customers with a gap")
    _as_parquet(tiny, "duckdb")
    passes = _statements(tiny)
    assert "LEFT JOIN" in passes["status"] and "LEFT JOIN" in passes["event_type"]


def test_a_rerun_reads_the_statistics_from_the_checks_cache(tiny, monkeypatch):
    """The files' statistics are kept with the checks' results, by the identity of every
    source file (crmspec.data.checkcache): a re-run on the same files reads them from
    state/checks.json, never for a changed file. Seen through the default as-of date,
    the day after the latest order by the orders' created_at statistics."""
    from crmspec.data import checkcache

    monkeypatch.setattr(checkcache, "RACY_SECONDS", 0.0)
    _as_parquet(tiny, "duckdb")
    shop = tiny / "plans" / "shop.yaml"
    shop.write_text(shop.read_text(encoding="utf-8").replace('as_of: "2026-03-01"',
                                                             "as_of: latest"), encoding="utf-8")
    orders = tiny / "data" / "orders.parquet"
    first = build(tiny).as_of
    [(latest,)] = duckdb.sql(f"SELECT CAST(max(created_at) AS VARCHAR) FROM '{orders}'"
                             ).fetchall()
    assert first == date.fromisoformat(latest[:10]) + timedelta(days=1)
    cache = tiny / "state" / "checks.json"
    text = cache.read_text(encoding="utf-8")
    assert text.count(f'"{latest}"') == 1  # the orders' statistics, stored
    cache.write_text(text.replace(f'"{latest}"', '"2027-01-01 09:00:00"'), encoding="utf-8")
    assert build(tiny, dry_run=True).as_of == date(2027, 1, 2)  # read from the cache
    # the same rows four days later: a new file, its own statistics
    moved = tiny / "data" / "moved.parquet"
    duckdb.execute(f"COPY (SELECT * REPLACE (created_at + INTERVAL 4 DAY AS created_at) "
                   f"FROM '{orders}') TO '{moved}' (FORMAT parquet)")
    moved.replace(orders)
    assert build(tiny, dry_run=True).as_of == first + timedelta(days=4)


def test_the_cached_statistics_are_those_of_the_columns_the_mapping_reads(tiny, monkeypatch):
    """The same files under another mapping: the statistics of the column it now reads,
    not the cached ones of the column it read before (the key holds the columns asked)."""
    from crmspec.data import checkcache

    monkeypatch.setattr(checkcache, "RACY_SECONDS", 0.0)
    _as_parquet(tiny, "duckdb")
    orders = tiny / "data" / "orders.parquet"
    later = tiny / "data" / "later.parquet"
    duckdb.execute(f"COPY (SELECT *, created_at + INTERVAL 10 DAY AS created_later FROM "
                   f"'{orders}') TO '{later}' (FORMAT parquet)")
    later.replace(orders)
    shop = tiny / "plans" / "shop.yaml"
    text = shop.read_text(encoding="utf-8").replace('as_of: "2026-03-01"', "as_of: latest")
    shop.write_text(text, encoding="utf-8")
    first = build(tiny).as_of
    shop.write_text(text.replace("    customers: {customer_id: buyer_id, phone: mobile}",
                                 "    customers: {customer_id: buyer_id, phone: mobile}\n"
                                 "    orders: {created_at: created_later}"), encoding="utf-8")
    assert build(tiny, dry_run=True).as_of == first + timedelta(days=10)
