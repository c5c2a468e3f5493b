"""`crmspec validate` imports only what validating needs (issue 16): not the engine, the
compiler, the outputs, the site or the review, not MkDocs, Spark, rich or pyarrow, and
sqlglot and DuckDB only for what needs them (a `sql:` filter: sqlglot parses it, DuckDB
binds it on trial; a ledger to count).

Structural, not timed: a fresh interpreter runs the command on a copy of the example
plan and the test reads `sys.modules` afterwards. A module-level import added to a module
validate loads (`import duckdb` for a type annotation, the compiler in a channel module)
fails here instead of slowing every validate down unnoticed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN = """
import json, sys
from crmspec.cli import main
try:
    main(["validate", "--project", sys.argv[1]], standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
json.dump(sorted(sys.modules), open(sys.argv[2], "w"))
"""

# what validate never needs, whatever the plan
NEVER = ("mkdocs", "pyspark", "rich", "pyarrow", "pandas", "numpy", "sqlglot.dialects.spark2",
         "crmspec.site", "crmspec.review", "crmspec.build", "crmspec.engine",
         "crmspec.compile", "crmspec.outputs", "crmspec.analysis", "crmspec.repo",
         "crmspec.data.sources", "crmspec.data.demo", "crmspec.contact.ledger")

# the example's segment that uses the SQL escape hatch, and the same in structured form
SQL_FILTER = """      sql: >-
        spend BETWEEN 400 AND 499.99
        OR spend BETWEEN 1200 AND 1499.99
        OR spend BETWEEN 4000 AND 4999.99
        OR spend BETWEEN 5600 AND 6999.99
"""
STRUCTURED = """      any_of:
        - spend: {min: 400, max: 499.99}
        - spend: {min: 1200, max: 1499.99}
        - spend: {min: 4000, max: 4999.99}
        - spend: {min: 5600, max: 6999.99}
"""


def example(tmp_path: Path) -> Path:
    """A copy of the example plan without data, ledger or outputs (a fresh clone)."""
    root = tmp_path / "shop"
    shutil.copytree(ROOT / "plans", root / "plans")
    return root


def loaded(root: Path, tmp_path: Path) -> set[str]:
    out = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", RUN, str(root), str(out)], check=True,
                   cwd=tmp_path, capture_output=True)
    return set(json.loads(out.read_text()))


def imported(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_validate_of_the_example_imports_no_engine_compiler_site_or_review(tmp_path):
    modules = loaded(example(tmp_path), tmp_path)
    assert "crmspec.validate" in modules
    assert [name for name in NEVER if imported(modules, name)] == []


def test_sqlglot_and_duckdb_are_imported_only_for_a_sql_filter(tmp_path):
    root = example(tmp_path)
    segments = root / "plans" / "segments.yaml"
    text = segments.read_text(encoding="utf-8")
    assert SQL_FILTER in text
    segments.write_text(text.replace(SQL_FILTER, STRUCTURED), encoding="utf-8")
    modules = loaded(root, tmp_path)
    assert [name for name in NEVER + ("duckdb", "sqlglot", "crmspec.safesql")
            if imported(modules, name)] == []


BUILD = """
import json, sys
from crmspec.cli import main
try:
    main(["build", "--project", sys.argv[1]], standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
json.dump(sorted(sys.modules), open(sys.argv[2], "w"))
"""


def test_a_duckdb_build_imports_neither_spark_nor_the_site_or_review(tiny, tmp_path):
    """The Spark runner (sqlglot's Spark dialect with it) is imported by a Spark build
    only: a DuckDB build of the tiny shop ends without it."""
    out = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", BUILD, str(tiny), str(out)], check=True,
                   cwd=tmp_path, capture_output=True)
    modules = set(json.loads(out.read_text()))
    assert "crmspec.build" in modules and "crmspec.engine.run" in modules
    never = ("pyspark", "crmspec.engine.spark", "sqlglot.dialects.spark",
             "sqlglot.dialects.spark2", "crmspec.site", "crmspec.review", "mkdocs")
    assert [name for name in never if imported(modules, name)] == []
