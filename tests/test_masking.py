"""Masking: phone numbers and emails never reach the terminal or logs unmasked.

The rule (crmspec.core.mask): a mainland mobile number (1, then 3-9, then 9 digits; not
part of a longer run of digits) inside text shows its first 3 and last 4 digits; an
email its first character and its domain; a contact value shown on its own (a data
problem's example, `crmspec explain`) keeps at most the first 3 and last 4 digits of a
number of 10 or more digits and hides shorter ones entirely.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from crmspec.cli import main
from crmspec.core.mask import mask_email, mask_phone, mask_text, mask_value

PREFIXES = [f"1{d}{e}" for d in range(3, 10) for e in (0, 9)]  # 130, 139, ..., 190, 199


def test_every_mobile_prefix_13x_to_19x_is_masked_on_the_terminal(tiny):
    """Masking rule for text, through the CLI: a plugin's error message naming numbers of
    every mobile prefix from 130 to 199 and an email is printed masked."""
    numbers = [p + "12345678" for p in PREFIXES]
    (tiny / "plugins").mkdir()
    (tiny / "plugins/leaky.py").write_text(
        "from crmspec import hookimpl\n\n\n@hookimpl\ndef register_channels():\n"
        f"    raise ValueError('no route to {' '.join(numbers)} or wang.er@qq.com')\n",
        encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--project", str(tiny)])
    assert result.exit_code == 1
    masked = " ".join(p + "****5678" for p in PREFIXES)
    assert result.stderr.splitlines()[0] == (
        "plugins/leaky.py:6:1: error[E502]: plugin 'leaky': hook register_channels failed: "
        f"ValueError: no route to {masked} or w***@qq.com")
    assert not any(n in result.output for n in numbers)


@pytest.mark.parametrize("text, shown", [
    ("call 13812345678.", "call 138****5678."),
    ("19912345678", "199****5678"),
    ("id:16612345678,", "id:166****5678,"),
    ("+8613812345678", "+86138****5678"),
    ("0086 13812345678", "0086 138****5678"),
    ("138 1234 5678", "138****5678"),
    ("138-1234-5678", "138****5678"),
    # not mobile numbers: a 12x prefix, 10 or 12 digits, part of a longer number
    ("12012345678", "12012345678"),
    ("1381234567", "1381234567"),
    ("138123456789", "138123456789"),
    ("order 9913812345678", "order 9913812345678"),
])
def test_mobile_numbers_in_text(text, shown):
    assert mask_text(text) == shown


@pytest.mark.parametrize("text, shown", [
    ("mail a@qq.com now", "mail a***@qq.com now"),
    ("<wang.er+crm@mail.163.com>", "<w***@mail.163.com>"),
    ("no address here @ all", "no address here @ all"),
])
def test_emails_in_text(text, shown):
    assert mask_text(text) == shown


@pytest.mark.parametrize("value, shown", [
    ("13812345678", "138****5678"),
    ("1380000013", "138***0013"),  # 10 digits: the data checks' example of a bad phone
    ("138-0000-1234", "138****1234"),
    ("123456789", "*********"),  # shorter than a mobile number: nothing shown
    ("1234567", "*******"),
])
def test_phone_values(value, shown):
    assert mask_phone(value) == shown
    assert mask_value(value) == shown


def test_mask_email_of_something_that_is_not_an_address():
    assert (mask_email("wangwu"), mask_email("wangwu@")) == ("w****u", "w****u")


def test_values_with_few_digits_are_opaque_ids_not_phones():
    """Fewer than 7 digits: not a phone to mask_value (first and last character kept)."""
    assert (mask_value("123456"), mask_phone("123456")) == ("1****6", "******")


@pytest.mark.parametrize("value, shown", [
    ("wang.er@qq.com", "w***@qq.com"),
    ("x@163.com", "x***@163.com"),
    ("wang@er@qq.com", "w***@qq.com"),  # the domain follows the last @
    ("wang@", "w**g"),  # nothing after the @: an opaque value
    ("AB12345678", "A******8"),  # letters, upper or lower case: not a phone number
    ("ab12345678", "a******8"),
    ("oWx1234567890abcdefghij", "o******j"),  # an openid: first and last character
    ("小甜甜", "小*甜"),
    ("ab", "**"),
])
def test_email_and_opaque_values(value, shown):
    assert mask_value(value) == shown
    if "@" in value:
        assert mask_email(value) == shown
