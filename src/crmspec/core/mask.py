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


def mask_value_sql(expr: str) -> str:
    """`mask_value` in SQL, for files DuckDB writes (the audience lists): the same rules
    for every address a channel accepts (a mobile number, an email, an openid or nick),
    so a list for review shows `138****5678`, `a***@qq.com`, `t*****k`.

    The two usual shapes first, each by one regular expression and giving what the
    general rules below give for it: a number of 10 or more digits, and an address
    with one @ (not first, no line break before it); the general rules' five to seven
    regular expressions per value were most of the audience lists' masking (at 1M
    customers 0.4 CPU s against 0.15)."""
    return (f"CASE WHEN regexp_full_match({expr}, '[0-9]{{10,}}') THEN "
            f"left({expr}, 3) || repeat('*', length({expr}) - 7) || right({expr}, 4) "
            f"WHEN regexp_full_match({expr}, '[^@\\n]+@[^@]+') THEN "
            f"left({expr}, 1) || '***@' || split_part({expr}, '@', 2) "
            f"ELSE {mask_rules_sql(expr)} END")


def mask_rules_sql(expr: str) -> str:
    """The general rules of `mask_value_sql`, for every value."""
    digits = f"regexp_replace({expr}, '[^0-9]', '', 'g')"
    return (f"CASE WHEN {expr} IS NULL THEN NULL "
            f"WHEN regexp_matches({expr}, '@[^@]+$') THEN "
            f"left(regexp_extract({expr}, '^(.*)@[^@]+$', 1), 1) || '***@' || "
            f"regexp_extract({expr}, '@([^@]+)$', 1) "
            f"WHEN length({digits}) >= 7 AND NOT regexp_matches({expr}, '[A-Za-z]') THEN "
            f"CASE WHEN length({digits}) < 10 THEN repeat('*', length({digits})) "
            f"ELSE left({digits}, 3) || repeat('*', length({digits}) - 7) || right({digits}, 4) "
            "END "
            f"WHEN length({expr}) <= 2 THEN repeat('*', length({expr})) "
            f"ELSE left({expr}, 1) || repeat('*', least(length({expr}) - 2, 6)) || "
            f"right({expr}, 1) END")


def mask_data(value):
    """Every string inside a JSON-able value (a manifest) through `mask_text`."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_data(v) for v in value]
    return value
