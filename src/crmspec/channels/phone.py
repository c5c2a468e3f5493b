"""Phone calls: a call list for staff, one row per customer: who (id, name, the full
phone number), about what (the orders the trigger fired on: ids and amount, e.g. the
unpaid order of a payment-reminder call), when (the day and its calling hours) and the
script.

The number is not masked: staff dial it. Like every send file it is written only into
the build's output folder, never into logs. The list starts with a UTF-8 byte order
mark (option `bom`): it is opened in Excel.
"""

from __future__ import annotations

from crmspec import hookimpl
from crmspec.channels.base import (
    MOBILE_RE,
    WORKDAYS,
    Channel,
    Part,
    SendWindow,
    UnitCost,
    WriteContext,
    sql_str,
)
from crmspec.channels.orders import order_columns


class PhoneChannel(Channel):
    name = "phone"
    title = "Phone call"
    contact_field = "phone"
    address_pattern = MOBILE_RE
    opt_out_field = "opt_out_phone"
    windows = (
        SendWindow(WORKDAYS, "10:00", "12:00", note="crmspec default: working hours"),
        SendWindow(WORKDAYS, "14:00", "18:00", note="crmspec default: working hours"),
    )
    cost = UnitCost("call", 0.0, "staff time; set unit_cost to count it")
    parts = (Part("script", "call script", required=False, max_length=2000),)
    main_part = "script"

    for_people = True

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        join, orders = order_columns(ctx)
        day = (ctx.scheduled_at or ctx.as_of.isoformat())[:10]
        ctx.copy(f"SELECT r.customer_id, r.name, r.address AS phone, {orders}, "
                 f"{sql_str(day)} AS call_date, {sql_str(ctx.send_hours or '')} AS call_hours, "
                 f'{ctx.msg("script")} AS script '
                 f"FROM {ctx.rows} AS r {join} ORDER BY r.customer_id", rel)
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [PhoneChannel()]
