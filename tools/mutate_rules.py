"""Mutations of the rules mutmut cannot reach, each of which the tests must notice.

mutmut mutates Python (operators, constants, plain strings) but not the text inside
f-strings, and most of crmspec's rules are SQL written in f-strings: the contact
windows, the budgets, the stage bands, the SMS segment rule. This script applies one
hand-written mutation at a time (a comparison moved by one, a condition dropped), runs
the tests named for it, restores the file, and reports KILLED or SURVIVED; it exits 1
when a mutant survives. It includes the seven mutations issue 18 found surviving.

    python tools/mutate_rules.py            # every mutation
    python tools/mutate_rules.py refund     # those whose name contains "refund"

It edits files under src/ while it runs (each restored at once, also on Ctrl-C): run it
on a tree without uncommitted changes to those files, and not while mutmut generates
mutants. docs/testing.md lists the results.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src/crmspec"

# (name, file under src/crmspec, text, mutated text, tests that must fail)
MUTATIONS: list[tuple[str, str, str, str, list[str]]] = [
    ("global hold-out inverted", "contact/limits.py",
     "< {float(rules.global_holdout)!r}", "> {float(rules.global_holdout)!r}",
     ["tests/test_contact_boundaries.py"]),
    ("global hold-out includes its share", "contact/limits.py",
     "< {float(rules.global_holdout)!r}", "<= {float(rules.global_holdout)!r}",
     ["tests/test_contact_boundaries.py"]),
    ("refund window a day longer", "contact/limits.py",
     "CAST(created_at AS DATE) > {d} - INTERVAL {int(rules.refund_days)} DAY",
     "CAST(created_at AS DATE) >= {d} - INTERVAL {int(rules.refund_days)} DAY",
     ["tests/test_contact_boundaries.py"]),
    ("refund stops maintenance too", "contact/limits.py",
     "WHEN NOT r.service AND r.kind = 'marketing' AND coalesce(na.refund, false)",
     "WHEN NOT r.service AND coalesce(na.refund, false)",
     ["tests/test_contact_boundaries.py", "tests/test_contacts.py"]),
    ("blank do-not-contact channel no longer every channel", "data/suppressions.py",
     "\"NULLIF(TRIM(CAST(channel AS VARCHAR)), '')\"", "\"CAST(channel AS VARCHAR)\"",
     ["tests/test_contact_boundaries.py"]),
    ("do-not-contact on every channel only for ''", "contact/limits.py",
     "bool_or(rule = 'do_not_contact' AND channel IS NULL) AS dnc_all",
     "bool_or(rule = 'do_not_contact' AND channel = '') AS dnc_all",
     ["tests/test_contact_boundaries.py"]),
    ("limit windows a day longer", "contact/limits.py",
     "count(*) FILTER (WHERE as_of > {d} - INTERVAL {n} DAY) AS w{n}",
     "count(*) FILTER (WHERE as_of >= {d} - INTERVAL {n} DAY) AS w{n}",
     ["tests/test_contacts.py"]),
    ("stage limit skips the day the stage began", "contact/limits.py",
     "h.as_of >= f.last_purchase_date + INTERVAL (s.from_days) DAY)",
     "h.as_of > f.last_purchase_date + INTERVAL (s.from_days) DAY)",
     ["tests/test_contacts.py"]),
    ("cooldown a day longer", "contact/limits.py",
     "WHERE h.as_of > {d} - INTERVAL (r.once_within_days) DAY",
     "WHERE h.as_of >= {d} - INTERVAL (r.once_within_days) DAY",
     ["tests/test_contacts.py"]),
    ("channel limit one fewer", "contact/limits.py",
     "WHEN e.n > CASE e.channel", "WHEN e.n >= CASE e.channel",
     ["tests/test_contacts.py"]),
    ("limits count service contacts", "contact/limits.py",
     "FROM verdicts\n          WHERE reason IS NULL AND NOT service)",
     "FROM verdicts\n          WHERE reason IS NULL)", ["tests/test_contacts.py"]),
    ("overall limit counts the channel-limited", "contact/limits.py",
     "FROM ch WHERE reason IS NULL) k", "FROM ch) k", ["tests/test_contacts.py"]),
    ("a tie of stage and overall limit named stage_limit", "contact/limits.py",
     "WHEN {stage} < {overall} THEN 'stage_limit'", "WHEN {stage} <= {overall} THEN 'stage_limit'",
     ["tests/test_contacts.py"]),
    ("limited contacts spend the budget", "contact/budgets.py",
     'still_in = "p.reason IS NULL"', 'still_in = "true"', ["tests/test_contacts.py"]),
    ("a message left out still spends the budget", "contact/budgets.py",
     '(" AND k.reason IS NULL" if costs else "")', '("" if costs else "")',
     ["tests/test_hardening_pii.py"]),
    ("activity budget trims at the cap", "contact/budgets.py",
     "> budget_cap + 1e-9", ">= budget_cap", ["tests/test_contacts.py"]),
    ("monthly budget trims at the cap", "contact/budgets.py",
     "> {float(rules.monthly_cap)!r} + 1e-9", ">= {float(rules.monthly_cap)!r}",
     ["tests/test_contacts.py"]),
    ("control group inverted", "contact/budgets.py",
     "{control} < p.holdout THEN 'control'", "{control} > p.holdout THEN 'control'",
     ["tests/test_contacts.py"]),
    ("SMS: 69 characters in one segment", "channels/base.py",
     "length({text_sql}) <= 70 THEN 1", "length({text_sql}) <= 69 THEN 1",
     ["tests/test_channels.py"]),
    ("SMS: 71 characters in one segment", "channels/base.py",
     "length({text_sql}) <= 70 THEN 1", "length({text_sql}) <= 71 THEN 1",
     ["tests/test_channels.py"]),
    ("SMS: segments of 70 when concatenated", "channels/base.py",
     "ceil(length({text_sql}) / 67)", "ceil(length({text_sql}) / 70)",
     ["tests/test_channels.py"]),
    ("SMS: segments of 66 when concatenated", "channels/base.py",
     "ceil(length({text_sql}) / 67)", "ceil(length({text_sql}) / 66)",
     ["tests/test_channels.py"]),
    ("(AD) domains compared case-sensitively", "channels/email.py",
     "CASE WHEN lower(split_part(address, '@', 2)) IN", "CASE WHEN split_part(address, '@', 2) IN",
     ["tests/test_channels.py"]),
    ("(AD) added twice", "channels/email.py",
     "unmarked = f\"starts_with({subject}, {sql_str(marker)})\"", "unmarked = \"false\"",
     ["tests/test_channels.py"]),
    ("parcel: shipped on the as-of date no longer packed", "channels/parcel.py",
     "CAST(shipped_at AS DATE) >= {asof})", "CAST(shipped_at AS DATE) > {asof})",
     ["tests/test_parcel.py"]),
    ("parcel: paid on the as-of date not packed", "channels/parcel.py",
     "AND CAST(paid_at AS DATE) <= {asof} ", "AND CAST(paid_at AS DATE) < {asof} ",
     ["tests/test_parcel.py"]),
    ("stage bands closed at to_days", "compile/facts.py",
     "cond += f\" AND days_since_last_purchase < {int(s.to_days)}\"",
     "cond += f\" AND days_since_last_purchase <= {int(s.to_days)}\"",
     ["tests/test_build_tiny.py"]),
    ("stage bands open at from_days", "compile/facts.py",
     "cond = f\"days_since_last_purchase >= {int(s.from_days or 0)}\"",
     "cond = f\"days_since_last_purchase > {int(s.from_days or 0)}\"",
     ["tests/test_build_tiny.py"]),
    ("fans from one purchase more", "compile/facts.py",
     "WHEN purchases >= {fans} THEN", "WHEN purchases > {fans} THEN",
     ["tests/test_segment_conditions.py"]),
    ("tiers from above min_spend", "compile/facts.py",
     "cond = f\"{spend} >= {float(t.min_spend)!r}\"",
     "cond = f\"{spend} > {float(t.min_spend)!r}\"",
     ["tests/test_segment_conditions.py"]),
    ("tiers from one purchase more than min_purchases", "compile/facts.py",
     "cond += f\" AND {purchases} >= {int(t.min_purchases)}\"",
     "cond += f\" AND {purchases} > {int(t.min_purchases)}\"",
     ["tests/test_segment_conditions.py"]),
    ("intent window a day longer", "compile/facts.py",
     "CAST(event_at AS DATE) > {asof} - INTERVAL {int(i.within_days)} DAY",
     "CAST(event_at AS DATE) >= {asof} - INTERVAL {int(i.within_days)} DAY",
     ["tests/test_segment_conditions.py"]),
    ("tier: none negated", "compile/segments.py",
     "parts.append(col(\"tier\").is_(exp.null()))",
     "parts.append(col(\"tier\").is_(exp.null()).not_())",
     ["tests/test_segment_conditions.py"]),
    ("phone masking misses 19x", "core/mask.py",
     "(1[3-9]\\d)[ -]?", "(1[3-8]\\d)[ -]?", ["tests/test_masking.py"]),
    ("E304 misses a one-day gap", "plan/checks/lifecycle.py",
     "elif gaps and prev.to_days < cur.from_days:",
     "elif gaps and prev.to_days + 1 < cur.from_days:",
     ["tests/test_lifecycle_checks.py"]),
    ("E304 names one day too many", "plan/checks/lifecycle.py",
     "f\"days {prev.to_days}-{cur.from_days - 1} belong",
     "f\"days {prev.to_days}-{cur.from_days} belong",
     ["tests/test_lifecycle_checks.py"]),
    ("message limit a character shorter", "templates/rendering.py",
     "+ {extra} > {limit}", "+ {extra} >= {limit}", ["tests/test_hardening_pii.py"]),
    ("SMS length not checked before the budgets", "engine/decide.py",
     "        for ca in early:\n            drop_too_long",
     "        for ca in []:\n            drop_too_long",
     ["tests/test_hardening_pii.py"]),
    ("formula cells not neutralised", "core/spreadsheet.py",
     "THEN '''' || {expr} ", "THEN {expr} ", ["tests/test_hardening_pii.py"]),
    ("audience address unmasked", "outputs/write.py",
     'AS address" if c == "address"', 'AS address" if c == "-"',
     ["tests/test_build_tiny.py", "tests/test_hardening_pii.py"]),
    ("E315 lets .. itself through", "plan/checks/shop.py",
     'return norm == ".." or norm.startswith("../")', 'return norm.startswith("../")',
     ["tests/test_hardening_pii.py"]),
    ("ledger run not in one transaction", "contact/ledger.py",
     "    con.execute(\"BEGIN TRANSACTION\")\n    try:", "    try:",
     ["tests/test_ledger.py", "tests/test_contact_plan.py"]),
    # issue 16, part D: RFM by cuts, the per-customer aggregates, what features carries,
    # the cached examples
    ("RFM: a value on a band's cut scores a band higher", "compile/facts.py",
     "WHEN p.{column} <= k.{score}{k} THEN {k}", "WHEN p.{column} < k.{score}{k} THEN {k}",
     ["tests/test_rfm_scores.py"]),
    ("RFM: the cut of score k taken below it", "compile/facts.py",
     "FILTER (WHERE score <= {k})", "FILTER (WHERE score < {k})",
     ["tests/test_rfm_scores.py"]),
    ("RFM: the top band scores 4", "compile/facts.py",
     "ELSE 5 END", "ELSE 4 END", ["tests/test_rfm_scores.py"]),
    ("RFM: customers without a purchase scored", "compile/facts.py",
     'else "p.customer_id IS NOT NULL"', 'else "true"', ["tests/test_rfm_scores.py"]),
    ("RFM window: buyers before it scored", "compile/facts.py",
     'buyer = "p.rfm_purchases > 0" if in_rfm', 'buyer = "p.rfm_purchases >= 0" if in_rfm',
     ["tests/test_build_tiny.py"]),
    ("tier window: spend not cut at the kept review date", "compile/facts.py",
     'conds = [] if end == asof else [f"purchase_date <= {end}"]', "conds = []",
     ["tests/test_demo_independent.py"]),
    ("last purchase date from the first payment", "compile/facts.py",
     "CAST(max(paid_at) AS DATE) AS last_purchase_date",
     "CAST(min(paid_at) AS DATE) AS last_purchase_date", ["tests/test_build_tiny.py"]),
    ("features without the templates' columns", "compile/plan.py",
     "read = set(reads) | {", "read = set() | {", ["tests/test_compiled_reads.py"]),
    ("features without the segments' columns", "compile/plan.py",
     "customer_columns([*segments.values(), *(ca.query", "customer_columns([*(ca.query",
     ["tests/test_compiled_reads.py"]),
    ("a review's plans carry their own columns only", "engine/session.py",
     "reads=sorted(reads)),", "reads=template_columns(v.templates)),",
     ["tests/test_review.py"]),
    ("writer rows without the other customer columns", "compile/facts.py",
     '    if theirs <= have:\n        return "SELECT * FROM features"',
     '    if True:\n        return "SELECT * FROM features"',
     ["tests/test_compiled_reads.py", "tests/test_templates.py"]),
    ("examples cached without the mapping", "data/cleaning.py",
     "+ [raw(t) for t in sorted(relations)])", ")", ["tests/test_checkcache.py"]),
    # issue 16, part E: the audience lists' constants, the statistics in the checks' cache
    ("audience list: channel and segment swapped", "outputs/write.py",
     'constants = {"channel": channel, "segment": segment}',
     'constants = {"channel": segment, "segment": channel}',
     ["tests/test_output_order.py", "tests/test_golden.py"]),
    ("statistics not cached", "data/sources.py",
     "parquet_bounds(con, _file(ds, root, table), asked, cache)",
     "parquet_bounds(con, _file(ds, root, table), asked, None)",
     ["tests/test_checks_shortcuts.py"]),
    ("statistics cached without the columns asked", "data/stats.py",
     'key = f"{sql} -- {params}"', "key = sql", ["tests/test_checks_shortcuts.py"]),
    ("cached statistics never stored", "data/stats.py",
     "            cache.put(key, row)", "            pass", ["tests/test_checks_shortcuts.py"]),
]


def run(name: str, file: str, old: str, new: str, tests: list[str]) -> bool:
    """Apply one mutation, run its tests, restore the file; True when a test failed."""
    path = SRC / file
    original = path.read_text(encoding="utf-8")
    if original.count(old) != 1:
        raise SystemExit(f"{name}: {file} holds the text {original.count(old)} times, not once "
                         "(the code moved: update MUTATIONS)")
    path.write_text(original.replace(old, new), encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p",
                               "no:cacheprovider", *tests], cwd=ROOT, capture_output=True)
    finally:
        path.write_text(original, encoding="utf-8")
    return done.returncode != 0


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(a in m[0] for a in argv)]
    survived = []
    for name, file, old, new, tests in chosen:
        killed = run(name, file, old, new, tests)
        print(f"{'KILLED  ' if killed else 'SURVIVED'} {name} ({file})", flush=True)
        if not killed:
            survived.append(name)
    print(f"{len(chosen) - len(survived)} of {len(chosen)} killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
