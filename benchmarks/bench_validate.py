"""Time `crmspec validate` of the example plan, a revision against the working tree.

    python benchmarks/bench_validate.py                 # HEAD against the working tree, 20 each
    python benchmarks/bench_validate.py --base REV      # another revision
    python benchmarks/bench_validate.py --runs 40
    python benchmarks/bench_validate.py --bytecode      # with a bytecode cache (an install)
    python benchmarks/bench_validate.py --floor         # what the libraries alone cost
    python benchmarks/bench_validate.py --project DIR   # another shop (default: this one)

Each run is `python -m crmspec validate` in a fresh process from the repository root,
the base's `src/` (extracted once to benchmarks/work/validate_<rev>/) or the working
tree's first on PYTHONPATH, alternated A, B, A, B... so that the load of a shared machine
falls on both alike. Wall time from the parent, CPU time (user + sys) of the child from
getrusage(RUSAGE_CHILDREN); median and range of each. Without --bytecode, Python writes
no .pyc files (PYTHONDONTWRITEBYTECODE, as in this repository's sessions), so crmspec's
own modules are compiled from source on every run; with it, both trees get a bytecode
cache under benchmarks/work/ (PYTHONPYCACHEPREFIX), warmed by one run each, as an
installed wheel has.

`--floor` times, the same way, a bare interpreter and then the imports validate of the
example plan cannot do without, added one by one (click, pluggy and PyYAML; jsonschema;
Jinja; sqlglot with its DuckDB dialect, for the `sql:` filter; DuckDB and a connection,
for the filter's trial bind): what is left above that is crmspec's own.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"


def extract(rev: str) -> Path:
    """The `src/` of `rev`, extracted once."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    dest = WORK / f"validate_{sha}"
    if not (dest / "src").is_dir():
        data = subprocess.run(["git", "archive", sha, "src"], cwd=ROOT, check=True,
                              capture_output=True).stdout
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
    return dest / "src"


def run_once(src: Path, bytecode: bool, project: str | None = None) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache" / src.parent.name)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    extra = ["--project", project] if project else []
    done = subprocess.run([sys.executable, "-m", "crmspec", "validate", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"validate failed ({src}):\n{done.stdout}{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


FLOOR = {
    "python -c pass": "pass",
    "+ click, pluggy, yaml": "import click, pluggy, yaml",
    "+ jsonschema": "import click, pluggy, yaml, jsonschema",
    "+ jinja2": "import click, pluggy, yaml, jsonschema, jinja2.sandbox",
    "+ sqlglot (duckdb dialect)": "import click, pluggy, yaml, jsonschema, jinja2.sandbox, "
                                  "sqlglot; sqlglot.tokenize('a', read='duckdb')",
    "+ duckdb, a connection": "import click, pluggy, yaml, jsonschema, jinja2.sandbox, "
                              "sqlglot; sqlglot.tokenize('a', read='duckdb'); import duckdb; "
                              "duckdb.connect().execute('SELECT 1')",
}


def floor(runs: int) -> None:
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in FLOOR}
    for _ in range(runs):
        for name, code in FLOOR.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times[name].append((wall, after.ru_utime - before.ru_utime
                                + after.ru_stime - before.ru_stime))
    for name, got in times.items():
        print(f"{name:>26}: wall {summary([w for w, _ in got])}, "
              f"CPU {summary([c for _, c in got])}")


def summary(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} s ({min(xs):.3f}-{max(xs):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bytecode", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--project", default=None)
    args = parser.parse_args()
    if args.floor:
        floor(args.runs)
        return
    trees = {args.base: extract(args.base), "working tree": ROOT / "src"}
    if args.bytecode:
        for src in trees.values():
            run_once(src, True, args.project)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, src in trees.items():
            times[name].append(run_once(src, args.bytecode, args.project))
    for name, got in times.items():
        print(f"{name:>14}: wall {summary([w for w, _ in got])}, "
              f"CPU {summary([c for _, c in got])}, {len(got)} runs")


if __name__ == "__main__":
    main()
