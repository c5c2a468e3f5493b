"""Channels a plan can send through: the interface (`base`) and the built-in channels,
one module each, registered as default plugins (see `crmspec.plugins`).

This package is public API for plugins: `Channel`, `Part`, `SendWindow`, `UnitCost`,
`WriteContext` and the address patterns are imported from here.
May import: `crmspec.compile`, `crmspec.plan`, `crmspec.core` (and `crmspec.hookimpl`).
"""

from crmspec.channels.base import (
    EMAIL_RE,
    MOBILE_RE,
    Channel,
    Part,
    SendWindow,
    UnitCost,
    WriteContext,
)
from crmspec.plan.schemas import build_schemas

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


def builtin_schemas() -> dict[str, dict]:
    """The plan's JSON Schemas with the built-in channels' options: what the committed
    `schemas/*.schema.json` files hold."""
    return build_schemas(builtin_channels())


__all__ = ["EMAIL_RE", "MOBILE_RE", "BUILTIN_MODULES", "Channel", "Part", "SendWindow",
           "UnitCost", "WriteContext", "builtin_channels", "builtin_schemas"]
