"""Choosing the engine: DuckDB by default and without the `spark` extra (pyspark never
imported), `engine: spark` / `--engine spark` refused with a located error and a hint
when pyspark or Java is missing (exit 1, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shop_edits import append

SRC = str(Path(__file__).parents[1] / "src")


def _python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, timeout=300)


def test_a_duckdb_build_never_imports_pyspark(tiny):
    """pyspark is imported by a Spark session only, and the Spark runner by a Spark build
    only (tests/test_validate_imports.py checks the rest of what a DuckDB build loads)."""
    done = _python(f"""
import sys
from crmspec.cli import main
try:
    main(["--project", {str(tiny)!r}, "build"])
except SystemExit as e:
    assert e.code == 0, e.code
assert "pyspark" not in sys.modules, "pyspark imported"
assert "crmspec.engine.spark.run" not in sys.modules
""")
    assert done.returncode == 0, done.stderr
    assert (tiny / "out" / "manifest.json").is_file()


def test_engine_spark_without_pyspark_says_how_to_install_it(tiny):
    append(tiny, "shop.yaml", "engine: spark\n")
    lines = (tiny / "plans" / "shop.yaml").read_text(encoding="utf-8").count("\n")
    done = _python(f"""
import sys
sys.modules["pyspark"] = None  # as if the extra were not installed
from crmspec.cli import main
main(["--project", {str(tiny)!r}, "build"])
""")
    assert done.returncode == 1
    at = done.stderr.index("plans/")  # after the build's phases
    assert done.stderr[at:].splitlines()[:2] == [
        f"plans/shop.yaml:{lines}:9: error[E408]: engine: spark needs pyspark, which is not "
        "installed",
        "  hint: pip install 'crmspec[spark]' (or build with --engine duckdb)"]
    assert "Traceback" not in done.stderr
    assert not (tiny / "out").exists()


def test_engine_spark_without_java_says_so(tiny):
    done = _python(f"""
from crmspec.cli import main
main(["--project", {str(tiny)!r}, "build", "--engine", "spark"])
""", env={"PATH": "/nonexistent", "JAVA_HOME": "", "SPARK_REMOTE": ""})
    assert done.returncode == 1, done.stderr
    first = done.stderr[done.stderr.index("plans/"):].splitlines()[0]
    assert first == ("plans/shop.yaml:1:1: error[E408]: engine: spark needs Java for a local "
                     "or classic Spark session: no `java` on PATH and JAVA_HOME is not set")
    assert "default-jre-headless" in done.stderr and "Traceback" not in done.stderr


def test_a_scratch_folder_must_be_a_path_of_this_machine(tiny):
    from crmspec.build import build
    from crmspec.core.diagnostics import PlanError

    append(tiny, "shop.yaml", "spark:\n  scratch: hdfs://nn/crmspec\n")
    lines = (tiny / "plans" / "shop.yaml").read_text(encoding="utf-8").count("\n")
    with pytest.raises(PlanError) as caught:
        build(tiny, engine="spark")
    [d] = caught.value.diagnostics
    assert (d.line, d.code) == (lines, "E408")
    assert d.message == ("spark.scratch must be a folder of this machine (a local path or a "
                         "mount), not a URI: hdfs://nn/crmspec")
    assert not (tiny / "out").exists()


def test_spark_remote_without_the_connect_client_says_how_to_install_it(tiny):
    """pyspark installed without its Connect client (grpcio, pyarrow, ...): E408 at the
    engine line, before any session is tried."""
    append(tiny, "shop.yaml", "engine: spark\n")
    lines = (tiny / "plans" / "shop.yaml").read_text(encoding="utf-8").count("\n")
    done = _python(f"""
import sys
sys.modules["pyspark.sql.connect.session"] = None  # as if grpcio etc. were missing
from crmspec.cli import main
main(["--project", {str(tiny)!r}, "build"])
""", env={"SPARK_REMOTE": "sc://spark-connect.invalid:15002"})
    assert done.returncode == 1, done.stderr
    at = done.stderr.index("plans/")
    assert done.stderr[at:].splitlines()[:2] == [
        f"plans/shop.yaml:{lines}:9: error[E408]: SPARK_REMOTE needs the Spark Connect "
        "client, which is not installed (pyspark.sql.connect.session)",
        "  hint: pip install 'crmspec[spark]' (it has the Connect client's dependencies)"]
    assert "Traceback" not in done.stderr
