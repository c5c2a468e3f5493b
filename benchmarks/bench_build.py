"""Time demo generation and `crmspec build` of the example plan at several sizes.

    python benchmarks/bench_build.py                 # 100k and 1M customers
    python benchmarks/bench_build.py --sizes 100000  # just one size
    python benchmarks/bench_build.py --sizes 100000,1000000,10000000

Shops get 10 orders and 20 events per customer on average (the contact-plan issue's
benchmark shape). Each build runs in a fresh process so that its peak memory (max RSS)
is measured on its own. Work files go to benchmarks/work/ (git-ignored).
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"


def _project(n: int) -> Path:
    """A copy of the example plan whose demo source holds n customers."""
    project = WORK / f"shop_{n}"
    if project.exists():
        shutil.rmtree(project / "plans")
    project.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "plans", project / "plans")
    shop = project / "plans/shop.yaml"
    text = re.sub(r"customers: \d+", f"customers: {n}", shop.read_text(encoding="utf-8"), 1)
    shop.write_text(text, encoding="utf-8")
    return project


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a child process."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench(n: int) -> dict:
    project = _project(n)
    data = project / "data/demo"
    gen = (
        "from pathlib import Path; from crmspec.demo import generate_demo; "
        f"generate_demo(Path({str(data)!r}), customers={n}, orders_per_customer=10, "
        "events_per_customer=20)"
    )
    gen_s, _ = _timed([sys.executable, "-c", gen])
    build_s, rss = _timed([sys.executable, "-m", "crmspec", "build", "--project", str(project),
                           "--out", str(project / "out")])
    return {"customers": n, "generate_s": round(gen_s, 1), "build_s": round(build_s, 1),
            "peak_rss_mib": round(rss)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()
    print("customers  generate_s  build_s  peak_rss_mib (max over child processes so far)")
    for n in (int(s) for s in args.sizes.split(",")):
        r = bench(n)
        print(f"{r['customers']:>9}  {r['generate_s']:>10}  {r['build_s']:>7}  {r['peak_rss_mib']:>12}")


if __name__ == "__main__":
    main()
