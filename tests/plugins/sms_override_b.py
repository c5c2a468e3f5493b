"""A second test plugin replacing sms: registered after sms_override (file name order)."""

from crmspec import hookimpl
from crmspec.channels.sms import SmsChannel


class ThirdGatewaySms(SmsChannel):
    title = "SMS (third gateway)"


@hookimpl
def register_channels():
    return [ThirdGatewaySms()]
