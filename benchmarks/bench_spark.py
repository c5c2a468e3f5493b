"""`crmspec build` of the example plan on DuckDB and on Spark local[2], alternated.

    python benchmarks/bench_spark.py                      # 100k customers, 3 runs each
    python benchmarks/bench_spark.py --sizes 1000000 --repeat 1

The shop is bench_build's (benchmarks/work/shop_<n>: the example plan over an
n-customer demo shop, 10 orders and 20 events per customer), its files warm in the page
cache. Each run is a fresh `crmspec build` process with an empty ledger, the engines
alternated (DuckDB, Spark, DuckDB, ...) so that a change in the machine's load falls on
both. Measured per run: wall seconds, and the peak memory of the whole process tree
(the build, and on Spark the JVM spark-submit starts under it): the sum of VmRSS of every
descendant, polled from /proc every 0.1 s (a sum of peaks would overstate it, the
largest child's ru_maxrss would leave the JVM or Python out). Reported: median and
range. The send files of both engines are compared byte for byte after each pair of runs
(exit 1 if they differ).

Spark runs with shop.yaml `spark.conf`: local[2] (the default master), 4 shuffle
partitions, 2 GB of driver heap. Results go to benchmarks/work/spark_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import WORK, fresh_state, project, warm  # noqa: E402

SPARK_CONF = ("\nspark:\n  master: local[2]\n  conf:\n    spark.sql.shuffle.partitions: 4\n"
              "    spark.driver.memory: 2g\n")


def _tree_rss_kib(root_pid: int) -> int:
    """Sum of VmRSS of root_pid and all its descendants (KiB)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError):
            continue
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def measure(cmd: list[str]) -> dict:
    """Wall seconds and peak process-tree RSS (MiB) of one command; stops on failure."""
    peak = [0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
            time.sleep(0.1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    poller.join()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-3000:]}")
    return {"wall_s": round(wall, 1), "rss_mib": round(peak[0] / 1024)}


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def bench(n: int, repeat: int) -> dict:
    root, _, rev = project(n, "worktree")
    shop = root / "plans/shop.yaml"
    text = shop.read_text(encoding="utf-8")
    if "\nspark:" not in text:
        shop.write_text(text + SPARK_CONF, encoding="utf-8")
    runs: dict[str, list[dict]] = {"duckdb": [], "spark": []}
    for i in range(repeat):
        outs = {}
        for engine in ("duckdb", "spark"):
            warm(root)
            out = f"out_{engine}"
            fresh_state(root, out)
            m = measure([sys.executable, "-m", "crmspec", "--project", str(root), "build",
                         "--engine", engine, "--out", str(root / out)])
            runs[engine].append(m)
            outs[engine] = files(root / out)
            print(f"{n:,} customers, run {i + 1}, {engine}: {m['wall_s']} s, "
                  f"{m['rss_mib']} MiB", flush=True)
        if outs["duckdb"] != outs["spark"]:
            differ = sorted(k for k in set(outs["duckdb"]) | set(outs["spark"])
                            if outs["duckdb"].get(k) != outs["spark"].get(k))
            sys.exit(f"the engines' outputs differ: {differ[:10]}")
    summary = {"customers": n, "plans": rev, "runs": runs}
    for engine, ms in runs.items():
        for key in ("wall_s", "rss_mib"):
            values = [m[key] for m in ms]
            summary[f"{engine}_{key}"] = {"median": statistics.median(values),
                                          "min": min(values), "max": max(values)}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = [bench(int(n), args.repeat) for n in args.sizes.split(",")]
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "spark_results.json").write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['customers']:,} customers:")
        for engine in ("duckdb", "spark"):
            w, m = r[f"{engine}_wall_s"], r[f"{engine}_rss_mib"]
            print(f"  {engine}: wall {w['median']} s ({w['min']}-{w['max']}), peak tree "
                  f"RSS {m['median']} MiB ({m['min']}-{m['max']})")


if __name__ == "__main__":
    main()
