"""A test plugin replacing the built-in sms channel (another gateway's CSV format)."""

from crmspec import hookimpl
from crmspec.channels.sms import SmsChannel


class OtherGatewaySms(SmsChannel):
    title = "SMS (other gateway)"

    def write(self, ctx):
        rel, _ = ctx.target("csv")
        ctx.copy(f"SELECT address AS mobile, {ctx.msg('text')} AS msg FROM {ctx.rows} "
                 "ORDER BY customer_id", rel)
        return [rel]


@hookimpl
def register_channels():
    return [OtherGatewaySms()]
