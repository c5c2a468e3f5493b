"""Channels a plan can send through.

A channel knows which customer field carries its address and which addresses are
valid. The build uses that to put the address on each send-list row and to leave out
customers who cannot be reached on that channel.
"""

from __future__ import annotations

from dataclasses import dataclass

# A valid mainland China mobile number, as SMS gateways accept it.
MOBILE_RE = r"^1[3-9][0-9]{9}$"
EMAIL_RE = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"


@dataclass(frozen=True)
class Channel:
    name: str
    title: str
    contact_field: str  # customers column holding the address
    address_pattern: str | None = None  # regular expression a usable address matches
    opt_out_field: str | None = None  # customers column flagging an opt-out


BUILTIN_CHANNELS = (
    Channel("sms", "SMS", "phone", MOBILE_RE, "opt_out_sms"),
    Channel("email", "Email / EDM", "email", EMAIL_RE, "opt_out_email"),
    Channel("wechat", "WeChat template message", "wechat_openid", r"^[A-Za-z0-9_-]{20,64}$",
            "opt_out_wechat"),
    Channel("wangwang", "Wangwang chat", "nick", None, None),
    Channel("parcel", "Parcel insert", "customer_id", None, None),
    Channel("phone", "Phone call", "phone", MOBILE_RE, "opt_out_phone"),
)


def available_channels() -> dict[str, Channel]:
    return {c.name: c for c in BUILTIN_CHANNELS}
