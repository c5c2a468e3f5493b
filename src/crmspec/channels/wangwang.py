"""Wangwang (旺旺), the platform's chat: a list for staff or a chat-assistant tool, one
row per customer: the buyer nick, the message, when to send it (the first slot and the
day's hours) and the orders the trigger fired on (ids and amount: the unpaid order a
payment reminder is about). A staff list: UTF-8 with a byte order mark (option `bom`)."""

from __future__ import annotations

from crmspec import hookimpl
from crmspec.channels.base import (
    EVERY_DAY,
    Channel,
    Part,
    SendWindow,
    UnitCost,
    WriteContext,
    sql_str,
)
from crmspec.channels.orders import order_columns


class WangwangChannel(Channel):
    name = "wangwang"
    title = "Wangwang chat"
    contact_field = "nick"
    windows = (SendWindow(EVERY_DAY, "09:00", "22:00",
                          note="crmspec default: customer-service hours"),)
    cost = UnitCost("message", 0.0, "staff time; set unit_cost to count it")
    parts = (Part("text", "chat message", max_length=500),)
    main_part = "text"

    for_people = True

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        join, orders = order_columns(ctx)
        when = sql_str(ctx.scheduled_at or ctx.as_of.isoformat())
        ctx.copy(f'SELECT r.address AS nick, {ctx.msg("text")} AS message, {when} AS send_at, '
                 f"{sql_str(ctx.send_hours or '')} AS send_hours, {orders} "
                 f"FROM {ctx.table} AS r {join} ORDER BY r.customer_id", rel)
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [WangwangChannel()]
