"""Sources as shops have them: a build on the shop's own files, described in shop.yaml
(encoding, delimiter, value maps, formats), without a customers table or events; paid
orders without a payment time; plans that only measure; lifecycles leaving customers
without a stage. Expected values worked out by hand from the rows below."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmspec.build import build
from crmspec.cli import main
from crmspec.validate import validate_project

DATA = """
data:
  source: csv
  path: export
  tables: {orders: 订单.txt}
  csv: {encoding: gbk, delimiter: "\\t"}
  columns:
    orders: {order_id: 单号, customer_id: 买家, created_at: 下单时间, paid_at: 付款时间,
             amount: 实付, status: 状态}
    customers: {phone: 手机, name: 收货人}
  values:
    orders: {status: {交易成功: paid, 等待买家付款: unpaid, 交易关闭: closed}}
  formats:
    orders: {created_at: "%Y%m%d %H%M", paid_at: "%Y%m%d %H%M"}
"""

# As of 2026-06-22 (the day after the last order):
#   b1: o1 06-01, o2 06-10 -> 2 purchases, 12 days: active; phone of the latest order
#   b2: o3 unpaid -> potential, no phone
#   b3: o4 交易成功 without 付款时间 -> dated by its creation (06-20): after_sale
#   b4: o5 closed -> potential
ORDERS = ("单号\t买家\t手机\t收货人\t下单时间\t付款时间\t实付\t状态\r\n"
          "o1\tb1\t13800000001\t张一\t20260601 1000\t20260601 1001\t100\t交易成功\r\n"
          "o2\tb1\t13800000002\t张一\t20260610 1000\t20260610 1005\t50\t交易成功\r\n"
          "o3\tb2\t\t\t20260615 0900\t\t30\t等待买家付款\r\n"
          "o4\tb3\t13800000004\t李三\t20260620 0800\t\t80\t交易成功\r\n"
          "o5\tb4\t13800000005\t\t20260621 0800\t\t20\t交易关闭\r\n")


def _with_data(shop: Path, data: str) -> None:
    path = shop / "plans/shop.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("\ndata:")
    end = text.index("\npurchase:")
    path.write_text(text[:start] + data + text[end:], encoding="utf-8")


@pytest.fixture
def own_files(tmp_path) -> Path:
    shop = tmp_path / "shop"
    assert CliRunner().invoke(main, ["init", str(shop)]).exit_code == 0
    _with_data(shop, DATA)
    (shop / "export").mkdir()
    (shop / "export/订单.txt").write_bytes(ORDERS.encode("gbk"))
    return shop


def test_a_build_on_the_shops_own_gbk_tab_file_without_customers_or_events(own_files):
    result = build(own_files)
    m = result.manifest
    assert m["as_of"] == "2026-06-22"
    assert m["rows"] == {"customers": 4, "orders": 5, "events": 0}
    assert m["stages"] == {"potential": 2, "after_sale": 1, "active": 1, "silent": 0,
                           "sleeping": 0, "churning": 0, "dead": 0}
    assert m["customer_types"] == {"potential": 2, "new": 1, "returning": 1, "fans": 0}
    assert m["data_problems"] == [{
        "code": "orders_paid_without_time", "table": "orders", "count": 1,
        "message": "paid orders without a payment time (dated by their creation time)",
        "examples": ["o4"]}]
    assert result.notes == [
        "customers: none in the data, derived from the orders (id, first order as "
        "registered_at, phone, name)",
        "events: none in the data (segments cannot use intent signals)"]


def test_derived_customers_carry_the_latest_orders_phone(own_files):
    from crmspec.engine.session import open_session

    with open_session(own_files) as (con, _):
        rows = con.execute("SELECT customer_id, phone, registered_at::VARCHAR FROM customers "
                           "ORDER BY 1").fetchall()
        paid = con.execute("SELECT order_id, paid_at::VARCHAR, status FROM orders "
                           "ORDER BY 1").fetchall()
    assert rows == [("b1", "13800000002", "2026-06-01 10:00:00"),
                    ("b2", None, "2026-06-15 09:00:00"),
                    ("b3", "13800000004", "2026-06-20 08:00:00"),
                    ("b4", "13800000005", "2026-06-21 08:00:00")]
    assert paid == [("o1", "2026-06-01 10:01:00", "paid"), ("o2", "2026-06-10 10:05:00", "paid"),
                    ("o3", None, "unpaid"), ("o4", "2026-06-20 08:00:00", "paid"),
                    ("o5", None, "closed")]


def test_without_the_value_map_the_statuses_are_a_counted_problem(own_files):
    text = (own_files / "plans/shop.yaml").read_text(encoding="utf-8")
    text = re.sub(r"  values:\n    orders: \{status: \{[^\n]*\}\}\n", "", text)
    (own_files / "plans/shop.yaml").write_text(text, encoding="utf-8")
    problems = build(own_files, as_of=None, dry_run=True).manifest["data_problems"]
    assert problems[0] == {
        "code": "orders_bad_status", "table": "orders", "count": 5,
        "message": "orders with a status other than unpaid/paid/closed/refunded (ignored)",
        "examples": ["o1", "o2", "o3"]}


def test_a_file_not_in_its_declared_encoding_is_a_located_error(own_files):
    (own_files / "export/订单.txt").write_bytes(ORDERS.encode("gbk") + b"o6\tb5\t\xff\r\n")
    result = CliRunner().invoke(main, ["build", "--project", str(own_files)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "checking the plan, attaching and checking the data",  # the build's progress
        "export/订单.txt:7:7: error[E407]: byte 0xff is not valid gbk"]  # 7th character


def test_whitespace_delimited_files_without_a_header(own_files):
    """Columns separated by runs of spaces, named column1...; dates as YYYYMMDD."""
    _with_data(own_files, """
data:
  source: csv
  path: export
  tables: {orders: orders.txt}
  csv: {delimiter: whitespace, header: false}
  columns:
    orders: {order_id: column1, customer_id: column2, created_at: column3, paid_at: column3,
             amount: column4, status: column5}
    customers: {phone: column6, name: column7}
  formats:
    orders: {created_at: "%Y%m%d", paid_at: "%Y%m%d"}
""")
    (own_files / "export/orders.txt").write_text(
        "x1   c1  20260601   10.00  paid    13800000001 张一\n"
        "x2\tc1\t20260605\t5\tpaid\t13800000001\t张一\n"
        "x3 c2    20260606 7.5    unpaid  13800000003 李三\n", encoding="utf-8")
    m = build(own_files, dry_run=True).manifest
    assert m["as_of"] == "2026-06-07"
    assert m["rows"] == {"customers": 2, "orders": 3, "events": 0}
    assert m["customer_types"] == {"potential": 1, "new": 0, "returning": 1, "fans": 0}


def test_constants_and_derived_columns(own_files):
    """amount = 单价 x 数量 through the checked expression language; source a constant."""
    _with_data(own_files, DATA.replace("amount: 实付, ", "") + """  constants:
    orders: {source: group_buy}
  derived:
    orders: {amount: "CAST(实付 AS DECIMAL(10,2)) * 2"}
""")
    from crmspec.engine.session import open_session

    with open_session(own_files) as (con, _):
        assert con.execute("SELECT order_id, amount::VARCHAR, source FROM orders ORDER BY 1"
                           ).fetchall()[:2] == [("o1", "200.00", "group_buy"),
                                                ("o2", "100.00", "group_buy")]


def test_a_derived_column_is_checked_like_a_filter(own_files):
    _with_data(own_files, DATA + """  derived:
    orders: {source: "read_csv('/etc/passwd')"}
""")
    result = CliRunner().invoke(main, ["build", "--project", str(own_files)])
    assert result.exit_code == 1
    assert "error[E309]: derived orders.source:" in result.stderr


def test_intent_segments_need_events(tiny):
    """validate refuses a segment on carts when the shop's data has no events file."""
    (tiny / "data/events.csv").unlink()
    diags = [d for d in validate_project(tiny).diagnostics if d.code == "E406"]
    assert [(d.path, d.line, d.message) for d in diags] == [
        ("plans/segments.yaml", 14, "segment 'carted_30d' reads intent events, but the "
         "shop's data has no events table")]


def test_a_lifecycle_without_a_never_purchased_stage(tiny):
    path = tiny / "plans/lifecycle.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  - {id: potential, name: 潜在客户, never_purchased: true}\n", ""), encoding="utf-8")
    e304 = [d for d in validate_project(tiny).diagnostics if d.code == "E304"]
    assert [(d.path, d.line, d.col, d.message) for d in e304] == [
        ("plans/lifecycle.yaml", 1, 1, "customers who never bought (a carted or unpaid order, "
         "or only an account) belong to no stage")]


def test_a_plan_with_only_kpis(own_files):
    """A shop may start by measuring: shop.yaml and kpis.yaml, nothing else."""
    plans = own_files / "plans"
    for name in ("activities.yaml", "segments.yaml", "lifecycle.yaml", "tiers.yaml"):
        (plans / name).unlink()
    shutil.rmtree(plans / "sop")
    shutil.rmtree(plans / "templates")
    runner = CliRunner()
    assert runner.invoke(main, ["validate", "--project", str(own_files)]).stdout == (
        "plan is valid\n")
    built = runner.invoke(main, ["build", "--project", str(own_files)])
    assert built.exit_code == 0, built.output
    kpi = runner.invoke(main, ["kpi", "--project", str(own_files), "--format", "csv",
                               "--period", "month"])
    assert kpi.exit_code == 0, kpi.output
    assert kpi.stdout.splitlines()[0].startswith("\ufeffperiod,start,end,kpi,name,metric")  # BOM
    assert {line.split(",")[3] for line in kpi.stdout.splitlines()[1:]} == {
        "repeat_rate", "second_purchase_45", "aov", "sleeping"}


def test_a_mapping_of_a_column_that_is_not_canonical(own_files):
    """A typo in a value map would otherwise be silently ignored."""
    _with_data(own_files, DATA.replace("values:\n    orders: {status:",
                                       "values:\n    orders: {stauts:"))
    e301 = [d for d in validate_project(own_files).diagnostics if d.code == "E301"]
    assert [(d.path, d.line, d.message, d.hint) for d in e301] == [
        ("plans/shop.yaml", 22, "'stauts' is not a column of the canonical orders table",
         "did you mean 'status'?")]
