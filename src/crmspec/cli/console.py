"""Terminal output of a build: its progress as it runs, the summary table operators read
after each run, and one customer's explanation."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crmspec.build import BuildResult
from crmspec.core.diagnostics import render
from crmspec.core.mask import mask_text
from crmspec.core.progress import Lines, Progress
from crmspec.core.tabular import fitted_table, left_out_line


class RichProgress(Progress):
    """The phases of a command on a terminal (stderr): a line each with a spinner while it
    runs, a bar and a count for the phases that count (the activities written), the
    elapsed time; finished phases stay on screen, ticked."""

    def __init__(self, console: Console):
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Display

        self.display = Display(SpinnerColumn(finished_text="✓"),
                               TextColumn("{task.description}"), BarColumn(),
                               TextColumn("{task.fields[count]}"), TimeElapsedColumn(),
                               console=console)
        self.task = None
        self.live = False

    def start(self, phase: str, total: int | None = None) -> None:
        if not self.live:
            self.display.start()
            self.live = True
        self._end()
        self.task = self.display.add_task(phase, total=total, count=self._count(0, total))

    def advance(self, steps: int = 1) -> None:
        if self.task is not None:
            task = self.display.tasks[-1]
            done = task.completed + steps
            self.display.update(self.task, completed=done, count=self._count(done, task.total))

    def note(self, message: str) -> None:
        self.display.console.print(message, markup=False, highlight=False)

    def finish(self) -> None:
        self._end()
        if self.live:
            self.display.stop()
            self.live = False

    def _end(self) -> None:
        if self.task is not None:
            task = self.display.tasks[-1]
            total = task.total or 1
            self.display.update(self.task, total=total, completed=total)
            self.display.stop_task(self.task)
            self.task = None

    @staticmethod
    def _count(done: float, total: float | None) -> str:
        return f"{int(done)}/{int(total)}" if total else ""


def command_progress() -> Progress:
    """How a command shows its progress: a rich display on a terminal, plain lines on
    stderr otherwise (CI logs, pipes)."""
    console = Console(stderr=True)
    if console.is_terminal:
        return RichProgress(console)
    return Lines(lambda message: click.echo(message, err=True))


def terminal() -> Console:
    """The console of a command's output: the terminal's width, or (piped, in CI) a wide
    fixed one, so that logs keep every column on one line."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


# The build summary's columns; at 80-120 columns the optional ones go first to last
# (kind, name, main reason, channel), numbers never (core.tabular.fitted_table).
BUILD_COLUMNS = ["activity", "name", "kind", "channel", "eligible", "not\ncontacted",
                 "control", "sent", "cost", "main reason"]
BUILD_OPTIONAL = (2, 1, 9, 3)
# activity ids stay whole while an optional column can go instead; names wrap
BUILD_WRAP = {0: 64, 1: 12}


def print_build(result: BuildResult, console: Console | None = None) -> None:
    console = console or terminal()
    if result.warnings:
        # Plain text, never wrapped: one diagnostic per line, as editors and CI parse them.
        click.echo(mask_text(render(result.warnings)), err=True)
    m = result.manifest
    lines = []
    for a in m["activities"]:
        sup = sum(a["suppressed"].values())
        main = max(a["suppressed"].items(), key=lambda kv: (kv[1], kv[0]))[0] if sup else ""
        cost = a.get("cost") or {}
        lines.append([a["id"], a["name"], a["kind"], a["channel"], f"{a['eligible']:,}",
                      f"{sup:,}", f"{a.get('control', 0):,}", f"{a['sent']:,}",
                      f"{cost['total']:,.2f}" if cost else "-", main])
    table, left_out = fitted_table(f"{m['shop']} · as of {m['as_of']}", BUILD_COLUMNS, lines,
                                   console.width, right=range(4, 9), wrap=BUILD_WRAP,
                                   optional=BUILD_OPTIONAL)
    console.print(table)
    if left_out:
        console.print(left_out_line(left_out, console.width, "out/manifest.json"),
                      markup=False, highlight=False)
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
            + (f" of {cap:,.2f}" if cap is not None else "")
            + (f", OVER THE BUDGET by {costs['over_cap']:,.2f} (W605)"
               if costs.get("over_cap") else ""), markup=False, highlight=False)
    below = {k: v for k, v in m.get("stage_contacts", {}).items() if v["below_min"]}
    if below:
        console.print("below the stage minimum of contacts: " + ", ".join(
            f"{k} {v['below_min']:,} of {v['customers']:,} (min {v['min']})"
            for k, v in below.items()), markup=False, highlight=False)
    where = str(result.out_dir) if result.out_dir else "nothing written (dry run)"
    console.print(f"outputs: {where}", markup=False, highlight=False)


def print_explanation(result, console: Console | None = None) -> None:
    """`crmspec explain`: one line per activity, contacted or why not."""
    console = console or terminal()
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
    for v in result.verdicts:  # text, never markup: names come from the plan
        table.add_row(*map(Text, (v.activity_id, v.name, v.channel,
                                  "contacted" if v.contacted else v.status,
                                  mask_text("; ".join(v.why)))))
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
