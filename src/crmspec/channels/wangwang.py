"""Wangwang (旺旺), the platform's chat: a list of buyer nicks and messages for staff or
a chat-assistant tool to send."""

from __future__ import annotations

from crmspec import hookimpl
from crmspec.channels.base import EVERY_DAY, Channel, Part, SendWindow, UnitCost, WriteContext


class WangwangChannel(Channel):
    name = "wangwang"
    title = "Wangwang chat"
    contact_field = "nick"
    windows = (SendWindow(EVERY_DAY, "09:00", "22:00",
                          note="crmspec default: customer-service hours"),)
    cost = UnitCost("message", 0.0, "staff time; set unit_cost to count it")
    parts = (Part("text", "chat message", max_length=500),)
    main_part = "text"

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        ctx.copy(f'SELECT address AS nick, {ctx.msg("text")} AS message FROM {ctx.table} '
                 "ORDER BY customer_id", rel)
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [WangwangChannel()]
