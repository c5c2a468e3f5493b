"""Phone calls: a call list for staff (customer, name, full phone number, call script).

The number is not masked: staff dial it. Like every send file it is written only into
the build's output folder, never into logs.
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
)


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

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        ctx.copy(f'SELECT customer_id, name, address AS phone, {ctx.msg("script")} AS script '
                 f"FROM {ctx.rows} ORDER BY customer_id", rel)
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [PhoneChannel()]
