"""WeChat template messages: JSON lines as the official account's send API takes them.

Each line is `{"touser": openid, "template_id": ..., "url": ..., "data": {field:
{"value": text}}}`. The data fields are the template's parts: a template `x` gives field
`first` in `x.wechat.first.j2`, `keyword1` in `x.wechat.keyword1.j2`, and so on (the
names the template registered on WeChat's side uses). Customers without an openid are
suppressed by the build as `no_address`, like every channel's missing addresses.
"""

from __future__ import annotations

from crmspec import hookimpl
from crmspec.channels.base import (
    EVERY_DAY,
    Channel,
    Part,
    SendWindow,
    UnitCost,
    WriteContext,
    sql_ident,
    sql_str,
)


class WechatChannel(Channel):
    name = "wechat"
    title = "WeChat template message"
    contact_field = "wechat_openid"
    address_pattern = r"^[A-Za-z0-9_-]{20,64}$"
    opt_out_field = "opt_out_wechat"
    windows = (SendWindow(EVERY_DAY, "09:00", "21:00",
                          note="crmspec default (the sources give no WeChat times)"),)
    cost = UnitCost("message", 0.0, "template messages are free")
    parts = ()
    open_part = Part("field", "data field", required=False, max_length=200)
    file_ext = "jsonl"
    options = {
        "template_id": {
            "type": "string",
            "minLength": 1,
            "description": "The WeChat template id (from the official account's template "
            "library).",
        },
        "url": {
            "type": "string",
            "description": "Page the message opens (optional).",
        },
    }

    def not_ready(self, activity, options, parts):
        if not parts:
            return ("the activity has no template (add `template: <name>` and "
                    "<name>.wechat.<field>.j2 files)")
        if not options.get("template_id"):
            return "channel_options.template_id is not set"
        return None

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("jsonl")
        fields = ", ".join(f"{sql_ident(p)} := struct_pack(value := {ctx.msg(p)})"
                           for p in sorted(ctx.parts))
        url = ctx.options.get("url")
        ctx.copy(
            f"SELECT address AS touser, {sql_str(ctx.options['template_id'])} AS template_id, "
            f"{sql_str(url) if url else 'NULL::VARCHAR'} AS url, "
            f"struct_pack({fields}) AS data, "
            f"{sql_str(ctx.scheduled_at or ctx.as_of.isoformat())} AS send_at "
            f"FROM {ctx.table}",  # in customer order (WriteContext.table)
            rel, fmt="json",
        )
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [WechatChannel()]
