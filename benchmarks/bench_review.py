"""Time `crmspec plan` of a one-activity change against one `crmspec build`.

    python benchmarks/bench_review.py                   # 100k customers
    python benchmarks/bench_review.py --sizes 100000,1000000
    python benchmarks/bench_review.py --repeat 3        # best of 3 of every timing
    python benchmarks/bench_review.py --days 7          # also `crmspec plan --days 7`

The shop is bench_build.py's (`project`: the example plan over an n-customer demo shop
with 10 orders and 20 events per customer, in benchmarks/work/shop_<n>, generated once),
made a git repository in benchmarks/work/review_<n> (plans/ committed, the data linked).
Each measurement is a fresh process (wall, CPU and peak RSS, as bench_build measures),
with an empty ledger:

1. `crmspec build` of the committed plan (outputs to a temporary folder);
2. `crmspec plan` of a one-activity change that leaves the facts alone (the win-back's
   budget cap, 300 -> 600 CNY): both plans share the facts, the head runs a second
   contact pass only;
3. `crmspec plan` of a change the facts depend on (the silent stage starts at day 40
   instead of 45, and active ends there): every customer's facts are computed twice;
4. with --days N, `crmspec plan --days N` of change 2.

The issue's target: (2) at most about twice (1). Results are printed and written to
benchmarks/work/review_results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import WORK, best, project, run, warm  # noqa: E402

CHANGES = {
    "one activity": [("plans/activities.yaml", "      cap: 300\n", "      cap: 600\n")],
    "the facts": [("plans/lifecycle.yaml", "    to_days: 45\n", "    to_days: 40\n"),
                  ("plans/lifecycle.yaml", "    from_days: 45\n", "    from_days: 40\n")],
}
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def repository(n: int) -> Path:
    """benchmarks/work/review_<n>: the plan committed on branch main, the data linked."""
    shop, _, _ = project(n, "worktree")
    root = WORK / f"review_{n}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copytree(shop / "plans", root / "plans")
    (root / "data").symlink_to(shop / "data", target_is_directory=True)
    (root / ".gitignore").write_text("/data\n/out/\n/state/\n", encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run([*GIT, "-C", str(root), *args], check=True)
    return root


def apply(root: Path, change: list[tuple[str, str, str]]) -> None:
    subprocess.run([*GIT, "-C", str(root), "checkout", "-q", "--", "plans"], check=True)
    for rel, old, new in change:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")


def crmspec(*args: str) -> list[str]:
    return [sys.executable, "-m", "crmspec", *args]


def bench(n: int, repeat: int, days: int | None) -> dict:
    root = repository(n)
    warm(root)
    shutil.rmtree(root / "state", ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        builds = []
        for _ in range(repeat):
            builds.append(run(crmspec("build", "--project", str(root), "--out", tmp)))
            shutil.rmtree(root / "state", ignore_errors=True)  # every build a first build
    out = {"customers": n, "build": best(builds)}
    plans = [(label, change, []) for label, change in CHANGES.items()]
    if days:
        plans.append((f"one activity, --days {days}", CHANGES["one activity"],
                      ["--days", str(days)]))
    for label, change, extra in plans:
        apply(root, change)
        runs = []
        for _ in range(repeat):
            r = run(crmspec("plan", "--project", str(root), "--format", "json", *extra),
                    ok=(2, 3))
            runs.append(r)
        r = best(runs)
        review = json.loads(r.pop("stdout"))
        r["facts_shared"] = review["effect"]["facts_shared"]
        r["ratio"] = r["wall_s"] / out["build"]["wall_s"]
        r["ratio_cpu"] = r["cpu_s"] / out["build"]["cpu_s"]
        out[label] = r
    out["build"].pop("stdout")
    apply(root, [])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--repeat", type=int, default=1, help="best of N (default 1)")
    parser.add_argument("--days", type=int, default=None,
                        help="also time `crmspec plan --days N` of the one-activity change")
    args = parser.parse_args()
    results = [bench(int(n), args.repeat, args.days) for n in args.sizes.split(",")]
    (WORK / "review_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| customers | build: wall (CPU), RSS | plan | wall (CPU), RSS | facts shared | "
          "ratio wall (CPU) |")
    print("|---" * 6 + "|")
    for r in results:
        b = r["build"]
        for label in [k for k in r if k not in ("customers", "build")]:
            p = r[label]
            print(f"| {r['customers']:,} | {b['wall_s']:.1f} s ({b['cpu_s']:.1f} s), "
                  f"{b['rss_mib']} MiB | {label} | {p['wall_s']:.1f} s ({p['cpu_s']:.1f} s), "
                  f"{p['rss_mib']} MiB | {'yes' if p['facts_shared'] else 'no'} | "
                  f"{p['ratio']:.2f}x ({p['ratio_cpu']:.2f}x) |")


if __name__ == "__main__":
    main()
