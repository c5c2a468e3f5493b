"""Time `crmspec kpi`: three years of weekly KPIs of the example plan on a big demo shop.

    python benchmarks/bench_kpi.py                          # 1M customers, ~10M orders
    python benchmarks/bench_kpi.py --customers 100000       # a quicker run
    python benchmarks/bench_kpi.py --years 3 --period month

The demo shop gets 10 orders and 20 events per customer on average (the issue's "1M
customers, 10M orders" shape) and is generated once into benchmarks/work/ (git-ignored);
later runs reuse it. Reported:

- the end-to-end `crmspec kpi` command (a fresh process: validation, attaching and
  cleaning the data, every KPI of plans/kpis.yaml, rendering), wall seconds and peak RSS;
- the same work in-process, split into steps: prepare (validate, attach, clean, compile),
  the purchases table, the customer-period table, and each KPI's query.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"


def project(n: int, orders: float, events: float) -> tuple[Path, float | None]:
    """A copy of the example plan over an n-customer demo; generation seconds if made now."""
    root = WORK / f"kpi_{n}_{orders:g}_{events:g}"
    if (root / "plans").exists():
        shutil.rmtree(root / "plans")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "plans", root / "plans")
    shop = root / "plans/shop.yaml"
    text = re.sub(r"customers: \d+", f"customers: {n}", shop.read_text(encoding="utf-8"),
                  count=1)
    shop.write_text(text, encoding="utf-8")
    data = root / "data/demo"
    if (data / "orders.parquet").exists():
        return root, None
    from crmspec.data.demo import generate_demo

    start = time.perf_counter()
    generate_demo(data, customers=n, orders_per_customer=orders, events_per_customer=events)
    return root, time.perf_counter() - start


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def end_to_end(root: Path, period: str, date_from: str) -> tuple[float, float, float, int]:
    """Wall and CPU seconds, peak RSS (MiB) and output rows of `crmspec kpi` in a child
    process."""
    cmd = [sys.executable, "-m", "crmspec", "kpi", "--project", str(root), "--period", period,
           "--from", date_from, "--format", "csv"]
    cpu0, start = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, cpu, rss, proc.stdout.count("\n") - 1


def in_process(root: Path, period: str, years: int) -> dict:
    from crmspec.analysis.kpi.metrics import compute
    from crmspec.analysis.kpi.periods import make_period, report_periods, shift
    from crmspec.build import prepare

    con = duckdb.connect()
    cpu0, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    plan, _, data, _ = prepare(root, None, con)
    prepare_s = time.perf_counter() - start
    prepare_cpu = _cpu(resource.RUSAGE_SELF) - cpu0
    periods = report_periods(period, data.as_of, data.as_of - timedelta(days=365 * years))
    before = make_period(shift(periods[0].start, period, -1), period)
    timings: dict[str, float] = {}
    cpu0, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    rows = compute(con, plan, data.as_of, period, [before] + periods, timings=timings)
    kpi_s = time.perf_counter() - start
    kpi_cpu = _cpu(resource.RUSAGE_SELF) - cpu0
    purchases = con.execute("SELECT count(*) FROM kpi_purchases").fetchone()[0]
    cps = con.execute("SELECT count(*) FROM kpi_cp").fetchone()[0]
    return {"as_of": data.as_of.isoformat(), "rows": data.rows, "periods": len(periods),
            "kpis": len(plan.kpis), "output_rows": len(rows), "purchases": purchases,
            "customer_periods": cps, "prepare_s": prepare_s, "kpi_s": kpi_s,
            "prepare_cpu_s": prepare_cpu, "kpi_cpu_s": kpi_cpu,
            "timings": timings, "first_period": periods[0].start.isoformat()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-per-customer", type=float, default=10)
    parser.add_argument("--events-per-customer", type=float, default=20)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--period", choices=["week", "month"], default="week")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()

    root, gen_s = project(args.customers, args.orders_per_customer, args.events_per_customer)
    r = in_process(root, args.period, args.years)
    wall, cpu, rss, out_rows = end_to_end(root, args.period, r["first_period"])
    r.update(generate_s=gen_s, end_to_end_s=wall, end_to_end_cpu_s=cpu, peak_rss_mib=rss,
             cli_rows=out_rows, load_average=Path("/proc/loadavg").read_text().split()[:3]
             if Path("/proc/loadavg").exists() else None,
             threads=duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0])
    if args.json:
        print(json.dumps(r, indent=2, default=str))
        return
    rows = r["rows"]
    print(f"shop: {rows['customers']:,} customers, {rows['orders']:,} orders, "
          f"{rows['events']:,} events; as of {r['as_of']}; DuckDB threads {r['threads']}")
    if gen_s is not None:
        print(f"demo generated in {gen_s:.1f} s")
    print(f"{r['periods']} {args.period}s from {r['first_period']} x {r['kpis']} KPIs "
          f"= {r['output_rows']:,} rows; {r['purchases']:,} purchases, "
          f"{r['customer_periods']:,} customer-periods")
    print(f"crmspec kpi end to end: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS "
          f"{rss:,.0f} MiB ({out_rows:,} CSV rows)")
    print(f"in process: prepare (validate, attach, clean) {r['prepare_s']:.1f} s wall "
          f"({r['prepare_cpu_s']:.1f} s CPU); KPIs {r['kpi_s']:.1f} s wall "
          f"({r['kpi_cpu_s']:.1f} s CPU), of which (wall):")
    steps = sorted(r["timings"].items(), key=lambda kv: -kv[1])
    for name, secs in steps:
        print(f"  {secs:6.2f} s  {name}")
    if r["load_average"]:
        print("load average after the run: " + " ".join(r["load_average"]) + " (other "
              "processes on the machine inflate wall times)")


if __name__ == "__main__":
    main()
