"""Each bound of docs/security.md ("Limits") just inside and just outside: the template
limits on the environment validate and build render with (crmspec.templates.environment),
the segment expansion limits on the plan checks validate runs, the attribute types."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmspec.plan.checks import segments as segment_checks
from crmspec.templates import limits
from crmspec.templates.environment import make_environment
from crmspec.templates.limits import TemplateLimitError
from crmspec.validate import validate_project

TINY = Path(__file__).parent / "fixtures" / "tiny"


def render(source: str) -> str:
    return make_environment(TINY, {}).from_string(source).render()


@pytest.mark.parametrize("inside,outside,message", [
    ("{{ range(10000)|length }}", "{{ range(10001)|length }}", "asks for a range of 10,001"),
    ("{% for i in range(100) %}{% for j in range(99) %}{% endfor %}{% endfor %}",
     "{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}",
     "loops more than 10,000 times"),
    ("{{ ('x' * 100000)|length }}", "{{ ('x' * 100001)|length }}", "repeats a value 100,001"),
    ("{{ (2 ** 4095) % 7 }}", "{{ (2 ** 4096) % 7 }}", "raises a number to the power 4,096"),
    ("{{ (2 ** 2047 * 2 ** 2048) % 7 }}", "{{ (2 ** 2048 * 2 ** 2048) % 7 }}",
     "multiplies numbers over the size limit"),
    ("{{ 'x'|center(100000)|length }}", "{{ 'x'|center(100001)|length }}",
     "asks for a width of 100,001"),
    ("{{ ('%100000d' % 1)|length }}", "{{ ('%100001d' % 1)|length }}",
     "asks for a width of 100,001"),
    ("{{ '{:>100000}'.format(1)|length }}", "{{ '{:>100001}'.format(1)|length }}",
     "asks for a width of 100,001"),
    ("{{ ((['x' * 10000] * 10)|join)|length }}", "{{ ((['x' * 10000] * 10)|join('y'))|length }}",
     "joins text beyond the size limit"),
    ("{{ 'x' * 50000 }}{{ 'x' * 50000 }}", "{{ 'x' * 50000 }}{{ 'x' * 50001 }}",
     "renders more than 100,000 characters"),
])
def test_template_limit_both_sides(inside: str, outside: str, message: str) -> None:
    render(inside)
    with pytest.raises(TemplateLimitError, match=message):
        render(outside)


def test_calls_limit_both_sides() -> None:
    # one call (`x.upper()`) per iteration, plus the range() call itself
    render("{% for i in range(9999) %}{{ 'a'.upper() }}{% endfor %}")
    with pytest.raises(TemplateLimitError, match="makes more than 10,000 calls"):
        render("{% for i in range(10000) %}{{ 'a'.upper() }}{% endfor %}")


def test_budget_is_per_rendering() -> None:
    template = make_environment(TINY, {}).from_string(
        "{% for i in range(10000) %}{% endfor %}ok")
    assert [template.render() for _ in range(3)] == ["ok", "ok", "ok"]


def test_limits_are_the_documented_ones() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "security.md").read_text(encoding="utf-8")
    assert (limits.MAX_ITEMS, limits.MAX_CALLS, limits.MAX_TEXT, limits.MAX_INT_BITS) == \
        (10_000, 10_000, 100_000, 4_096)
    for text in ("| loop iterations | 10,000 |", "| calls | 10,000 |",
                 "| size of a value | 100,000 characters or items |",
                 "| size of a number | 4,096 bits |", "| rendered text | 100,000 characters |",
                 "| segments inside segments | 32 ", "segments it names copied in | 10,000 |"):
        assert text in doc
    assert (segment_checks.MAX_SEGMENT_DEPTH, segment_checks.MAX_SEGMENT_TESTS) == (32, 10_000)


def _plan_with(tmp_path: Path, extra: str) -> Path:
    import shutil

    root = tmp_path / "shop"
    shutil.copytree(TINY, root)
    seg = root / "plans" / "segments.yaml"
    seg.write_text(seg.read_text(encoding="utf-8").rstrip("\n") + "\n" + extra, encoding="utf-8")
    return root


def _codes(root: Path) -> list[tuple[int, str, str]]:
    return [(d.line, d.code, d.message) for d in validate_project(root).diagnostics
            if d.code in ("E314", "E201")]


def test_segment_tests_limit_both_sides(tmp_path: Path, monkeypatch) -> None:
    # base has 3 tests, mid and mid2 1 + 3 each; top 1 + 3 + 4 + 4 = 12 tests
    monkeypatch.setattr(segment_checks, "MAX_SEGMENT_TESTS", 12)
    extra = ("  - id: base\n    name: b\n    where: {stage: active, purchases: {min: 1}, "
             "spend: {min: 1}}\n"
             "  - id: mid\n    name: m\n    where: {in_segment: base}\n"
             "  - id: mid2\n    name: m2\n    where: {in_segment: base}\n"
             "  - id: top\n    name: t\n    where: {in_segment: [base, mid, mid2]}\n")
    assert _codes(_plan_with(tmp_path / "a", extra)) == []
    over = extra.replace("{in_segment: [base, mid, mid2]}",
                         "{in_segment: [base, mid, mid2], stage: active}")
    assert _codes(_plan_with(tmp_path / "b", over)) == [
        (49, "E314", "segment 'top' has 13 tests once the segments it names are copied in; "
                     "at most 12 are allowed")]


def test_integer_attribute_range_both_sides(tmp_path: Path) -> None:
    line = "      sql: \"province = '浙江' AND gender = 'F'\""
    for value, expected in ((2**31 - 1, []), (2**31, [
            (31, "E201", f"attribute 'city_tier' is a whole number (INTEGER): {2**31} is not")])):
        root = tmp_path / str(value)
        import shutil

        shutil.copytree(TINY, root)
        seg = root / "plans" / "segments.yaml"
        seg.write_text(seg.read_text(encoding="utf-8").replace(
            line, f"      attributes: {{city_tier: {value}}}"), encoding="utf-8")
        assert _codes(root) == expected


def test_a_long_chain_is_one_error_at_its_innermost_segment_over_the_limit(tmp_path: Path) -> None:
    """chain_k names chain_(k-1), so chain_k is nested k + 1 deep: chain_31 is at the
    limit (32), chain_32 .. chain_39 are over it because of chain_32, which alone is
    reported, with the seven that name it counted."""
    extra = "  - id: chain_0\n    name: c0\n    where: {stage: active}\n" + "".join(
        f"  - id: chain_{k}\n    name: c{k}\n    where: {{in_segment: chain_{k - 1}}}\n"
        for k in range(1, 40))
    (line, code, message), = _codes(_plan_with(tmp_path, extra))
    assert code == "E314"
    assert message == ("segment 'chain_32' is nested 33 segments deep through "
                       "in_segment/not_in_segment; at most 32 are allowed (7 more segments "
                       "naming it, directly or not, over the limit because of it)")
    short = "".join(extra.splitlines(keepends=True)[:3 * 32])  # chain_0 .. chain_31
    assert _codes(_plan_with(tmp_path / "short", short)) == []
