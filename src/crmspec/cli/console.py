"""Terminal output of a build: the summary table operators read after each run."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from crmspec.build import BuildResult
from crmspec.core.diagnostics import render
from crmspec.core.mask import mask_text


def print_build(result: BuildResult, console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or in CI: do not squeeze the table to 80
            console = Console(width=160)
    if result.warnings:
        # Plain text, never wrapped: one diagnostic per line, as editors and CI parse them.
        click.echo(mask_text(render(result.warnings)), err=True)
    m = result.manifest
    table = Table(title=f"{m['shop']} · as of {m['as_of']}", title_justify="left")
    table.add_column("activity", no_wrap=True)
    table.add_column("name")
    for name in ("kind", "channel"):
        table.add_column(name, no_wrap=True)
    for name in ("eligible", "not contacted", "control", "sent", "cost"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("main reason", no_wrap=True)
    for a in m["activities"]:
        sup = sum(a["suppressed"].values())
        main = max(a["suppressed"].items(), key=lambda kv: (kv[1], kv[0]))[0] if sup else ""
        cost = a.get("cost") or {}
        table.add_row(a["id"], a["name"], a["kind"], a["channel"], f"{a['eligible']:,}",
                      f"{sup:,}", f"{a.get('control', 0):,}", f"{a['sent']:,}",
                      f"{cost['total']:,.2f}" if cost else "-", main)
    console.print(table)
    stages = ", ".join(f"{k} {v:,}" for k, v in m["stages"].items())
    console.print(f"stages: {stages}", markup=False, highlight=False)
    costs = m.get("costs")
    if costs:
        cap = costs["monthly_cap"]
        parts = ", ".join(f"{k} {v:,.2f}" for k, v in costs["by_channel"].items())
        console.print(
            f"cost {costs['currency']}: this build {costs['total']:,.2f}"
            + (f" ({parts})" if parts else "")
            + f"; month to date {costs['month_to_date']:,.2f}"
            + (f" of {cap:,.2f}" if cap is not None else ""), markup=False, highlight=False)
    below = {k: v for k, v in m.get("stage_contacts", {}).items() if v["below_min"]}
    if below:
        console.print("below the stage minimum of contacts: " + ", ".join(
            f"{k} {v['below_min']:,} of {v['customers']:,} (min {v['min']})"
            for k, v in below.items()), markup=False, highlight=False)
    where = str(result.out_dir) if result.out_dir else "nothing written (dry run)"
    console.print(f"outputs: {where}", markup=False, highlight=False)


def print_explanation(result, console: Console | None = None) -> None:
    """`crmspec explain`: one line per activity, contacted or why not."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
    f = result.facts
    console.print(
        f"{result.customer_id} as of {result.as_of.isoformat()}: stage {f['stage']}, "
        f"{f['customer_type']}, tier {f['tier'] or 'none'}, {f['purchases']} purchases, "
        f"spend {f['spend']}, {f['days_since_last_purchase']} days since the last, "
        f"RFM {f['r']}/{f['f']}/{f['m']}", markup=False, highlight=False)
    table = Table(title_justify="left")
    table.add_column("activity", no_wrap=True)
    table.add_column("name")
    table.add_column("channel", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("why")
    for v in result.verdicts:
        table.add_row(v.activity_id, v.name, v.channel,
                      "contacted" if v.contacted else v.status, mask_text("; ".join(v.why)))
    console.print(table)


def print_import(result, shown: int = 20) -> None:
    """`crmspec import`: what was read, what changed, the rejected rows (masked)."""
    r = result.report
    c = r.counts
    lines = [f"read {r.rows_read:,} rows from {len(r.files)} file(s) ({r.format})"]
    if c.orders_new or c.orders_updated or c.orders_unchanged:
        lines.append(f"orders: {c.orders_new:,} new, {c.orders_updated:,} updated, "
                     f"{c.orders_unchanged:,} unchanged")
    lines.append(f"customers: {c.customers_new:,} new, {c.customers_updated:,} updated")
    if c.events_new:
        lines.append(f"events: {c.events_new:,} new")
    lines += [mask_text(n) for n in r.notes]
    if r.rejected:
        lines.append(f"rejected {len(r.rejected):,} row(s):")
    click.echo("\n".join(lines))
    if r.rejected:
        click.echo(render(r.rejected[:shown]).rsplit("\n", 1)[0], err=True)
        if len(r.rejected) > shown:
            click.echo(f"... and {len(r.rejected) - shown:,} more", err=True)
    click.echo(f"wrote {r.target}" + ("; plans/shop.yaml now reads it (was the demo shop)"
                                       if result.switched else ""))
    if result.ledger_moved:
        click.echo(f"the demo shop's contact ledger is set aside as {result.ledger_moved}")
