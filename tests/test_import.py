"""`crmspec import` through the real CLI, on exports built in the platforms' exact bytes
(tests/exports.py), with every count, status, amount and time worked out by hand there.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from exports import (
    CSV_EXPORT,
    CSV_SETTINGS,
    EXPORT_A,
    EXPORT_B,
    FIXTURES,
    SHOPIFY_ROWS,
    TAOBAO_HEADER,
    export_b_header,
    taobao_row,
    write_shopify,
    write_taobao,
)

from crmspec.cli import main


def cli(*args: str, cwd: Path | None = None):
    runner = CliRunner()
    return runner.invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def shop(tmp_path) -> Path:
    root = tmp_path / "shop"
    assert cli("init", str(root)).exit_code == 0
    return root


def db_rows(shop: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(shop / "data/shop.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


ORDERS = ("SELECT order_id, customer_id, created_at, paid_at, shipped_at, signed_at, amount, "
          "status FROM orders ORDER BY order_id")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_taobao_round_trip(shop, tmp_path):
    a = write_taobao(tmp_path / "订单报表-05.csv", EXPORT_A)
    b = write_taobao(tmp_path / "订单报表-06.csv", EXPORT_B, export_b_header())
    first = cli("import", "taobao", str(a), "--into", str(shop))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[1:4] == [
        "orders: 6 new, 0 updated, 0 unchanged", "customers: 5 new, 0 updated",
        "rejected 3 row(s):"]
    assert first.stdout.startswith("read 9 rows from 1 file(s) (taobao)")
    assert first.stderr.splitlines() == [
        "订单报表-05.csv:8:1: warning[W408]: order 2078000000000006: amount 'abc' is not a number",
        "订单报表-05.csv:9:1: warning[W408]: no order id (订单编号)",
        "订单报表-05.csv:11:1: warning[W408]: order 2078000000000008: unknown status '部分退款'"]
    assert "plans/shop.yaml now reads it (was the demo shop)" in first.stdout
    shop_yaml = (shop / "plans/shop.yaml").read_text(encoding="utf-8")
    assert "  source: duckdb\n  path: data/shop.duckdb\n  demo:" in shop_yaml
    assert "# The demo shop until you import your own" in shop_yaml  # comments kept
    assert db_rows(shop, ORDERS) == [
        ("2078000000000001", "tb_alice", t("2026-05-01 10:00"), t("2026-05-01 10:05"),
         t("2026-05-01 10:05"), t("2026-05-01 10:05"), Decimal("199.00"), "paid"),
        ("2078000000000002", "tb_alice", t("2026-05-20 09:00"), t("2026-05-20 09:01"),
         t("2026-05-20 09:01"), None, Decimal("59.00"), "paid"),
        ("2078000000000003", "tb_bob", t("2026-05-30 20:00"), None, None, None,
         Decimal("88.00"), "unpaid"),
        ("2078000000000004", "tb_carol", t("2026-05-10 08:00"), t("2026-05-10 08:10"), None,
         None, Decimal("300.00"), "refunded"),
        ("2078000000000005", "tb_dave", t("2026-05-11 08:00"), None, None, None,
         Decimal("45.00"), "closed"),
        ("2078000000000007", "tb_frank", t("2026-05-31 12:00"), t("2026-05-31 12:00:30"),
         None, None, Decimal("120.00"), "paid"),
    ]
    assert db_rows(shop, "SELECT customer_id, phone, nick, name, province, registered_at "
                         "FROM customers ORDER BY 1") == [
        ("tb_alice", "13812345678", "tb_alice", "王小丽", "浙江", t("2026-05-01 10:00")),
        ("tb_bob", "13900001111", "tb_bob", "李四", "上海", t("2026-05-30 20:00")),
        ("tb_carol", "13700002222", "tb_carol", "赵六", "广东", t("2026-05-10 08:00")),
        ("tb_dave", "13600003333", "tb_dave", "王小丽", "浙江", t("2026-05-11 08:00")),
        ("tb_frank", "13500004444", "tb_frank", "孙八", "北京", t("2026-05-31 12:00")),
    ]
    # B overlaps A: 002 signed now, 003 paid, 004 the same, 009 and 010 new; bob's
    # latest order is new (an update), hank is new
    second = cli("import", "taobao", str(b), "--into", str(shop))
    assert second.stdout.splitlines()[1:3] == [
        "orders: 2 new, 2 updated, 1 unchanged", "customers: 1 new, 1 updated"]
    after_b = db_rows(shop, ORDERS)
    assert after_b[1] == ("2078000000000002", "tb_alice", t("2026-05-20 09:00"),
                          t("2026-05-20 09:01"), t("2026-05-20 09:01"), t("2026-05-20 09:01"),
                          Decimal("59.00"), "paid")
    assert after_b[2][3] == t("2026-06-01 08:00") and after_b[2][7] == "paid"
    assert after_b[6:] == [
        ("2078000000000009", "tb_bob", t("2026-06-15 10:00"), t("2026-06-15 10:02"),
         t("2026-06-15 10:02"), t("2026-06-15 10:02"), Decimal("66.00"), "paid"),
        ("2078000000000010", "tb_hank", t("2026-06-30 21:00"), None, None, None,
         Decimal("30.00"), "unpaid")]
    # the same export again, and the older one after the newer: nothing changes
    for again, counts in ((b, "orders: 0 new, 0 updated, 5 unchanged"),
                          (a, "orders: 0 new, 0 updated, 6 unchanged")):
        result = cli("import", "taobao", str(again), "--into", str(shop))
        assert result.stdout.splitlines()[1:3] == [counts, "customers: 0 new, 0 updated"]
        assert db_rows(shop, ORDERS) == after_b
    assert db_rows(shop, "SELECT format, rows_read, rejected, orders_new, orders_updated "
                         "FROM imports ORDER BY imported_at") == [
        ("taobao", 9, 3, 6, 0), ("taobao", 5, 0, 2, 2), ("taobao", 5, 0, 0, 0),
        ("taobao", 9, 3, 0, 0)]


def test_a_build_on_the_imported_orders(shop, tmp_path):
    """As of 2026-07-01 (the day after the last order): alice 2 purchases (258.00, last
    05-20: 42 days, active), bob 2 (154.00, last 06-15: 16 days, active), frank 1 (05-31:
    31 days, active); carol (refunded), dave (closed) and hank (unpaid) never bought."""
    for name, rows, header in (("a.csv", EXPORT_A, TAOBAO_HEADER),
                               ("b.csv", EXPORT_B, export_b_header())):
        cli("import", "taobao", str(write_taobao(tmp_path / name, rows, header)), "--into",
            str(shop))
    from crmspec.build import build

    m = build(shop).manifest
    assert m["as_of"] == "2026-07-01"
    assert m["rows"] == {"customers": 6, "orders": 8, "events": 0}
    assert m["stages"] == {"potential": 3, "after_sale": 0, "active": 3, "silent": 0,
                           "sleeping": 0, "churning": 0, "dead": 0}
    assert m["customer_types"] == {"potential": 3, "new": 1, "returning": 2, "fans": 0}
    assert m["data_problems"] == []
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{shop / 'data/shop.duckdb'}' AS s (READ_ONLY)")
        spend = con.execute("SELECT customer_id, count(*), sum(amount) FROM s.orders "
                            "WHERE status = 'paid' GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        con.close()
    assert spend == [("tb_alice", 2, Decimal("258.00")), ("tb_bob", 2, Decimal("154.00")),
                     ("tb_frank", 1, Decimal("120.00"))]


def test_the_demo_ledger_is_set_aside_on_the_first_import(shop, tmp_path):
    assert cli("build", "--project", str(shop)).exit_code == 0
    assert (shop / "state/ledger.duckdb").exists()
    result = cli("import", "taobao", str(write_taobao(tmp_path / "a.csv", EXPORT_A)),
                 "--into", str(shop))
    assert "contact ledger is set aside as" in result.stdout
    assert not (shop / "state/ledger.duckdb").exists()
    assert (shop / "state/ledger.demo.duckdb").exists()
    assert cli("build", "--project", str(shop)).exit_code == 0  # no E601 from demo runs


HUGE = "x" * (10 << 20)


def _cut(rows: int, before: str) -> bytes:
    """An export of `rows` rows whose last one is cut off just after `before`."""
    whole = [taobao_row(f"20780000000001{i:02d}", "tb_ian", "10.00", "交易成功",
                        "2026-06-01 10:00:00", message="请尽快,\r\n发货" if i == rows - 1 else "")
             for i in range(rows)]
    text = "\r\n".join([TAOBAO_HEADER, *whole])
    return text[:text.rindex(before) + len(before)].encode("gbk")


@pytest.mark.parametrize("name, content, where, message", [
    ("empty", b"", ":1:1:", "the file is empty"),
    ("truncated in a quoted field", _cut(2, "请尽快,\r\n发"), ":3:1:",
     "the file ends inside a quoted field that starts on this line (truncated?)"),
    ("truncated in a row", _cut(3, "tb_ian@alipay"), ":4:1:",
     "the file ends in the middle of this row (truncated?)"),
    ("wrong encoding", TAOBAO_HEADER.encode("gbk") + b"\r\n\xff\xfe,tb\r\n", ":2:1:",
     "byte 0xff is not valid gb18030"),
    ("missing column", (TAOBAO_HEADER.replace("买家实际支付金额", "金额") + "\r\n").encode("gbk"),
     ":1:1:", "not a Taobao/Tmall order report (订单报表): no column 买家实际支付金额 (or "
     "买家实付金额, 实付金额)"),
    ("10 MB field", (TAOBAO_HEADER + "\r\n" + taobao_row(
        "2078000000000012", "tb_jo", "10.00", "交易成功", "2026-06-01 10:00:00",
        message=HUGE)).encode("gbk"), ":2:1:", "the record starting here is longer than 1 MB"),
], ids=["empty", "truncated-quoted", "truncated-row", "encoding", "missing-column", "10MB"])
def test_bad_files_are_located_errors_and_lose_nothing(shop, tmp_path, name, content, where,
                                                       message):
    cli("import", "taobao", str(write_taobao(tmp_path / "a.csv", EXPORT_A)), "--into", str(shop))
    before = db_rows(shop, ORDERS), db_rows(shop, "SELECT * FROM customers ORDER BY 1")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    result = cli("import", "taobao", str(bad), "--into", str(shop))
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"bad.csv{where} error[E407]: {message}"), first
    assert "Traceback" not in result.output
    assert (db_rows(shop, ORDERS), db_rows(shop, "SELECT * FROM customers ORDER BY 1")) == before


def test_a_failure_while_writing_rolls_the_whole_import_back(shop, tmp_path, monkeypatch):
    """Orders are written before customers: a failure in between leaves both as they were."""
    upsert = importlib.import_module("crmspec.data.importers.upsert")
    a = write_taobao(tmp_path / "a.csv", EXPORT_A)
    cli("import", "taobao", str(a), "--into", str(shop))
    before = db_rows(shop, ORDERS)

    def broken(con):
        raise RuntimeError("disk full")

    monkeypatch.setattr(upsert, "_customers", broken)
    b = write_taobao(tmp_path / "b.csv", EXPORT_B, export_b_header())
    result = CliRunner().invoke(main, ["import", "taobao", str(b), "--into", str(shop)])
    assert result.exit_code == 3 and "disk full" in result.stderr
    assert db_rows(shop, ORDERS) == before
    assert len(db_rows(shop, "SELECT * FROM imports")) == 1


def test_shopify_round_trip(shop, tmp_path):
    """Times at -0400 and +0000 in Asia/Shanghai; line-item rows carry no order fields."""
    file = write_shopify(tmp_path / "orders_export_1.csv")
    result = cli("import", "shopify", str(file), "--into", str(shop))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("read 10 rows from 1 file(s) (shopify)")
    assert result.stdout.splitlines()[1:3] == ["orders: 6 new, 0 updated, 0 unchanged",
                                               "customers: 5 new, 0 updated"]
    assert result.stderr.splitlines() == [
        "orders_export_1.csv:10:1: warning[W408]: order #1007: no customer (neither Email "
        "nor Phone)",
        "orders_export_1.csv:11:1: warning[W408]: order #1008: unknown Financial Status "
        "'chargeback'"]
    assert db_rows(shop, ORDERS) == [
        ("#1001", "amy@example.com", t("2026-06-01 21:59"), t("2026-06-01 22:00"),
         t("2026-06-02 21:00"), None, Decimal("120.00"), "paid"),
        ("#1002", "bob@x.com", t("2026-06-04 07:30"), t("2026-06-04 07:31"), None, None,
         Decimal("50.00"), "paid"),
        ("#1003", "13900001111", t("2026-06-05 12:00"), None, None, None, Decimal("25.00"),
         "unpaid"),
        ("#1004", "amy@example.com", t("2026-06-06 09:58"), t("2026-06-06 10:00"), None, None,
         Decimal("40.00"), "refunded"),
        ("#1005", "cal@x.com", t("2026-06-07 10:00"), None, None, None, Decimal("15.00"),
         "closed"),
        ("#1006", "dan@x.com", t("2026-06-08 10:00"), None, None, None, Decimal("35.00"),
         "closed"),
    ]
    assert db_rows(shop, "SELECT customer_id, email, phone, name, province, opt_out_email, "
                         "registered_at FROM customers ORDER BY 1") == [
        ("13900001111", None, "13900001111", "Chen", None, None, t("2026-06-05 12:00")),
        ("amy@example.com", "amy@example.com", None, "Amy Lee", "Zhejiang", True,
         t("2026-06-01 21:59")),
        ("bob@x.com", "bob@x.com", None, "Bob", None, False, t("2026-06-04 07:30")),
        ("cal@x.com", "cal@x.com", None, None, None, False, t("2026-06-07 10:00")),
        ("dan@x.com", "dan@x.com", None, None, None, False, t("2026-06-08 10:00")),
    ]
    again = cli("import", "shopify", str(file), "--into", str(shop))
    assert again.stdout.splitlines()[1] == "orders: 0 new, 0 updated, 6 unchanged"
    assert len(SHOPIFY_ROWS) == 10


def test_csv_import_described_in_shop_settings(shop, tmp_path):
    """Runs of spaces and tabs between columns, GBK, YYYYMMDD dates, Chinese statuses.

    A1 c1 2 x 10.50 = 21.00 paid 06-01; A2 c2 20.00 unpaid; A3 unit price `x`: no amount,
    rejected (line 4); A4 status 作废: not mapped, rejected (line 6, after a blank line)."""
    with (shop / "plans/shop.yaml").open("a", encoding="utf-8") as f:
        f.write(CSV_SETTINGS)
    file = tmp_path / "export.txt"
    file.write_bytes(CSV_EXPORT)
    result = cli("import", "csv", str(file), "--into", str(shop))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:3] == ["orders: 2 new, 0 updated, 0 unchanged",
                                               "customers: 2 new, 0 updated"]
    assert result.stderr.splitlines() == [
        "export.txt:4:1: warning[W408]: order A3: no readable amount",
        "export.txt:6:1: warning[W408]: order A4: status '作废' is not unpaid/paid/closed/"
        "refunded (map it in import.values.orders.status)"]
    assert db_rows(shop, "SELECT order_id, customer_id, created_at, paid_at, amount, status, "
                         "source FROM orders ORDER BY 1") == [
        ("A1", "c1", t("2026-06-01 00:00"), t("2026-06-01 00:00"), Decimal("21.00"), "paid",
         "normal"),
        ("A2", "c2", t("2026-06-02 00:00"), None, Decimal("20.00"), "unpaid", "normal")]
    assert db_rows(shop, "SELECT customer_id, registered_at FROM customers ORDER BY 1") == [
        ("c1", t("2026-06-01 00:00")), ("c2", t("2026-06-02 00:00"))]


def test_import_needs_a_duckdb_shop(tiny, tmp_path):
    """The tiny shop reads its csv folder as it is: import would not be read by builds."""
    result = cli("import", "taobao", str(write_taobao(tmp_path / "a.csv", EXPORT_A)),
                 "--into", str(tiny))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "plans/shop.yaml:6:11: error[E401]: this shop reads its csv files in data as they "
        "are: crmspec import writes a DuckDB file")


def test_the_example_files_are_the_exports_of_these_tests():
    """docs/data.md points at tests/fixtures/exports: the same bytes as tested here."""
    folder = Path(__file__).parent / "fixtures/exports"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FIXTURES)
    for name, make in FIXTURES.items():
        assert (folder / name).read_bytes() == make(), name


def test_rejected_rows_are_masked(shop, tmp_path):
    """A phone number pasted into the amount column is not shown in full."""
    row = taobao_row("2078000000000013", "tb_kim", "13812345678元", "交易成功",
                     "2026-06-01 10:00:00")
    result = cli("import", "taobao", str(write_taobao(tmp_path / "a.csv", [row])), "--into",
                 str(shop))
    assert result.stderr.splitlines() == [
        "a.csv:2:1: warning[W408]: order 2078000000000013: amount '138****5678元' is not a "
        "number"]


def test_a_report_saved_again_as_utf8_with_a_bom(shop, tmp_path):
    """Opened and saved in Excel/WPS: UTF-8 with a byte-order mark, read as such."""
    file = tmp_path / "a.csv"
    file.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join([TAOBAO_HEADER, *EXPORT_A]) + "\r\n"
                                        ).encode("utf-8"))
    result = cli("import", "taobao", str(file), "--into", str(shop))
    assert result.stdout.splitlines()[1] == "orders: 6 new, 0 updated, 0 unchanged"


def test_a_customers_export_updates_contact_details(shop, tmp_path):
    """csv --table customers: the shop's current list wins over the orders' details."""
    cli("import", "taobao", str(write_taobao(tmp_path / "a.csv", EXPORT_A)), "--into", str(shop))
    with (shop / "plans/shop.yaml").open("a", encoding="utf-8") as f:
        f.write("import:\n  columns:\n    customers: {customer_id: 会员, phone: 手机, "
                "opt_out_sms: 退订}\n  values:\n"
                "    customers: {opt_out_sms: {是: true, 否: false}}\n")
    file = tmp_path / "members.csv"
    file.write_text("会员,手机,退订\ntb_alice,13811112222,是\ntb_zoe,13833334444,否\n",
                    encoding="utf-8")
    result = cli("import", "csv", str(file), "--table", "customers", "--into", str(shop))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "customers: 1 new, 1 updated"
    assert db_rows(shop, "SELECT customer_id, phone, opt_out_sms, name FROM customers WHERE "
                         "customer_id IN ('tb_alice', 'tb_zoe') ORDER BY 1") == [
        ("tb_alice", "13811112222", True, "王小丽"), ("tb_zoe", "13833334444", False, None)]


def test_import_refuses_a_mapped_database(shop, tmp_path):
    """A DuckDB file of the shop's own, read through data.columns, is not written into."""
    path = shop / "plans/shop.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  source: demo\n  path: data/demo\n",
        "  source: duckdb\n  path: data/erp.duckdb\n  columns:\n    orders: {order_id: id}\n"),
        encoding="utf-8")
    result = cli("import", "taobao", str(write_taobao(tmp_path / "a.csv", EXPORT_A)),
                 "--into", str(shop))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "plans/shop.yaml:18:3: error[E401]: this shop's DuckDB file is mapped onto the "
        "canonical tables (data.columns): crmspec import writes canonical tables, which the "
        "mapping would misread")
    assert not (shop / "data/erp.duckdb").exists()
