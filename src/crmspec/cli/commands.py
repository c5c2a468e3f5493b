"""The command line: thin wiring from click options to one library function each.

Exit codes (README): 0 success; 1 a problem of the plan, the data or the input, printed
as diagnostics (every expected failure is a PlanError: no traceback); 2 a usage error
(click's: an unknown option, a bad value); 3 an internal error, a bug: a one-line
message, and the traceback only with --debug; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import functools
import sys
import traceback
from datetime import date
from functools import wraps
from pathlib import Path

import click

from crmspec import __version__
from crmspec.core.diagnostics import PlanError, render


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; write YYYY-MM-DD") from None


EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130


def _project(project: str | None) -> str | None:
    """The --project of the command, or of the group (`crmspec --project X validate`)."""
    ctx = click.get_current_context(silent=True)
    outer = ctx.find_root().params.get("project") if ctx is not None else None
    if project and outer and Path(project).resolve() != Path(outer).resolve():
        raise click.UsageError(f"--project is given twice, as {outer} and {project}: "
                               "give it once")
    return project or outer


def _root(project: str | None) -> Path:
    from crmspec.plan.project import find_root

    return find_root(Path(_project(project) or "."))


def handled(fn, internal_exit: int = EXIT_INTERNAL):
    """Turn PlanError into printed diagnostics and exit 1; hide tracebacks unless --debug
    (an internal error exits `internal_exit`)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except PlanError as exc:
            fmt = kwargs.get("fmt") or "text"
            if fmt not in ("text", "json", "github"):
                fmt = "text"
            if ctx.find_root().params.get("debug"):
                for original in getattr(exc, "originals", []):  # a plugin's exception
                    click.echo("".join(traceback.format_exception(original)), err=True)
            click.echo(render(exc.diagnostics, fmt), err=fmt == "text")
            ctx.exit(EXIT_PROBLEMS)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("crmspec: interrupted; outputs and the ledger are as they were",
                       err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if ctx.find_root().params.get("debug"):
                raise
            # The exception's text may quote data (a DuckDB conversion error names the
            # value): masked like every other line a command prints.
            from crmspec.core.mask import mask_text

            click.echo(mask_text(f"crmspec: internal error: {type(exc).__name__}: {exc}"),
                       err=True)
            click.echo("run again with --debug for the traceback, and report it", err=True)
            ctx.exit(internal_exit)

    return wrapper


project_option = click.option(
    "--project", "project", type=click.Path(file_okay=False), default=None,
    help="Shop repository root (the folder holding plans/). Default: the current folder. "
    "May also come before the command: crmspec --project DIR validate.",
)


bom_option = click.option(
    "--bom/--no-bom", default=True, show_default=True,
    help="--format csv: start with a UTF-8 byte order mark, so that Excel on Chinese "
    "Windows opens the file as UTF-8 (not GBK); --no-bom for tools that do not expect one.",
)


def _terminal_width() -> int | None:
    """The terminal's width for report tables; None when piped (the report then keeps
    every column on one line, for logs and files)."""
    from rich.console import Console

    console = Console()
    return console.width if console.is_terminal else None


def _local_root() -> Path | None:
    """The group's --project, or the current folder when it is a shop project (for its
    plugins/ folder)."""
    ctx = click.get_current_context(silent=True)
    outer = ctx.find_root().params.get("project") if ctx is not None else None
    folder = Path(outer) if outer else Path.cwd()
    return folder if (folder / "plans").is_dir() else None


class PluginGroup(click.Group):
    """The crmspec group: built-in commands plus those plugins add (register_commands).

    Plugin commands are looked up only when a name is not built in (or for --help), from
    the installed plugins and the plugins/ folder of the current folder: a broken plugin
    cannot break a built-in command, and is reported when its command is asked for.
    """

    def _plugin_commands(self, ctx: click.Context) -> dict:
        if "crmspec_commands" not in ctx.meta:
            from crmspec.plugins import collect_commands, get_plugin_manager

            try:
                pm = get_plugin_manager(_local_root())
                found = collect_commands(pm)
            except PlanError as exc:
                ctx.meta["crmspec_plugin_error"] = exc
                found = {}
            ctx.meta["crmspec_commands"] = {
                name: _guarded(plugin, cmd) for name, (plugin, cmd) in found.items()
                if name not in self.commands
            }
        return ctx.meta["crmspec_commands"]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_commands(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        cmd = self._plugin_commands(ctx).get(cmd_name)
        error = ctx.meta.get("crmspec_plugin_error")
        if cmd is None and error is not None:  # the command may be the broken plugin's
            if ctx.params.get("debug"):
                for original in getattr(error, "originals", []):
                    click.echo("".join(traceback.format_exception(original)), err=True)
            click.echo(render(error.diagnostics), err=True)
            ctx.exit(1)
        return cmd


def _guarded(plugin: str, cmd: click.Command) -> click.Command:
    """A plugin's command whose exceptions are reported with the plugin's name."""
    callback = cmd.callback
    if callback is None:
        return cmd

    @wraps(callback)
    def run(*args, **kwargs):
        from crmspec.plugins import command_failure

        try:
            return callback(*args, **kwargs)
        except (PlanError, click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001
            raise command_failure(plugin, cmd.name or "", exc, callback, _local_root()
                                  ) from None

    cmd.callback = handled(run)
    return cmd


@click.group(cls=PluginGroup)
@click.version_option(__version__, prog_name="crmspec")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors and of "
              "plugin failures.")
@project_option
def main(debug: bool, project: str | None) -> None:
    """crmspec: repeat-purchase CRM plans as code.

    Exit codes: 0 success, 1 problems in the plan, data or input (printed), 2 usage
    errors, 3 internal errors (bugs; --debug shows the traceback), 130 interrupted.
    """


@main.command()
@project_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              help="text for people, json for tools, github for Actions annotations.")
@click.option("--manifest", "manifest", type=click.Path(dir_okay=False), default=None,
              help="Check the hold-outs (W602) against the audiences of this build's "
              "manifest.json instead of the ledger's latest run.")
@handled
def validate(project: str | None, fmt: str, manifest: str | None) -> None:
    """Check the plan: every problem, with file, line and column."""
    from crmspec.validate import report, validate_with_history

    result = validate_with_history(_root(project), manifest=Path(manifest) if manifest else None)
    output = report(result, fmt)
    if output:
        click.echo(output)
    sys.exit(0 if result.ok else 1)


@main.command()
@project_option
@click.option("--as-of", "as_of", callback=_date, help="Build as of this date (YYYY-MM-DD).")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: out/ in the project).")
@click.option("--strict", is_flag=True, help="Data problems and a month over its budget are "
              "errors, not warnings: nothing is written or recorded.")
@click.option("--dry-run", is_flag=True,
              help="Compute and report; write no files and record nothing in the ledger.")
@click.option("--force", is_flag=True,
              help="Build even though the ledger holds a later run (rewrites the past).")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default=None,
              help="Where the plan runs (default: shop.yaml engine, else duckdb; spark: "
              "docs/spark.md).")
@handled
def build(project, as_of, out, strict, dry_run, force, engine) -> None:
    """Compile the plan to SQL, run it on the shop's data, write send lists, record the
    contacts in the ledger."""
    from crmspec.build import build as run_build
    from crmspec.cli.console import command_progress, print_build

    progress = command_progress()
    try:
        result = run_build(_root(project), as_of=as_of, out=Path(out) if out else None,
                           strict=strict, dry_run=dry_run, force=force, progress=progress,
                           engine=engine)
    finally:
        progress.finish()  # a failed build leaves the terminal clean for its diagnostics
    print_build(result)


@main.command()
@click.argument("customer_id")
@project_option
@click.option("--as-of", "as_of", callback=_date, help="Explain as of this date.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A table for people, JSON for tools.")
@handled
def explain(customer_id, project, as_of, fmt) -> None:
    """For every activity: is CUSTOMER_ID contacted, and if not, exactly why not."""
    import json

    from crmspec.analysis.explain import UnknownCustomer
    from crmspec.analysis.explain import explain as run_explain
    from crmspec.cli.console import print_explanation

    try:
        result = run_explain(_root(project), customer_id, as_of)
    except UnknownCustomer as exc:
        hint = (" (closest ids: " + ", ".join(exc.closest) + ")") if exc.closest else ""
        raise click.ClickException(f"no customer '{customer_id}' in the data{hint}") from None
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        print_explanation(result)


class _DetailedExitCommand(click.Command):
    """A command whose exit codes 2 and 3 mean something (`crmspec plan`: changes, an
    approval needed): a usage error exits 1 there, as every other error does."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise


@main.command("plan", cls=_DetailedExitCommand)
@project_option
@click.option("--base", "base", default=None, metavar="REV",
              help="The revision to compare with (default: the merge base of HEAD and the "
              "default branch).")
@click.option("--as-of", "as_of", callback=_date, help="Run both plans as of this date.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True,
              help="text for people, markdown for a pull-request comment, json for tools.")
@click.option("--days", "days", type=click.IntRange(1, 366), default=None,
              help="Also compare the next N days of builds (no new orders assumed): contact "
              "pressure per customer and the stages' contact bounds.")
@click.option("--manifest", "manifest", type=click.Path(dir_okay=False), default=None,
              help="Without the shop's data: show the counts of this build's manifest.json.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Also write review.txt, review.json and comment-<n>.md here (the only "
              "files the review writes).")
@functools.partial(handled, internal_exit=1)
def plan_cmd(project, base, as_of, fmt, days, manifest, out) -> None:
    """Review a plan change: what it changes and what it does to audiences, contacts and
    costs, base revision against the working tree. Exit 0 no change, 1 error, 2 changes,
    3 a review threshold crossed (needs an approval)."""
    from crmspec.review import review_plan
    from crmspec.review.render import render, write_review

    result = review_plan(_root(project), base, as_of, Path(manifest) if manifest else None,
                         days=days)
    if out:
        write_review(result, Path(out))
    click.echo(render(result, fmt), nl=False)
    sys.exit(result.exit_code)


@main.command("compile")
@project_option
@click.option("--as-of", "as_of", callback=_date, help="Compile as of this date.")
@handled
def compile_cmd(project, as_of) -> None:
    """Print the SQL the plan compiles to: a script that runs as printed on an empty
    DuckDB connection (it attaches the shop's data and the ledger read-only)."""
    from crmspec.build import compiled_sql

    click.echo(compiled_sql(_root(project), as_of), nl=False)


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@handled
def init(directory: str) -> None:
    """Start a shop repository in DIRECTORY (default: here): a plan that validates and
    builds on the demo data at once, schemas, .gitignore, pre-commit and CI settings."""
    from crmspec.repo.init import init_shop

    done = init_shop(Path(directory))
    click.echo(f"wrote {len(done.files)} files to {done.root}")
    click.echo("next: crmspec validate; crmspec build (the demo shop); then "
               "crmspec import taobao YOUR_EXPORT.csv")


@main.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["taobao", "shopify", "csv"]))
@click.argument("files", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
@click.option("--into", "--project", "into", type=click.Path(file_okay=False), default=None,
              help="The shop repository to import into (default: the current folder).")
@click.option("--table", type=click.Choice(["orders", "customers", "events"]),
              default="orders", show_default=True,
              help="csv only: the canonical table the files hold.")
@handled
def import_cmd(fmt, files, into, table) -> None:
    """Read the shop's exports into its data (upserting orders by id): taobao (the
    order report, 订单报表), shopify (the orders export) or csv (described in shop.yaml
    `import`)."""
    from crmspec.cli.console import print_import
    from crmspec.repo.imports import import_into

    if fmt != "csv" and table != "orders":
        raise click.BadParameter(f"{fmt} exports hold orders (and their customers)",
                                 param_hint="'--table'")
    print_import(import_into(_root(into), fmt, [Path(f) for f in files], table))


@main.command()
@click.option("--out", "out", type=click.Path(file_okay=False), default="data/demo",
              show_default=True, help="Folder to write customers/orders/events.parquet to.")
@click.option("--customers", type=click.IntRange(100, 20_000_000), default=20_000,
              show_default=True, help="Number of customers.")
@click.option("--seed", type=click.IntRange(0), default=7, show_default=True,
              help="Random seed: same seed, same bytes.")
@click.option("--end-date", callback=_date, default="2026-06-30", show_default=True,
              help="Date of the last order.")
@handled
def demo(out, customers, seed, end_date) -> None:
    """Write a realistic, deterministic demo shop."""
    from crmspec.data.demo import generate_demo

    s = generate_demo(Path(out), customers=customers, seed=seed, end_date=end_date)
    click.echo(f"wrote {s.customers} customers, {s.orders} orders, {s.events} events to {out}/ "
               f"(orders {s.first_order} to {s.last_order})")


def _optional_root(project: str | None) -> Path | None:
    if _project(project):
        return _root(project)
    return _local_root()


@main.command("plugins")
@project_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A table for people, JSON for tools.")
@handled
def plugins_cmd(project, fmt) -> None:
    """List the loaded plugins, the channels they provide and the hooks they implement."""
    import json

    from rich.console import Console
    from rich.table import Table

    from crmspec.plugins import channel_set, describe_plugins, get_plugin_manager

    pm = get_plugin_manager(_optional_root(project))
    infos = describe_plugins(pm)
    if fmt == "json":
        channels = channel_set(pm).channels
        click.echo(json.dumps({
            "plugins": [{"name": i.name, "source": i.source, "hooks": i.hooks,
                         "channels": i.channels, "overridden": i.overridden} for i in infos],
            "channels": {n: c.describe() for n, c in channels.items()},
        }, ensure_ascii=False, indent=2))
        return
    table = Table(title="crmspec plugins", title_justify="left")
    for name in ("plugin", "source", "channels", "hooks"):
        table.add_column(name)
    for i in infos:
        chans = ", ".join(i.channels)
        if i.overridden:
            chans += (", " if chans else "") + "overridden: " + ", ".join(i.overridden)
        table.add_row(i.name, i.source, chans or "-", ", ".join(i.hooks))
    cs = channel_set(pm)
    chans_table = Table(title="channels", title_justify="left")
    for name in ("channel", "plugin", "address", "opt-out", "cost", "parts", "default windows"):
        chans_table.add_column(name)
    days = {(1, 2, 3, 4, 5): "Mon-Fri", (1, 2, 3, 4, 5, 6, 7): "every day", (2, 3, 4): "Tue-Thu"}
    for name, ch in cs.channels.items():
        windows = "; ".join(
            ("" if len(w.kinds) > 1 else w.kinds[0] + " ")
            + f"{days.get(w.days, ','.join(map(str, w.days)))} {w.start}-{w.end}"
            for w in ch.windows) or "-"
        parts = ", ".join(p.name + ("" if p.required else "?") for p in ch.parts) or (
            "any field" if ch.open_part else "-")
        chans_table.add_row(name, cs.owner[name], ch.contact_field, ch.opt_out_field or "-",
                            f"{ch.cost.price:g} per {ch.cost.unit}", parts, windows)
    # piped (CI logs, grep): wide enough that every row stays on one line
    console = Console(width=None if sys.stdout.isatty() else 240)
    console.print(table)
    console.print(chans_table)


@main.command()
@project_option
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Folder for <kind>.schema.json (default: schemas/ in the project).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files there "
              "differ from the schemas (for CI).")
@handled
def schemas(project, out, check) -> None:
    """Write the plan's JSON Schemas, with the options of the project's plugin channels.

    The plan files' `# yaml-language-server: $schema=../schemas/<kind>.schema.json` line
    then gives editors completion and checks for every channel the project uses.
    """
    from crmspec.plan.schemas import build_schemas, dumps
    from crmspec.plugins import collect_channels, get_plugin_manager

    root = _root(project)
    folder = Path(out) if out else root / "schemas"
    schemas_ = build_schemas(collect_channels(get_plugin_manager(root)))
    stale = []
    for kind, schema in schemas_.items():
        target = folder / f"{kind}.schema.json"
        text = dumps(schema)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            folder.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    verb = "differ" if check else "written"
    for t in stale:
        click.echo(f"{t}: {verb}")
    if not stale:
        click.echo(f"schemas in {folder} are current")
    if check and stale:
        sys.exit(1)


@main.command()
@project_option
@click.option("--period", type=click.Choice(["week", "month"]), default="week",
              show_default=True, help="ISO weeks (Monday to Sunday) or calendar months.")
@click.option("--from", "date_from", callback=_date,
              help="Start with the period containing this date (default: the last 12).")
@click.option("--to", "date_to", callback=_date,
              help="Data as of this date; periods not over by then are left out "
              "(default: the plan's as-of date).")
@click.option("--format", "out_format", type=click.Choice(["table", "csv", "json", "markdown"]),
              default="table", show_default=True, help="Output format.")
@click.option("--monitoring", is_flag=True,
              help="The monitoring table of kpis.yaml: one row a period, KPIs as columns.")
@click.option("--kpi", "kpi_ids", multiple=True, help="Only this KPI id (repeatable).")
@bom_option
@handled
def kpi(project, period, date_from, date_to, out_format, monitoring, kpi_ids, bom) -> None:
    """KPIs of kpis.yaml per period: value, previous value, change, target status."""
    from crmspec.analysis.kpi import kpi_report

    if date_from and date_to and date_from > date_to:
        raise click.BadParameter("--from is after --to", param_hint="'--from'")
    click.echo(kpi_report(_root(project), period, date_from, date_to, out_format, monitoring,
                          kpi_ids, say=lambda m: click.echo(m, err=True),
                          width=_terminal_width(), bom=bom), nl=False)


@main.command()
@click.argument("activity", required=False)
@project_option
@click.option("--window", "window", type=click.IntRange(1, 365), default=None,
              help="Days after the send within which a purchase is a response "
              "(default: shop.yaml evaluation.window_days).")
@click.option("--as-of", "as_of", callback=_date,
              help="The data as of this date (default: the plan's as-of date).")
@click.option("--format", "out_format", type=click.Choice(["table", "csv", "json", "markdown"]),
              default="table", show_default=True, help="Output format.")
@bom_option
@handled
def evaluate(activity, project, window, as_of, out_format, bom) -> None:
    """Control-group evaluation from the ledger: uplift, confidence interval, p-value,
    incremental orders and revenue, cost, ROI per activity and run (stored in the ledger)."""
    from crmspec.analysis.evaluate import evaluate_report

    click.echo(evaluate_report(_root(project), activity, window, as_of, out_format,
                               say=lambda m: click.echo(m, err=True),
                               width=_terminal_width(), bom=bom), nl=False)


@main.command()
@project_option
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Folder for the built site (default: mkdocs.yml site_dir, site/build).")
@click.option("--as-of", "as_of", callback=_date,
              help="The data as of this date (default: the plan's as-of date).")
@click.option("--serve", is_flag=True, help="Serve the built site on 127.0.0.1 until Ctrl-C.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port for --serve.")
@handled
def site(project, out, as_of, serve, port) -> None:
    """Write the SOP site's pages and charts and build it with MkDocs (Material): every
    activity's ID card, portrait, battle record and evolution, and the shop's pages."""
    from crmspec.site import build_site, serve_forever

    result = build_site(_root(project), Path(out) if out else None, as_of)
    for line in result.notes + [f"mkdocs: {w}" for w in result.warnings]:
        click.echo(line, err=True)
    click.echo(f"site: {len(result.pages)} pages in {result.out_dir} "
               f"({result.seconds:.1f} s)")
    if serve:
        serve_forever(result.out_dir, port, say=lambda m: click.echo(m, err=True))


@main.command()
@project_option
@click.option("--truth", "truth", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML file: seed, baseline, uplift, window_days, order_value and "
              "per-activity baseline/uplift (docs/evaluate.md).")
@click.option("--uplift", type=click.FloatRange(-1, 1), default=None,
              help="True uplift of every activity not in the truth file (default 0).")
@click.option("--baseline", type=click.FloatRange(0, 1), default=None,
              help="Response probability without effect (default: shop.yaml "
              "evaluation.baseline_response).")
@click.option("--seed", type=click.IntRange(0), default=None, help="Seed (default 1).")
@handled
def simulate(project, truth, uplift, baseline, seed) -> None:
    """Demo only: simulated customers respond to the ledger's contacts with a known
    uplift (new paid orders after each send), so that `crmspec evaluate` can be checked."""
    from crmspec.analysis.simulate import TruthError, describe
    from crmspec.analysis.simulate import simulate as run_simulation

    try:
        summary = run_simulation(_root(project), Path(truth) if truth else None, seed=seed,
                                 baseline=baseline, uplift=uplift)
    except TruthError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(describe(summary), nl=False)
