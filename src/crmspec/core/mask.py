"""Mask contact details wherever people (logs, terminal, site) can see them.

Send files carry real addresses because a provider needs them; nothing else does.
"""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")


def mask_phone(phone: str) -> str:
    """138****5678: enough to recognise a number, not to call it."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_email(email: str) -> str:
    """a***@qq.com: the domain matters for deliverability, the person does not."""
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else mask_value(local)


def mask_value(value: str) -> str:
    """Mask any contact value: a phone, an email, or an opaque id (openid, nick)."""
    if "@" in value:
        return mask_email(value)
    if sum(c.isdigit() for c in value) >= 7 and not re.search(r"[A-Za-z]", value):
        return mask_phone(value)
    if len(value) <= 2:
        return "*" * len(value)
    return value[:1] + "*" * min(len(value) - 2, 6) + value[-1:]


def mask_text(text: str) -> str:
    """Mask every phone number and email inside free text (log lines, messages)."""
    text = _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    return _EMAIL.sub(lambda m: m.group(1) + "***@" + m.group(2), text)
