"""Time `crmspec import taobao` of a 1M-row order report against DuckDB's own read_csv.

    python benchmarks/bench_import.py               # 1M rows
    python benchmarks/bench_import.py --rows 100000
    python benchmarks/bench_import.py --repeat 3    # best of 3 of every timing

The export is a Taobao/Tmall order report in its exact shape (tests/exports.py: GBK, CRLF,
the back end's 28 columns, `="..."` ids, `'138...` phones, a quoted multi-line 买家留言 in
every 50th row), 1M orders of 200k buyers, written once to benchmarks/work/ and reused.
Each timing runs in this process on a fresh in-memory connection, file warm in the page
cache:

1. **read_csv**: DuckDB's own reader on the same rows saved as UTF-8 (DuckDB cannot read
   GBK without the `encodings` extension, downloaded at run time), every column VARCHAR,
   into a table: the floor any import pays;
2. **read_csv auto**: the same with DuckDB's type detection (what a plain
   `read_csv('file.csv')` costs);
3. **copy pass**: crmspec's streaming GB18030 -> UTF-8 pass alone (`utf8_copy`);
4. **import (new)**: `crmspec import taobao` into a new DuckDB file (reading, cleaning,
   rejecting, the upsert of 1M new orders and 200k customers, one transaction);
5. **import (again)**: the same file once more into that database (1M unchanged orders).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from exports import TAOBAO_HEADER, taobao_row  # noqa: E402

from crmspec.data.delimited import utf8_copy  # noqa: E402
from crmspec.data.importers import import_exports  # noqa: E402
from crmspec.data.importers.taobao import FORMAT  # noqa: E402

WORK = ROOT / "benchmarks" / "work"
STATUSES = ["交易成功", "卖家已发货，等待买家确认", "买家已付款，等待卖家发货", "等待买家付款",
            "交易关闭"]


def export(rows: int) -> Path:
    """The report of `rows` orders (GBK), written once."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"taobao_{rows}.csv"
    if path.exists():
        return path
    with path.open("wb") as f:
        f.write((TAOBAO_HEADER + "\r\n").encode("gbk"))
        batch = []
        for i in range(rows):
            day = 1 + i % 28
            status = STATUSES[i % len(STATUSES)]
            paid = "" if status == "等待买家付款" else f"2026-05-{day:02d} 10:0{i % 10}:00"
            batch.append(taobao_row(
                f"2078{i:012d}", f"tb_buyer{i % 200_000:06d}", f"{10 + i % 990}.00", status,
                f"2026-05-{day:02d} 09:{i % 60:02d}:00", paid, phone=f"138{i % 10**8:08d}",
                message="请发顺丰,\r\n谢谢" if i % 50 == 0 else "",
                close="买家申请退款" if i % 10 == 4 else ""))
            if len(batch) == 10_000:
                f.write(("\r\n".join(batch) + "\r\n").encode("gbk"))
                batch = []
        if batch:
            f.write(("\r\n".join(batch) + "\r\n").encode("gbk"))
    return path


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    gbk = export(args.rows)
    utf8 = gbk.with_suffix(".utf8.csv")
    if not utf8.exists():
        utf8.write_bytes(gbk.read_bytes().decode("gb18030").encode("utf-8"))
    gbk.read_bytes(), utf8.read_bytes()  # warm the page cache
    n_cols = TAOBAO_HEADER.count(",") + 1
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n_cols)) + "}"

    def read_csv(auto: bool) -> None:
        con = duckdb.connect()
        options = ("" if auto else f", columns = {columns}, auto_detect = false, "
                   "delim = ',', quote = '\"', escape = '\"'")
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{utf8}', header = true"
                    f"{options})")
        con.close()

    def copy_pass() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            utf8_copy(gbk, gbk.name, FORMAT, Path(tmp) / "copy.csv")

    target = WORK / "import_bench.duckdb"

    def import_new() -> None:
        for p in (target, target.with_name(target.name + ".wal")):
            p.unlink(missing_ok=True)
        run_import()

    def run_import() -> None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        report = import_exports(con, "taobao", [(gbk, gbk.name)], target)
        con.close()
        assert report.rows_read == args.rows, report.rows_read

    results = {
        "rows": args.rows, "megabytes": round(gbk.stat().st_size / 1e6, 1),
        "read_csv": timed(lambda: read_csv(False), args.repeat),
        "read_csv_auto": timed(lambda: read_csv(True), args.repeat),
        "copy_pass": timed(copy_pass, args.repeat),
        "import_new": timed(import_new, args.repeat),
        "import_again": timed(run_import, args.repeat),
    }
    results["import_new_ratio"] = results["import_new"] / results["read_csv"]
    results["import_again_ratio"] = results["import_again"] / results["read_csv"]
    for key, value in results.items():
        print(f"{key:20} {value:.2f}" if isinstance(value, float) else f"{key:20} {value}")
    (WORK / "import_results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
