"""SMS: a CSV for SMS gateways' bulk import (phone, content, scheduled time, segments).

Content rules enforced here (documented in docs/plugins.md):
- the signature prefix 【shop name】 (option `signature`, default the shop's name) is
  added when the message does not start with it: gateways reject unsigned messages;
- marketing messages (activities that are not `service: true`) end with the opt-out
  text (option `opt_out_text`, default 回T退订), added after a space when the message
  does not already end with it;
- length is counted in characters (Unicode code points): one segment holds 70, a
  longer message is sent in segments of 67. Segments drive the cost (0.05 CNY each by
  default) and the limit (option `max_segments`, default 2) that `validate` checks
  against the longest plausible rendering.
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
    sms_segments_sql,
    sql_str,
)


class SmsChannel(Channel):
    name = "sms"
    title = "SMS"
    contact_field = "phone"
    address_pattern = MOBILE_RE
    opt_out_field = "opt_out_sms"
    windows = (
        SendWindow(WORKDAYS, "10:00", "12:00", ("marketing",),
                   "marketing SMS: working days, working hours"),
        SendWindow(WORKDAYS, "14:00", "17:00", ("marketing",),
                   "marketing SMS: working days, working hours"),
        SendWindow(WORKDAYS, "08:00", "09:00", ("maintenance",),
                   "care SMS: working days, around commuting hours"),
        SendWindow(WORKDAYS, "17:30", "19:00", ("maintenance",),
                   "care SMS: working days, around commuting hours"),
    )
    cost = UnitCost("segment", 0.05, "per 70-character segment (67 when concatenated)")
    parts = (Part("text", "message text"),)
    main_part = "text"
    options = {
        "signature": {
            "type": "string",
            "minLength": 1,
            "maxLength": 20,
            "description": "Signature shown as 【signature】 at the start of every message; "
            "default: the shop's name.",
        },
        "opt_out_text": {
            "type": "string",
            "minLength": 1,
            "default": "回T退订",
            "description": "Opt-out text that ends every marketing message (not service "
            "messages).",
        },
        "max_segments": {
            "type": "integer",
            "minimum": 1,
            "maximum": 7,
            "default": 2,
            "description": "Longest message allowed, in segments (1 segment: 70 characters; "
            "n segments: 67 x n).",
        },
    }

    def signature(self, options: dict, plan) -> str:
        return "【" + (options.get("signature") or plan.shop.name) + "】"

    def finish(self, part, text, activity, options, plan):
        sig = self.signature(options, plan)
        if not text.startswith(sig):
            text = sig + text
        opt_out = options.get("opt_out_text") or ""
        if opt_out and not activity.service and not text.endswith(opt_out):
            text += " " + opt_out
        return text

    def limit(self, part, options):
        n = int(options.get("max_segments", 2))
        return 70 if n == 1 else 67 * n

    def limit_note(self, part, options):
        n = int(options.get("max_segments", 2))
        return f"{n} SMS segment{'s' if n > 1 else ''} (max_segments)"

    def units_sql(self, options):
        return sms_segments_sql('"msg_text"')

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        when = sql_str(ctx.scheduled_at or ctx.as_of.isoformat())
        ctx.copy(
            f'SELECT address AS phone, {ctx.msg("text")} AS content, {when} AS scheduled_at, '
            f"{self.units_sql(ctx.options)} AS segments FROM {ctx.table}",  # in customer order
            rel,
        )
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [SmsChannel()]
