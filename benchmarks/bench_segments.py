"""Time and peak memory of `crmspec build --dry-run` against the number of segments
(issue 17: the cost of many segments must grow linearly and stay inside the memory cap).

    python benchmarks/bench_segments.py                  # 2,000 and 10,000 segments
    python benchmarks/bench_segments.py --sizes 500,2000

The shop is tests/fixtures/tiny (16 customers: the data costs nothing) with N segments
added to its segments.yaml, a quarter of each kind: a purchases range, a `sql:` filter
(`city_tier <= k AND purchases >= j`), an attribute test with a spend range, and an
`any_of` of a stage and the previous segment (`in_segment`). Each size runs in a fresh
process (wall, CPU and peak RSS as bench_build measures them), in benchmarks/work/.
Figures measured on the development machine are in docs/security.md ("Many segments").
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import ROOT, WORK, run  # noqa: E402

TINY = ROOT / "tests" / "fixtures" / "tiny"


def shop(n: int) -> Path:
    """The tiny shop with n segments more, in benchmarks/work/segments_<n>."""
    dest = WORK / f"segments_{n}"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(TINY, dest)
    seg = dest / "plans" / "segments.yaml"
    extra = []
    for i in range(n):
        where = [f"{{purchases: {{min: {i % 7}}}}}",
                 f'{{sql: "city_tier <= {i % 5} AND purchases >= {i % 3}"}}',
                 f"{{attributes: {{province: ['浙江', '上海']}}, spend: {{min: {i % 500}}}}}",
                 f"{{any_of: [{{stage: active}}, {{in_segment: bulk_{i - 1}}}]}}"][i % 4]
        extra.append(f"  - id: bulk_{i}\n    name: 批量{i}\n    where: {where}\n")
    seg.write_text(seg.read_text(encoding="utf-8").rstrip("\n") + "\n" + "".join(extra),
                   encoding="utf-8")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000")
    args = parser.parse_args()
    print(f"{'segments':>9} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        root = shop(n)
        r = run([sys.executable, "-m", "crmspec", "build", "--dry-run", "--project", str(root)])
        print(f"{n:>9} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['rss_mib']:>9}")


if __name__ == "__main__":
    main()
