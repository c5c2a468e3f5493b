"""`crmspec import shopify`: Shopify's orders export (Orders > Export, CSV).

One row per line item; the order's own fields (Financial Status, Paid at, Total...) are
on its first row only, and `Name` (#1001) is the order. Times carry their UTC offset
(`2026-02-03 10:00:00 +0800`) and become the shop's local time (shop.yaml timezone).

What each column becomes (docs/data.md, "Shopify orders export"):
- `Financial Status`: paid and partially_refunded -> paid (the amount less `Refunded
  Amount`), refunded -> refunded, pending / authorized / partially_paid -> unpaid (closed
  when `Cancelled at` is set), voided and expired -> closed;
- `Paid at` paid_at, `Fulfilled at` shipped_at, `Created at` created_at, `Total` amount;
- the customer is the email (lower-cased), else the phone (`Phone`, then the billing and
  shipping phones; +86 numbers as their 11 digits); `Accepts Marketing` no -> opted out
  of email; name from `Billing Name`, province from `Shipping Province`.
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

FORMAT = CsvFormat(encoding="utf-8", delimiter=",", header=True)

COLUMNS = {
    "name": ("Name",),
    "email": ("Email",),
    "financial": ("Financial Status",),
    "paid": ("Paid at",),
    "fulfilled": ("Fulfilled at",),
    "created": ("Created at",),
    "cancelled": ("Cancelled at",),
    "total": ("Total",),
    "refunded": ("Refunded Amount",),
    "accepts": ("Accepts Marketing", "Accepts Email Marketing"),
    "phone": ("Phone",),
    "billing_phone": ("Billing Phone",),
    "shipping_phone": ("Shipping Phone",),
    "billing_name": ("Billing Name",),
    "province": ("Shipping Province Name", "Shipping Province"),
    "source": ("Source",),
}
REQUIRED = ("name", "financial", "created", "total")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S")
STATUSES = {"paid": "paid", "partially_refunded": "paid", "refunded": "refunded",
            "pending": "unpaid", "authorized": "unpaid", "partially_paid": "unpaid",
            "voided": "closed", "expired": "closed"}


def _phone(role: str) -> str:
    """Digits and a leading +; +86 mainland numbers as their 11 digits."""
    digits = f"regexp_replace({role}, '[^0-9+]', '', 'g')"
    return f"nullif(regexp_replace({digits}, '^(\\+86|0086)(1[3-9][0-9]{{9}})$', '\\2'), '')"


def stage(con, files: list[tuple[Path, str]], source=None, table: str = "orders") -> Staged:
    """The export's orders (their first rows) and customers; an order without a
    creation time, a readable total, a known financial status or any customer contact
    (email or phone) is rejected."""
    columns, rows_read, rejected = read_exports(con, files, FORMAT)
    col = pick(columns, files, COLUMNS, REQUIRED, "a Shopify orders export")
    clean_export(con, col, COLUMNS)
    statuses = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STATUSES.items())
    cancelled = local_time("cancelled", TIME_FORMATS)
    phone = f"coalesce({_phone('phone')}, {_phone('billing_phone')}, {_phone('shipping_phone')})"
    # The order's own row: its first line (line items follow without order fields).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE shopify_rows AS
        SELECT {FILE}, {FILE_NO}, {LINE}, name AS order_id, lower(email) AS email,
          {phone} AS phone, lower(financial) AS financial,
          CASE WHEN lower(financial) IN ('pending', 'authorized') AND {cancelled} IS NOT NULL
               THEN 'closed' ELSE CASE lower(financial) {statuses} END END AS status,
          {local_time("created", TIME_FORMATS)} AS created_at,
          {local_time("paid", TIME_FORMATS)} AS paid_at,
          {local_time("fulfilled", TIME_FORMATS)} AS shipped_at,
          {money("total")} AS total, total AS raw_total,
          coalesce({money("refunded")}, 0) AS refunded, lower(accepts) AS accepts,
          billing_name AS name, province, source
        FROM export_text
        WHERE name IS NULL OR financial IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY name ORDER BY {FILE_NO} DESC, {LINE}) = 1""")
    rejected += rejected_rows(con, """CASE
        WHEN order_id IS NULL THEN 'no order name (Name)'
        WHEN created_at IS NULL THEN 'order ' || order_id || ': no creation time (Created at)'
        WHEN total IS NULL THEN 'order ' || order_id || ': Total ''' || coalesce(raw_total, '')
             || ''' is not a number'
        WHEN status IS NULL THEN 'order ' || order_id || ': unknown Financial Status '''
             || coalesce(financial, '') || ''''
        WHEN email IS NULL AND phone IS NULL THEN 'order ' || order_id
             || ': no customer (neither Email nor Phone)'
        END""", "shopify_rows")
    con.execute("""CREATE OR REPLACE TEMP VIEW shopify_ok AS
        SELECT *, coalesce(email, phone) AS customer_id FROM shopify_rows
        WHERE order_id IS NOT NULL AND created_at IS NOT NULL AND total IS NOT NULL
          AND status IS NOT NULL AND (email IS NOT NULL OR phone IS NOT NULL)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE staged_orders AS
        SELECT order_id, customer_id, created_at, paid_at, shipped_at,
          CAST(NULL AS TIMESTAMP) AS signed_at,
          CAST(CASE WHEN financial = 'partially_refunded' THEN total - refunded ELSE total END
               AS DECIMAL(12,2)) AS amount, status, source
        FROM shopify_ok""")
    con.execute("""CREATE OR REPLACE TEMP TABLE staged_customers AS
        SELECT customer_id,
          arg_max(phone, created_at) FILTER (WHERE phone IS NOT NULL) AS phone,
          arg_max(email, created_at) FILTER (WHERE email IS NOT NULL) AS email,
          CAST(NULL AS VARCHAR) AS wechat_openid, CAST(NULL AS VARCHAR) AS nick,
          arg_max(name, created_at) FILTER (WHERE name IS NOT NULL) AS name,
          CAST(NULL AS DATE) AS birthday, CAST(NULL AS VARCHAR) AS gender,
          arg_max(province, created_at) FILTER (WHERE province IS NOT NULL) AS province,
          CAST(NULL AS INTEGER) AS city_tier, min(created_at) AS registered_at,
          CAST(NULL AS VARCHAR) AS source, CAST(NULL AS BOOLEAN) AS opt_out_sms,
          arg_max(accepts = 'no', created_at) FILTER (WHERE accepts IN ('yes', 'no'))
            AS opt_out_email,
          CAST(NULL AS BOOLEAN) AS opt_out_wechat, CAST(NULL AS BOOLEAN) AS opt_out_phone,
          CAST(NULL AS BOOLEAN) AS opt_out_all, max(created_at) AS last_order_at
        FROM shopify_ok GROUP BY customer_id""")
    return Staged(rows_read, ("orders", "customers"), rejected)
