"""The command line: thin wiring from click options to one library function each.

Every expected failure is a PlanError carrying diagnostics: printed, exit code 1, no
traceback. Anything else is a bug: a one-line message, and the traceback only with
--debug.
"""

from __future__ import annotations

import sys
from datetime import date
from functools import wraps
from pathlib import Path

import click

from crmspec import __version__
from crmspec.diagnostics import PlanError, render


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; write YYYY-MM-DD") from None


def _root(project: str | None) -> Path:
    from crmspec.project import find_root

    return find_root(Path(project or "."))


def handled(fn):
    """Turn PlanError into printed diagnostics and exit 1; hide tracebacks unless --debug."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except PlanError as exc:
            fmt = kwargs.get("fmt") or "text"
            click.echo(render(exc.diagnostics, fmt), err=fmt == "text")
            ctx.exit(1)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(f"crmspec: internal error: {type(exc).__name__}: {exc}", err=True)
            click.echo("run again with --debug for the traceback, and report it", err=True)
            ctx.exit(2)

    return wrapper


project_option = click.option(
    "--project", "project", type=click.Path(file_okay=False), default=None,
    help="Shop repository root (the folder holding plans/). Default: the current folder.",
)


@click.group()
@click.version_option(__version__, prog_name="crmspec")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def main(debug: bool) -> None:
    """crmspec: repeat-purchase CRM plans as code."""


@main.command()
@project_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              help="text for people, json for tools, github for Actions annotations.")
@handled
def validate(project: str | None, fmt: str) -> None:
    """Check the plan: every problem, with file, line and column."""
    from crmspec.validate import validate_project

    result = validate_project(_root(project))
    output = render(result.diagnostics, fmt)
    if output:
        click.echo(output)
    sys.exit(0 if result.ok else 1)


@main.command()
@project_option
@click.option("--as-of", "as_of", callback=_date, help="Build as of this date (YYYY-MM-DD).")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: out/ in the project).")
@click.option("--strict", is_flag=True, help="Data problems are errors, not warnings.")
@click.option("--dry-run", is_flag=True, help="Compute and report; write nothing.")
@handled
def build(project, as_of, out, strict, dry_run) -> None:
    """Compile the plan to SQL, run it on the shop's data, write send lists."""
    from crmspec.build import build as run_build
    from crmspec.console import print_build

    result = run_build(_root(project), as_of=as_of, out=Path(out) if out else None,
                       strict=strict, dry_run=dry_run, progress=lambda m: click.echo(m, err=True))
    print_build(result)


@main.command("compile")
@project_option
@click.option("--as-of", "as_of", callback=_date, help="Compile as of this date.")
@handled
def compile_cmd(project, as_of) -> None:
    """Print the SQL the plan compiles to (needs the data for the default as-of date)."""
    from crmspec.build import compiled_sql

    click.echo(compiled_sql(_root(project), as_of), nl=False)


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
    from crmspec.demo import generate_demo

    s = generate_demo(Path(out), customers=customers, seed=seed, end_date=end_date)
    click.echo(f"wrote {s.customers} customers, {s.orders} orders, {s.events} events to {out}/ "
               f"(orders {s.first_order} to {s.last_order})")
