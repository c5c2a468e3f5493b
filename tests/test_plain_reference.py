"""The benchmark's hand-written jobs (benchmarks/plain/) against crmspec on a small shop:
the plain job's send lists, and every one of the 20 files of the same-files job byte for
byte (send files, email bodies, audience lists). Written from the plan's definition, not
from crmspec's compiler, the same-files job is an independent computation of what a build
writes; this test keeps benchmarks/bench_plain.py's comparisons true as crmspec changes."""

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_plain  # noqa: E402


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """3,000 demo customers with integer ids, the benchmark's plan pointed at them, one
    crmspec build."""
    root = tmp_path_factory.mktemp("plain")
    subprocess.run([sys.executable, "-c", bench_plain.GENERATE, "3000", str(root)], check=True)
    proj = bench_plain.project(root)
    subprocess.run([sys.executable, "-m", "crmspec", "--project", str(proj), "build"],
                   check=True, capture_output=True)
    return root, proj


def _run(script: Path) -> None:
    con = duckdb.connect()
    try:
        for statement in script.read_text(encoding="utf-8").split(";\n"):
            if statement.strip():
                con.execute(statement)
    finally:
        con.close()


def test_the_plain_jobs_send_lists_are_crmspecs(shop):
    root, proj = shop
    out = root / "plain_out"
    out.mkdir()
    _run(bench_plain.plain_script(proj, root, out))
    assert bench_plain.check(proj, out) > 1000


def test_the_same_files_jobs_files_are_crmspecs_byte_for_byte(shop):
    root, proj = shop
    out = root / "files_out"
    for d in ("sms", "email", "audience"):
        (out / d).mkdir(parents=True)
    _run(bench_plain.files_script(proj, root, out))
    assert bench_plain.check_files(proj, out) == 20
    # the record: every contact and every held-out customer, once
    con = duckdb.connect(str(out / "record.duckdb"), read_only=True)
    try:
        groups = dict(con.execute("SELECT grp, count(*) FROM contacts GROUP BY 1").fetchall())
    finally:
        con.close()
    listed = sum(len(p.read_text(encoding="utf-8").splitlines()) - 1
                 for p in (out / "audience").glob("*.csv"))
    assert groups["treatment"] == listed and groups["control"] > 0
