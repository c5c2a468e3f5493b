"""Channels a plan can send through: the interface (`base`) and the built-in channels,
one module each, registered as default plugins (see `crmspec.plugins`)."""

from crmspec.channels.base import (
    EMAIL_RE,
    MOBILE_RE,
    Channel,
    Part,
    SendWindow,
    UnitCost,
    WriteContext,
)

BUILTIN_MODULES = (
    "crmspec.channels.sms",
    "crmspec.channels.email",
    "crmspec.channels.wechat",
    "crmspec.channels.wangwang",
    "crmspec.channels.parcel",
    "crmspec.channels.phone",
)


def builtin_channels() -> dict[str, Channel]:
    """The built-in channels by name, without a plugin manager (for the committed schemas)."""
    from importlib import import_module

    out: dict[str, Channel] = {}
    for mod in BUILTIN_MODULES:
        for ch in import_module(mod).register_channels():
            out[ch.name] = ch
    return out


__all__ = ["EMAIL_RE", "MOBILE_RE", "BUILTIN_MODULES", "Channel", "Part", "SendWindow",
           "UnitCost", "WriteContext", "builtin_channels"]
