"""crmspec against the job a user would write instead: plain SQL written by hand.

    python benchmarks/bench_plain.py                       # 100k and 1M customers, 3 rounds
    python benchmarks/bench_plain.py --sizes 100000 --rounds 5

The plan (benchmarks/plain/plans/): 7 stages, 4 tiers, 10 activities on SMS and email,
a cart-intent audience, a 10% control group per activity, at most 2 contacts per customer.
The plain job (benchmarks/plain/plain.sql) is written from the plan's definition, not
from `crmspec compile`: one GROUP BY of the orders per customer, one filtered scan of the
events, the segment filters, row_number() for the cap, an md5 bucket for the hold-out,
one COPY per send list. Both read the same Parquet files: the demo shop (seed 7, 10 orders
and 20 events per customer) with integer customer and order ids, as most exports have
them, generated once into benchmarks/work/plain_<n>/ (git-ignored).

A second job by hand, `plain/plain_files.sql`, writes what crmspec writes instead of the
send lists alone: the providers' SMS and email files (the email's HTML and text bodies with
the recipient's unsubscribe link), the audience lists for review (addresses masked, the
customer type, RFM and the other attributes) and a record of the contacts and the held-out
in a DuckDB file; its 20 files are checked byte for byte against crmspec's.

Each round runs, each in a fresh process, alternated: the plain job; the same-files job;
`crmspec build` with an empty state/ (first build on a new export: the data checks scan
every row);
`crmspec build` again with an empty ledger but the checks' cache of the previous build
(a re-run on the same export, `crmspec.data.checkcache`). Reported per size: median and
range of wall and CPU seconds and peak RSS, and the ratios of each round (crmspec's run
over the plain job's and over the same-files job's run of the same round), median and
range.

Checked: every activity's send list of the plain job equals crmspec's audience list
(customer id and address, as sets) and, for SMS, crmspec's SMS file (address and text);
a difference stops the script. Results go to benchmarks/work/plain_results.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import sys
from pathlib import Path
from string import Template

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import run  # noqa: E402  (a child process: wall, CPU, peak RSS)

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
PLAIN = ROOT / "benchmarks" / "plain"
AS_OF = "2026-07-01"  # the day after the demo's last order: crmspec's default as-of date
SALT = "plain-bench"

GENERATE = """
import sys
from pathlib import Path
import duckdb
from crmspec.data.demo import generate_demo
n, root = int(sys.argv[1]), Path(sys.argv[2])
generate_demo(root / "demo", customers=n, seed=7, orders_per_customer=10,
              events_per_customer=20)
(root / "int").mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
num = "CAST(regexp_extract({0}, '[0-9]+') AS BIGINT) AS {0}"
for table, ids in (("customers", ["customer_id"]), ("orders", ["order_id", "customer_id"]),
                   ("events", ["customer_id"])):
    cols = ", ".join(num.format(c) for c in ids)
    con.execute(f"COPY (SELECT {cols}, * EXCLUDE ({', '.join(ids)}) FROM "
                f"read_parquet('{root}/demo/{table}.parquet')) TO "
                f"'{root}/int/{table}.parquet' (FORMAT parquet)")
"""

PLAIN_CHILD = """
import sys, duckdb
con = duckdb.connect()
for statement in open(sys.argv[1], encoding="utf-8").read().split(";\\n"):
    if statement.strip():
        con.execute(statement)
"""


def shop(n: int) -> Path:
    root = WORK / f"plain_{n}"
    if not (root / "int" / "events.parquet").exists():
        print(f"generating the {n:,}-customer shop ...", flush=True)
        run([sys.executable, "-c", GENERATE, str(n), str(root)])
    return root


def project(root: Path) -> Path:
    proj = root / "project"
    shutil.rmtree(proj, ignore_errors=True)
    shutil.copytree(PLAIN / "plans", proj / "plans")
    shop_yaml = proj / "plans" / "shop.yaml"
    text = shop_yaml.read_text(encoding="utf-8")
    shop_yaml.write_text(text.replace(
        "  path: data", f"  path: {root / 'int'}\n  allow_outside_project: true"),
                         encoding="utf-8")
    return proj


def plain_script(proj: Path, root: Path, out: Path) -> Path:
    """plain.sql with its slots filled: the paths, the as-of date, the address patterns
    and, per activity, the COPY of its send list (its channel's address and message)."""
    import yaml

    from crmspec.core.addresses import EMAIL_RE, MOBILE_RE

    sql = (PLAIN / "plain.sql").read_text(encoding="utf-8")
    head, copy = sql.split("-- 6. one COPY")
    copy = "-- 6. one COPY" + copy
    fill = {"data": str(root / "int"), "as_of": AS_OF, "out": str(out), "salt": SALT,
            "mobile_re": MOBILE_RE, "email_re": EMAIL_RE}
    parts = [Template(head).substitute(fill)]
    plan = yaml.safe_load((proj / "plans" / "activities.yaml").read_text(encoding="utf-8"))
    for a in plan["activities"]:
        sms = a["channel"] == "sms"
        parts.append(Template(copy).substitute(
            fill, activity=a["id"], address="phone" if sms else "email",
            prefix="【基准店】" if sms else "", text=f"，{a['name']}：基准店有礼，回T退订"
            if sms else f"，{a['name']}"))
    script = root / "plain_filled.sql"
    script.write_text("\n".join(parts), encoding="utf-8")
    return script


def files_script(proj: Path, root: Path, out: Path) -> Path:
    """plain_files.sql with its slots filled: the head once, per activity the rows sent,
    its channel's send file and its audience list, then the record."""
    import yaml

    from crmspec.core.addresses import EMAIL_RE, MOBILE_RE

    sql = (PLAIN / "plain_files.sql").read_text(encoding="utf-8")
    head, rest = sql.split("-- 6. per activity")
    per, tail = rest.split("-- 7. the record")
    per_head, sms, email, audience = _split(per, "-- sms:", "-- email:", "-- the audience")
    fill = {"data": str(root / "int"), "as_of": AS_OF, "out": str(out), "salt": SALT,
            "mobile_re": MOBILE_RE, "email_re": EMAIL_RE}
    parts = [Template(head).substitute(fill)]
    plan = yaml.safe_load((proj / "plans" / "activities.yaml").read_text(encoding="utf-8"))
    for a in plan["activities"]:
        channel = sms if a["channel"] == "sms" else email
        # the first send slot of the as-of day (a Wednesday): marketing SMS from 10:00
        # (the SMS channel's window for marketing), everything else from 08:00
        hour = "10:00" if a["channel"] == "sms" and a["kind"] == "marketing" else "08:00"
        parts += [Template(t).substitute(fill, activity=a["id"], title=a["name"],
                                         channel=a["channel"], send_at=f"{AS_OF} {hour}")
                  for t in ("-- 6." + per_head, channel, audience)]
    parts.append(Template("-- 7." + tail).substitute(fill))
    script = root / "plain_files_filled.sql"
    script.write_text("\n".join(parts), encoding="utf-8")
    return script


def _split(text: str, *marks: str) -> list[str]:
    out = []
    for mark in marks:
        before, text = text.split(mark, 1)
        out.append(before)
        text = mark + text
    return out + [text]


def check_files(proj: Path, out: Path) -> int:
    """Every file of the same-files job against crmspec's, byte for byte: the send files
    and the audience lists; returns the files compared."""
    mine = sorted(p.relative_to(out) for d in ("sms", "email", "audience")
                  for p in (out / d).glob("*.csv"))
    for rel in mine:
        if (proj / "out" / rel).read_bytes() != (out / rel).read_bytes():
            sys.exit(f"{rel}: the same-files job's file differs from crmspec's")
    theirs = sorted(p.relative_to(proj / "out") for d in ("sms", "email", "audience")
                    for p in (proj / "out" / d).glob("*.csv"))
    if mine != theirs:
        sys.exit(f"different files: {sorted(set(mine) ^ set(theirs))}")
    return len(mine)


def rows(path: Path, *cols: str) -> set[tuple]:
    with open(path, encoding="utf-8", newline="") as f:
        return {tuple(r[c] for c in cols) for r in csv.DictReader(f)}


def check(proj: Path, out: Path) -> int:
    """The plain job's send lists against crmspec's; returns the contacts compared.

    The audience list shows addresses masked (issue 17), so it is compared with the plain
    job's customers and their addresses masked by `crmspec.core.mask.mask_value`; the
    channel's own file, which carries the real addresses, with the plain job's addresses
    (and, for SMS, texts) as they are."""
    import yaml

    from crmspec.core.mask import mask_value

    plan = yaml.safe_load((proj / "plans" / "activities.yaml").read_text(encoding="utf-8"))
    total = 0
    for a in plan["activities"]:
        mine = proj / "out" / "audience" / f"{a['id']}.csv"
        ref = out / f"{a['id']}.csv"
        want_rows = rows(ref, "customer_id", "address")
        got = rows(mine, "customer_id", "address")
        want = {(c, mask_value(addr)) for c, addr in want_rows}
        if got != want:
            sys.exit(f"{a['id']}: {len(got - want)} only in crmspec, {len(want - got)} only "
                     f"in the plain job, e.g. {sorted(got ^ want)[:2]}")
        if a["channel"] == "sms":
            sms = rows(proj / "out" / "sms" / f"{a['id']}.csv", "phone", "content")
            if sms != rows(ref, "address", "message"):
                sys.exit(f"{a['id']}: the SMS texts differ")
        else:
            email = rows(proj / "out" / "email" / f"{a['id']}.csv", "email")
            if email != {(addr,) for _, addr in want_rows}:
                sys.exit(f"{a['id']}: the email file's addresses differ")
        total += len(got)
    return total


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def bench(n: int, rounds: int) -> dict:
    root = shop(n)
    proj = project(root)
    for f in sorted((root / "int").glob("*.parquet")):  # warm the page cache
        f.read_bytes()
    out, files_out = root / "plain_out", root / "plain_files_out"
    script = plain_script(proj, root, out)
    same_files = files_script(proj, root, files_out)
    build = [sys.executable, "-m", "crmspec", "--project", str(proj), "build"]
    runs: dict[str, list[dict]] = {"plain": [], "files": [], "cold": [], "warm": []}
    for i in range(rounds):
        for folder in (out, files_out):
            shutil.rmtree(folder, ignore_errors=True)
        out.mkdir(parents=True)
        for d in ("sms", "email", "audience"):
            (files_out / d).mkdir(parents=True)
        runs["plain"].append(run([sys.executable, "-c", PLAIN_CHILD, str(script)]))
        runs["files"].append(run([sys.executable, "-c", PLAIN_CHILD, str(same_files)]))
        shutil.rmtree(proj / "state", ignore_errors=True)
        runs["cold"].append(run(build))
        (proj / "state" / "ledger.duckdb").unlink()
        runs["warm"].append(run(build))
        if not (proj / "state" / "checks.json").exists():
            sys.exit("the warm build found no checks' cache")
        print(f"{n:,} round {i + 1}: " + ", ".join(
            f"{k} {v[-1]['wall_s']:.1f} s ({v[-1]['cpu_s']:.1f} CPU s, {v[-1]['rss_mib']} MiB)"
            for k, v in runs.items()), flush=True)
    contacts = check(proj, out)
    result = {"customers": n, "rounds": rounds, "contacts": contacts,
              "files_equal": check_files(proj, files_out)}
    for k, v in runs.items():
        result[k] = {m: summary([r[m] for r in v]) for m in ("wall_s", "cpu_s", "rss_mib")}
    for ref, suffix in (("plain", ""), ("files", "_files")):
        for k in ("cold", "warm"):
            result[f"{k}_ratio{suffix}"] = {
                m: summary([c[m] / p[m] for c, p in zip(runs[k], runs[ref], strict=True)])
                for m in ("wall_s", "cpu_s")}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    results = [bench(n, args.rounds) for n in args.sizes]
    for r in results:
        print(json.dumps(r))
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "plain_results.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
