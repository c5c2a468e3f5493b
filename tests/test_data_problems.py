"""Every kind of data problem is counted with examples, the bad rows are left out, and
the build goes on (or stops under --strict)."""

from datetime import date

import pytest

from crmspec.build import build
from crmspec.core.diagnostics import PlanError


def add_lines(path, *lines):
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


@pytest.fixture
def dirty(tiny):
    data = tiny / "data"
    add_lines(data / "customers.csv",
              # c01 again (registered later: the first row is kept), an id-less row,
              # a malformed email
              "c01,13800000099,x@qq.com,,dup,张一,,F,浙江,1,2025-06-01 10:00:00,organic,"
              "false,false,false,false,false",
              ",13800000098,,,noid,,,F,浙江,1,2025-06-01 10:00:00,organic,"
              "false,false,false,false,false",
              "c17,13800000017,broken-at-qq.com,,n17,,,F,浙江,1,2025-06-01 10:00:00,organic,"
              "false,false,false,false,false")
    add_lines(data / "orders.csv",
              "o01,c01,2026-03-01 10:00:00,2026-03-01 10:05:00,,,100.00,paid,normal",
              "o90,c99,2026-02-01 10:00:00,2026-02-01 10:05:00,,,50.00,paid,normal",
              "o91,c03,2026-02-01 10:00:00,2026-02-01 10:05:00,,,-5.00,paid,normal",
              "o92,c03,2026-02-01 10:00:00,2026-02-01 10:05:00,,,5.00,lost,normal",
              "o93,c03,2026-03-05 10:00:00,2026-03-05 10:05:00,,,70.00,paid,normal")
    add_lines(data / "events.csv",
              "c98,cart,2026-02-20 21:00:00,SKU001",
              "c03,wishlist,2026-02-20 21:00:00,SKU001",
              "c03,cart,2026-03-04 21:00:00,SKU001")
    return tiny


def test_problems_are_counted_with_examples_and_left_out(dirty):
    m = build(dirty, as_of=date(2026, 3, 1), dry_run=True).manifest
    assert {p["code"]: (p["count"], p["examples"]) for p in m["data_problems"]} == {
        "customers_missing_id": (1, ["noid"]),
        "customers_duplicate_id": (1, ["c01"]),
        "customers_bad_phone": (1, ["138***0013"]),
        "customers_bad_email": (1, ["b******m"]),  # masked, even when malformed
        "orders_duplicate_id": (1, ["o01"]),
        "orders_unknown_customer": (1, ["o90"]),
        "orders_negative_amount": (1, ["o91"]),
        "orders_bad_status": (1, ["o92"]),
        "orders_after_as_of": (1, ["o93"]),
        "events_unknown_customer": (1, ["c98"]),
        "events_bad_type": (1, ["wishlist"]),
        "events_after_as_of": (1, ["c03"]),
    }
    # the clean tables: 17 customers (c01 once, c17 added), orders without o90-o93 and
    # one o01; c03's facts unchanged by the bad rows (1 purchase of 80 on 02-22)
    assert m["rows"] == {"customers": 17, "orders": 21, "events": 7}
    assert m["stages"]["active"] == 5 and m["tiers"]["none"] == 11


def test_strict_turns_every_problem_into_an_error(dirty):
    with pytest.raises(PlanError) as err:
        build(dirty, as_of=date(2026, 3, 1), strict=True)
    assert [d.code for d in err.value.diagnostics] == ["E404"] * 12
    assert all(d.path == "plans/shop.yaml" and d.line == 6 for d in err.value.diagnostics)
    assert not (dirty / "out").exists()


def _orders(root, as_of=date(2026, 3, 1)):
    import duckdb

    from crmspec.engine.session import prepare

    con = duckdb.connect()
    prepare(root, as_of, con)
    return {r[0]: r[1:] for r in con.execute(
        "SELECT order_id, status, paid_at FROM orders").fetchall()}


@pytest.mark.parametrize("line", [
    "o90,c99,2026-02-01 10:00:00,2026-02-01 10:05:00,,,50.00,paid,normal",  # unknown customer
    "o91,c03,2026-02-01 10:00:00,2026-02-01 10:05:00,,,-5.00,paid,normal",  # negative
    "o92,c03,2026-02-01 10:00:00,2026-02-01 10:05:00,,,5.00,lost,normal",  # bad status
    "o93,c03,2026-03-05 10:00:00,2026-03-05 10:05:00,,,70.00,paid,normal",  # after as-of
    "o94,c03,2026-02-01 10:00:00,2026-02-01 10:05:00,,,,paid,normal",  # no amount
])
def test_each_cleaning_step_works_alone(tiny, tmp_path, line):
    """Only the checks that find something filter the orders view: with one problem in
    the data, exactly its row is left out (the others' filters are absent)."""
    import shutil

    clean = _orders(tiny)
    dirty = tmp_path / "dirty"
    shutil.copytree(tiny, dirty)
    add_lines(dirty / "data" / "orders.csv", line)
    assert _orders(dirty) == clean


def test_a_payment_after_the_as_of_date_has_not_happened_yet(tiny):
    add_lines(tiny / "data" / "orders.csv",
              "o95,c03,2026-02-28 22:00:00,2026-03-02 09:00:00,,,70.00,paid,normal")
    assert _orders(tiny)["o95"] == ("unpaid", None)
    assert _orders(tiny, date(2026, 3, 2))["o95"][0] == "paid"


def test_the_fingerprint_ignores_row_order_and_sees_any_change(tiny):
    """docs/data.md: same rows in another order, same fingerprint; one changed value, or
    a changed column the plan does not even read, changes it."""
    def fingerprint():
        return build(tiny, as_of=date(2026, 3, 1), dry_run=True).manifest["data_fingerprint"]

    orders = tiny / "data" / "orders.csv"
    header, *rows = orders.read_text(encoding="utf-8").splitlines()
    first = fingerprint()
    orders.write_text("\n".join([header, *reversed(rows)]) + "\n", encoding="utf-8")
    assert fingerprint() == first
    changed = [rows[0].replace("100.00", "100.01")] + rows[1:]
    assert changed != rows
    orders.write_text("\n".join([header, *changed]) + "\n", encoding="utf-8")
    assert fingerprint() != first
    orders.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    assert fingerprint() == first
    events = tiny / "data" / "events.csv"
    text = events.read_text(encoding="utf-8")
    events.write_text(text.replace("SKU001", "SKU00X", 1), encoding="utf-8")
    assert fingerprint() != first
