"""Mask contact details wherever people (logs, terminal, site) can see them.

Send files carry real addresses because a provider needs them; nothing else does.
"""

from __future__ import annotations

import re

# A mainland mobile number in free text: an optional country code (+86, 0086, 86), then
# 1[3-9]x and two groups of 4 digits, written together or grouped by a space or hyphen
# (138 1234 5678); never the middle of a longer run of digits.
_PHONE = re.compile(r"(?<!\d)((?:\+|00)?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")


def mask_phone(phone: str) -> str:
    """138****5678: enough to recognise a number, not to call it. Shorter than 10 digits
    (a landline without its area code, a truncated number), first 3 and last 4 would
    leave almost nothing hidden: every digit is masked."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 10:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_email(email: str) -> str:
    """a***@qq.com: the domain matters for deliverability, the person does not. The
    domain is what follows the last @ (an @ inside the local part stays hidden)."""
    local, at, domain = email.rpartition("@")
    if not (at and domain):  # no @, or nothing after it: not an address
        return mask_value(local if at else domain)
    return local[:1] + "***@" + domain


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
    text = _PHONE.sub(lambda m: (m.group(1) or "") + m.group(2) + "****" + m.group(4), text)
    return _EMAIL.sub(lambda m: m.group(1) + "***@" + m.group(2), text)
