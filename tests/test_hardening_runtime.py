"""The corpus of bad filters, templates and data files (tests/corpus/, issue 17
failures 5-7), each run through the real CLI on a copy of the tiny shop: exit 1, a
located diagnostic (`path:line:col: error[CODE]`) at the right place, no traceback,
no internal error, and quickly (a template that would loop 10^10 times fails in
seconds, not hours).

- corpus/filters/static.txt: `sql:` filters validate refuses (E309, at the filter);
- corpus/filters/on_data.txt: filters only the shop's data breaks (build: E313);
- corpus/filters/attributes.txt: attribute tests of the wrong type (E201);
- corpus/templates/*.j2: templates that would hang or exhaust memory (E512, E515);
- corpus/data/<case>/: files laid over the tiny shop's data (shop.yaml over its plan);
  the 10 MB CSV line is made here rather than kept in the repository.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmspec.cli import main

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
TINY = HERE / "fixtures" / "tiny"
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
FILTER_LINE = "      sql: \"province = '浙江' AND gender = 'F'\""  # segments.yaml, line 31


def _lines(name: str) -> list[str]:
    text = (CORPUS / "filters" / name).read_text(encoding="utf-8")
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _shop(tmp_path: Path, segment_line: str | None = None) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(TINY, root)
    if segment_line is not None:
        seg = root / "plans" / "segments.yaml"
        text = seg.read_text(encoding="utf-8")
        assert text.splitlines()[30] == FILTER_LINE
        seg.write_text(text.replace(FILTER_LINE, segment_line), encoding="utf-8")
    return root


def _run(root: Path, *args: str) -> tuple[int, str]:
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(main, [*args, "--project", str(root)], env=ENV)
    out = result.stdout + (result.stderr or "")
    assert "Traceback" not in out and "internal error" not in out, out
    assert result.exception is None or isinstance(result.exception, SystemExit), out
    return result.exit_code, out


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize("sql", _lines("static.txt"))
def test_filter_refused_by_validate(tmp_path: Path, sql: str) -> None:
    root = _shop(tmp_path, f"      sql: {_yaml_str(sql)}")
    code, out = _run(root, "validate")
    assert code == 1, out
    assert re.search(r"^plans/segments\.yaml:31:\d+: error\[E309\]: SQL filter: ", out, re.M), out
    code, out = _run(root, "build", "--dry-run")  # the build refuses it the same way
    assert code == 1 and "error[E309]" in out, out


@pytest.mark.parametrize("sql", _lines("on_data.txt"))
def test_filter_failing_on_the_data_is_located(tmp_path: Path, sql: str) -> None:
    root = _shop(tmp_path, f"      sql: {_yaml_str(sql)}")
    assert _run(root, "validate")[0] == 0
    code, out = _run(root, "build")
    assert code == 1, out
    assert re.search(r"^plans/segments\.yaml:31:12: error\[E313\]: segment 'zhejiang_women': "
                     r"the SQL filter fails on the shop's data \(.*Division by zero", out,
                     re.M), out
    assert not (root / "out").exists()
    ledger = root / "state" / "ledger.duckdb"
    assert not ledger.exists() or _ledger_runs(root) == 0


def _ledger_runs(root: Path) -> int:
    import duckdb

    con = duckdb.connect(str(root / "state" / "ledger.duckdb"), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("test", _lines("attributes.txt"))
def test_attribute_of_the_wrong_type(tmp_path: Path, test: str) -> None:
    root = _shop(tmp_path, f"      attributes: {{{test}}}")
    code, out = _run(root, "validate")
    assert code == 1, out
    column = test.split(":")[0]
    assert re.search(rf"^plans/segments\.yaml:31:\d+: error\[E201\]: attribute '{column}' is ",
                     out, re.M), out


TEMPLATES = sorted(p.name for p in (CORPUS / "templates").glob("*.j2"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_bounded_in_validate(tmp_path: Path, name: str) -> None:
    root = _shop(tmp_path)
    shutil.copy(CORPUS / "templates" / name, root / "plans" / "templates" / "winback.sms.j2")
    start = time.monotonic()
    code, out = _run(root, "validate")
    assert time.monotonic() - start < 60
    assert code == 1, out
    assert re.search(r"^plans/templates/winback\.sms\.j2:1:1: error\[E51[25]\]: ", out, re.M), out
    if "E515" in out:
        assert ("(the limit is" in out and "docs/security.md, Limits)" in out) \
            or "takes a format width from a value" in out or "RecursionError" in out, out


DATA = {  # case -> the diagnostic's start
    "not_utf8": "data/customers.csv:18:27: error[E407]: byte 0xff is not valid utf-8",
    "utf16": "data/orders.csv:1:1: error[E407]: byte 0xff is not valid utf-8",
    "parquet_empty": "data/orders.parquet:1:1: error[E407]: the file is empty",
    "parquet_truncated": "data/orders.parquet:1:1: error[E407]: the file cannot be read as "
                         "Parquet (Invalid Input Error: No magic bytes found",
    "parquet_corrupt": "data/orders.parquet:1:1: error[E407]: the file cannot be read as "
                       "Parquet (",
    "placeholder_date": "plans/shop.yaml:6:9: error[E402]: order o99 is dated 9999-12-31",
}


def test_every_data_case_is_run() -> None:
    assert sorted(p.name for p in (CORPUS / "data").iterdir()) == sorted(DATA)


@pytest.mark.parametrize("case", sorted(DATA))
def test_bad_data_is_a_located_error(tmp_path: Path, case: str) -> None:
    root = _shop(tmp_path)
    files = sorted((CORPUS / "data" / case).iterdir())
    if any(f.suffix == ".parquet" for f in files):
        for old in (root / "data").glob("*.csv"):
            old.unlink()
    for f in files:
        shutil.copy(f, root / ("plans" if f.name == "shop.yaml" else "data") / f.name)
    for args in (("build", "--dry-run"), ("build",)):
        code, out = _run(root, *args)
        assert code == 1, out
        assert any(line.startswith(DATA[case]) for line in out.splitlines()), out
    assert not (root / "out").exists()


def test_ten_megabyte_csv_line(tmp_path: Path) -> None:
    root = _shop(tmp_path)
    with (root / "data" / "customers.csv").open("a", encoding="utf-8") as f:
        f.write("c99,13800000099,x@qq.com,," + "n" * 10_000_000 + ",n,,F,x,1,2025-01-01 "
                "10:00:00,organic,false,false,false,false,false\n")
    code, out = _run(root, "build")
    assert code == 1
    assert "data/customers.csv:18:1: error[E407]: the record starting here is longer than " \
           "1 MB" in out
