"""Shop exports in the exact bytes the platforms write, for the import tests.

Taobao/Tmall order report (订单报表): GBK, CRLF, the back end's header order, ids as
`="2078..."`, phones as `'138...`, full-width commas in statuses. Shopify orders export:
UTF-8, one row per line item with the order's fields on its first row only, times with
UTC offsets. The expected results in test_import.py are worked out by hand from these
rows: keep them in step.
"""

from __future__ import annotations

from pathlib import Path

TAOBAO_HEADER = ("订单编号,买家会员名,买家支付宝账号,买家应付货款,买家应付邮费,买家支付积分,总金额,"
                 "返点积分,买家实际支付金额,买家实际支付积分,订单状态,买家留言,收货人姓名,收货地址,"
                 "运送方式,联系电话,联系手机,订单创建时间,订单付款时间,宝贝标题,宝贝种类,物流单号,"
                 "物流公司,订单备注,宝贝总数量,店铺Id,店铺名称,订单关闭原因")


def taobao_row(order: str, buyer: str, amount: str, status: str, created: str, paid: str = "",
               phone: str = "13800000000", receiver: str = "王小丽",
               address: str = "浙江省 杭州市 西湖区 文三路1号", message: str = "",
               close: str = "") -> str:
    """One order report row, quoted as the back end quotes (fields with commas)."""
    def q(v: str) -> str:
        """Quoted when it holds a comma or a line break (quotes doubled inside)."""
        if "," in v or "\n" in v:
            return '"' + v.replace('"', '""') + '"'
        return v

    fields = [order and f'="{order}"', buyer, f"{buyer}@alipay.test", amount, "0.00",
              "0", amount, "0", amount, "0", status, message, receiver, address, "快递", "",
              f"'{phone}" if phone else "", created, paid, "纯棉四件套", "1", "", "", "", "1",
              "12345", "我的店铺", close]
    # the id as the back end writes it: `="2078..."` unquoted, so Excel keeps its digits
    return ",".join(f if i == 0 else q(f) for i, f in enumerate(fields))


# Export A (May). Line numbers (the header is line 1) are what the rejects name:
#   2 001 alice  交易成功                 199.00 paid 05-01
#   3 002 alice  卖家已发货，等待买家确认   59.00 paid 05-20 (its 买家留言 spans lines 3-4)
#   5 003 bob    等待买家付款              88.00 unpaid
#   6 004 carol  交易关闭 + 买家申请退款   300.00 refunded (paid 05-10)
#   7 005 dave   交易关闭 (超时未付款)       45.00 closed
#   8 006 erin   amount "abc"                      -> rejected
#   9 (no order id)                                -> rejected
#  10 007 frank  买家已付款，等待卖家发货   120.00 paid 05-31
#  11 008 gina   "部分退款" (not a status)          -> rejected
EXPORT_A = [
    taobao_row("2078000000000001", "tb_alice", "199.00", "交易成功", "2026-05-01 10:00:00",
               "2026-05-01 10:05:00", phone="13812345678"),
    taobao_row("2078000000000002", "tb_alice", "59.00", "卖家已发货，等待买家确认",
               "2026-05-20 09:00:00", "2026-05-20 09:01:00", phone="13812345678",
               message="请发圆通,\r\n谢谢"),
    taobao_row("2078000000000003", "tb_bob", "88.00", "等待买家付款", "2026-05-30 20:00:00",
               phone="13900001111", receiver="李四", address="上海 上海市 浦东新区"),
    taobao_row("2078000000000004", "tb_carol", "300.00", "交易关闭", "2026-05-10 08:00:00",
               "2026-05-10 08:10:00", phone="13700002222", receiver="赵六",
               address="广东省 深圳市 南山区", close="买家申请退款"),
    taobao_row("2078000000000005", "tb_dave", "45.00", "交易关闭", "2026-05-11 08:00:00",
               phone="13600003333", close="超时未付款"),
    taobao_row("2078000000000006", "tb_erin", "abc", "交易成功", "2026-05-12 08:00:00",
               "2026-05-12 08:05:00"),
    taobao_row("", "tb_nobody", "10.00", "交易成功", "2026-05-13 08:00:00"),
    taobao_row("2078000000000007", "tb_frank", "120.00", "买家已付款，等待卖家发货",
               "2026-05-31 12:00:00", "2026-05-31 12:00:30", phone="13500004444",
               receiver="孙八", address="北京 北京市 朝阳区"),
    taobao_row("2078000000000008", "tb_gina", "10.00", "部分退款", "2026-05-14 08:00:00"),
]

# Export B (June, a newer back end: 买家实付金额 and 买家下单时间 instead of
# 买家实际支付金额 and 订单创建时间), overlapping A:
#   002 alice 交易成功 now (updated: signed), 003 bob paid 06-01 (updated),
#   004 carol unchanged, 009 bob 交易成功 66.00 paid 06-15 (new),
#   010 hank 等待买家付款 30.00 created 06-30 (new)
EXPORT_B = [
    taobao_row("2078000000000002", "tb_alice", "59.00", "交易成功", "2026-05-20 09:00:00",
               "2026-05-20 09:01:00", phone="13812345678"),
    taobao_row("2078000000000003", "tb_bob", "88.00", "买家已付款，等待卖家发货",
               "2026-05-30 20:00:00", "2026-06-01 08:00:00", phone="13900001111",
               receiver="李四", address="上海 上海市 浦东新区"),
    taobao_row("2078000000000004", "tb_carol", "300.00", "交易关闭", "2026-05-10 08:00:00",
               "2026-05-10 08:10:00", phone="13700002222", receiver="赵六",
               address="广东省 深圳市 南山区", close="买家申请退款"),
    taobao_row("2078000000000009", "tb_bob", "66.00", "交易成功", "2026-06-15 10:00:00",
               "2026-06-15 10:02:00", phone="13900001111", receiver="李四",
               address="上海 上海市 浦东新区"),
    taobao_row("2078000000000010", "tb_hank", "30.00", "等待买家付款", "2026-06-30 21:00:00",
               phone="13400005555", receiver="周九", address="江苏省 南京市"),
]


def taobao_bytes(rows: list[str], header: str = TAOBAO_HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("gbk")


def write_taobao(path: Path, rows: list[str], header: str = TAOBAO_HEADER) -> Path:
    path.write_bytes(taobao_bytes(rows, header))
    return path


def export_b_header() -> str:
    return (TAOBAO_HEADER.replace("买家实际支付金额", "买家实付金额")
            .replace("订单创建时间", "买家下单时间"))


SHOPIFY_HEADER = ("Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,"
                  "Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,"
                  "Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
                  "Lineitem price,Billing Name,Billing Phone,Shipping Province,Cancelled at,"
                  "Refunded Amount,Phone")


def shopify_row(name, email="", financial="", paid="", fulfilled="", accepts="", total="",
                created="", item="Towel", price="10.00", billing="", phone="", province="",
                cancelled="", refunded="") -> str:
    fields = [name, email, financial, paid, "fulfilled" if fulfilled else "", fulfilled,
              accepts, "CNY" if financial else "", total, "0.00" if financial else "",
              "0.00" if financial else "", total, "", "", "Standard" if financial else "",
              created, "1", item, price, billing, "", province, cancelled, refunded, phone]
    return ",".join(f'"{f}"' if "," in f else f for f in fields)


# Lines (header 1):
#  2-3 #1001 Amy@Example.com paid 120.00, two line items; times at -0400
#  4   #1002 bob@x.com partially_refunded 80.00 - 30.00 refunded; created at +0000
#  5-6 #1003 no email, phone +86 139 0000 1111, pending 25.00
#  7   #1004 amy@example.com refunded 40.00
#  8   #1005 cal@x.com voided 15.00 -> closed
#  9   #1006 dan@x.com pending + Cancelled at -> closed
#  10  #1007 no email, no phone -> rejected
#  11  #1008 chargeback (not a status) -> rejected
SHOPIFY_ROWS = [
    shopify_row("#1001", "Amy@Example.com", "paid", "2026-06-01 10:00:00 -0400",
                "2026-06-02 09:00:00 -0400", "no", "120.00", "2026-06-01 09:59:00 -0400",
                item="Bath towel", price="60.00", billing="Amy Lee", province="Zhejiang"),
    shopify_row("#1001", item="Hand towel", price="60.00"),
    shopify_row("#1002", "bob@x.com", "partially_refunded", "2026-06-03 23:31:00 +0000", "",
                "yes", "80.00", "2026-06-03 23:30:00 +0000", billing="Bob", refunded="30.00"),
    shopify_row("#1003", "", "pending", "", "", "", "25.00", "2026-06-05 12:00:00 +0800",
                phone="+86 139 0000 1111", billing="Chen"),
    shopify_row("#1003", item="Pillow", price="15.00"),
    shopify_row("#1004", "amy@example.com", "refunded", "2026-06-06 10:00:00 +0800", "",
                "no", "40.00", "2026-06-06 09:58:00 +0800", billing="Amy Lee"),
    shopify_row("#1005", "cal@x.com", "voided", "", "", "yes", "15.00",
                "2026-06-07 10:00:00 +0800"),
    shopify_row("#1006", "dan@x.com", "pending", "", "", "yes", "35.00",
                "2026-06-08 10:00:00 +0800", cancelled="2026-06-09 10:00:00 +0800"),
    shopify_row("#1007", "", "paid", "2026-06-09 10:00:00 +0800", "", "", "12.00",
                "2026-06-09 09:00:00 +0800"),
    shopify_row("#1008", "eve@x.com", "chargeback", "", "", "", "12.00",
                "2026-06-10 09:00:00 +0800"),
]


def write_shopify(path: Path, rows: list[str] = SHOPIFY_ROWS) -> Path:
    path.write_bytes(("\n".join([SHOPIFY_HEADER, *rows]) + "\n").encode("utf-8"))
    return path


# An export of another system (`crmspec import csv`, described in shop.yaml `import`):
# GBK, runs of spaces and tabs between columns, YYYYMMDD dates, Chinese statuses.
#   line 2 A1 c1 10.50 x 2 = 21.00 paid 06-01; line 3 A2 c2 20.00 unpaid;
#   line 4 A3 unit price `x`: no amount, rejected; line 5 blank;
#   line 6 A4 status 作废 not in the value map: rejected
CSV_EXPORT = ("单号  客户\t日期      付款日期   单价   数量  状态\r\n"
              "A1   c1    20260601  20260601  10.50  2    已付款\r\n"
              "A2   c2    20260602  -         20     1    待付款\r\n"
              "A3   c1    20260603  20260603  x      1    已付款\r\n"
              "\r\n"
              "A4   c3    20260604  20260604  5      1    作废\r\n").encode("gbk")

CSV_SETTINGS = """
import:
  csv: {encoding: gb18030, delimiter: whitespace}
  columns:
    orders: {order_id: 单号, customer_id: 客户, created_at: 日期, paid_at: 付款日期,
             status: 状态}
  formats:
    orders: {created_at: "%Y%m%d", paid_at: "%Y%m%d"}
  values:
    orders: {status: {已付款: paid, 待付款: unpaid, 已退款: refunded}}
  constants:
    orders: {source: normal}
  derived:
    orders: {amount: "CAST(单价 AS DECIMAL(10,2)) * CAST(数量 AS INTEGER)"}
"""

# tests/fixtures/exports: the example file of every format (docs/data.md)
FIXTURES = {
    "订单报表.csv": lambda: taobao_bytes(EXPORT_A),
    "订单报表-新版.csv": lambda: taobao_bytes(EXPORT_B, export_b_header()),
    "orders_export_1.csv": lambda: ("\n".join([SHOPIFY_HEADER, *SHOPIFY_ROWS]) + "\n").encode(),
    "export.txt": lambda: CSV_EXPORT,
}
