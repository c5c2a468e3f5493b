"""`crmspec import taobao`: the seller back end's order report (订单报表) of Taobao/Tmall.

The report as the back end writes it: GBK (read as GB18030, its superset), CRLF, Chinese
headers, one row per order; order ids written `="2078..."` and phone numbers `'138...`
so that Excel keeps their digits. Newer exports add columns and rename some (买家实付金额,
买家下单时间; 子订单编号 with one row per sub-order): the known aliases are accepted.

What each column becomes (docs/data.md, "Taobao/Tmall order report"):
- 订单编号 the order id; 买家会员名 the customer id (and nick); 买家实际支付金额 the amount;
  订单创建时间 / 订单付款时间 the created and paid times; 发货时间 / 确认收货时间 when the
  export has them;
- 订单状态: 等待买家付款 unpaid; 买家已付款，等待卖家发货 paid; 卖家已发货，等待买家确认
  paid and shipped; 交易成功 paid, shipped and signed; 交易关闭 closed, or refunded when
  订单关闭原因 mentions 退款. A shipment or signature a status implies without a time in
  the export is dated by the payment (shipped) and the shipment (signed);
- customers: one per buyer, phone from 联系手机, name from 收货人姓名, province from the
  first part of 收货地址, registered_at the first order seen, from the latest order.
"""

from __future__ import annotations

from pathlib import Path

from crmspec.data.delimited import LINE
from crmspec.data.importers.staging import (
    FILE,
    FILE_NO,
    Staged,
    clean_export,
    local_time,
    money,
    pick,
    read_exports,
    rejected_rows,
)
from crmspec.data.settings import CsvFormat

FORMAT = CsvFormat(encoding="gb18030", delimiter=",", header=True)

COLUMNS = {
    "order_id": ("订单编号", "主订单编号", "订单号"),
    "sub_order": ("子订单编号",),
    "buyer": ("买家会员名", "买家昵称", "买家账号"),
    "amount": ("买家实际支付金额", "买家实付金额", "实付金额"),
    "status": ("订单状态",),
    "created": ("订单创建时间", "买家下单时间", "下单时间", "创建时间"),
    "paid": ("订单付款时间", "付款时间", "买家付款时间"),
    "shipped": ("发货时间", "卖家发货时间"),
    "signed": ("确认收货时间", "交易成功时间"),
    "close_reason": ("订单关闭原因", "关闭原因"),
    "receiver": ("收货人姓名", "收货人"),
    "address": ("收货地址", "收货地址 "),
    "mobile": ("联系手机", "手机"),
}
REQUIRED = ("order_id", "buyer", "amount", "status", "created")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M")

# 订单状态 -> (status, shipped, signed). Full-width commas as the back end writes them;
# half-width ones are read as full-width.
STATUSES = {
    "等待买家付款": ("unpaid", False, False),
    "买家已付款，等待卖家发货": ("paid", False, False),
    "卖家部分发货": ("paid", True, False),
    "卖家已发货，等待买家确认": ("paid", True, False),
    "交易成功": ("paid", True, True),
    "交易关闭": ("closed", False, False),
}
PROVINCE_SUFFIX = "(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$"


def _status_case(status: str, close: str, index: int) -> str:
    """SQL of the canonical status (index 0) or an implied shipment/signature (1, 2)."""
    cases = []
    for name, implied in STATUSES.items():
        value = implied[index]
        if index == 0 and name == "交易关闭":
            value_sql = (f"CASE WHEN coalesce({close}, '') LIKE '%退款%' THEN 'refunded' "
                         "ELSE 'closed' END")
        else:
            value_sql = f"'{value}'" if index == 0 else ("true" if value else "false")
        cases.append(f"WHEN '{name}' THEN {value_sql}")
    return f"(CASE replace({status}, ',', '，') {' '.join(cases)} END)"


def stage(con, files: list[tuple[Path, str]], source=None, table: str = "orders") -> Staged:
    """The report's rows as staged orders and customers; rows without an order id, a
    buyer, a creation time, a readable amount or a known status are rejected."""
    columns, rows_read, rejected = read_exports(con, files, FORMAT)
    col = pick(columns, files, COLUMNS, REQUIRED, "a Taobao/Tmall order report (订单报表)")
    clean_export(con, col, COLUMNS)
    paid = local_time("paid", TIME_FORMATS)
    shipped = (f"coalesce({local_time('shipped', TIME_FORMATS)}, "
               f"CASE WHEN {_status_case('status', 'close_reason', 1)} THEN {paid} END)")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE taobao_rows AS
        SELECT {FILE}, {FILE_NO}, {LINE}, order_id, sub_order, buyer AS customer_id,
          {local_time("created", TIME_FORMATS)} AS created_at, {paid} AS paid_at,
          {shipped} AS shipped_at, status AS raw_status,
          {_status_case("status", "close_reason", 0)} AS status,
          {_status_case("status", "close_reason", 2)} AS signed, {money("amount")} AS amount,
          amount AS raw_amount, receiver AS name, mobile AS phone,
          nullif(regexp_replace(split_part(address, ' ', 1), '{PROVINCE_SUFFIX}', ''), '')
            AS province, {local_time("signed", TIME_FORMATS)} AS signed_time
        FROM export_text""")
    rejected += rejected_rows(con, """CASE
        WHEN order_id IS NULL THEN 'no order id (订单编号)'
        WHEN customer_id IS NULL THEN 'order ' || order_id || ': no buyer (买家会员名)'
        WHEN created_at IS NULL THEN 'order ' || order_id || ': no creation time (订单创建时间)'
        WHEN amount IS NULL THEN 'order ' || order_id || ': amount ''' || coalesce(raw_amount, '')
             || ''' is not a number'
        WHEN amount < 0 THEN 'order ' || order_id || ': negative amount ' || raw_amount
        WHEN status IS NULL THEN 'order ' || order_id || ': unknown status ''' ||
             coalesce(raw_status, '') || ''''
        END""", "taobao_rows")
    con.execute("CREATE OR REPLACE TEMP VIEW taobao_ok AS SELECT * FROM taobao_rows "
                "WHERE order_id IS NOT NULL AND customer_id IS NOT NULL AND created_at IS NOT "
                "NULL AND amount >= 0 AND status IS NOT NULL")
    # One row per order: a later line of the same order (and sub-order) wins; sub-orders
    # add up (the amount of those not closed or refunded, unless all are).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE staged_orders AS
        WITH last AS (
          SELECT * FROM taobao_ok QUALIFY row_number() OVER (
            PARTITION BY order_id, coalesce(sub_order, '') ORDER BY {FILE_NO} DESC, {LINE} DESC) = 1
        )
        SELECT order_id, arg_max(customer_id, {LINE}) AS customer_id,
          min(created_at) AS created_at, min(paid_at) AS paid_at,
          max(shipped_at) AS shipped_at,
          CASE WHEN bool_and(signed) THEN coalesce(max(signed_time), max(shipped_at)) END
            AS signed_at,
          CAST(coalesce(sum(amount) FILTER (WHERE status IN ('paid', 'unpaid')), sum(amount))
               AS DECIMAL(12,2)) AS amount,
          CASE WHEN bool_or(status = 'paid') THEN 'paid' WHEN bool_or(status = 'unpaid')
               THEN 'unpaid' WHEN bool_or(status = 'refunded') THEN 'refunded'
               ELSE 'closed' END AS status,
          CAST(NULL AS VARCHAR) AS source
        FROM last GROUP BY order_id""")
    con.execute("""CREATE OR REPLACE TEMP TABLE staged_customers AS
        SELECT customer_id,
          arg_max(phone, created_at) FILTER (WHERE phone IS NOT NULL) AS phone,
          CAST(NULL AS VARCHAR) AS email, CAST(NULL AS VARCHAR) AS wechat_openid,
          customer_id AS nick, arg_max(name, created_at) FILTER (WHERE name IS NOT NULL) AS name,
          CAST(NULL AS DATE) AS birthday, CAST(NULL AS VARCHAR) AS gender,
          arg_max(province, created_at) FILTER (WHERE province IS NOT NULL) AS province,
          CAST(NULL AS INTEGER) AS city_tier, min(created_at) AS registered_at,
          CAST(NULL AS VARCHAR) AS source, CAST(NULL AS BOOLEAN) AS opt_out_sms,
          CAST(NULL AS BOOLEAN) AS opt_out_email, CAST(NULL AS BOOLEAN) AS opt_out_wechat,
          CAST(NULL AS BOOLEAN) AS opt_out_phone, CAST(NULL AS BOOLEAN) AS opt_out_all,
          max(created_at) AS last_order_at
        FROM taobao_ok GROUP BY customer_id""")
    return Staged(rows_read, ("orders", "customers"), rejected)
