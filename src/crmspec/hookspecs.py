"""The hooks a crmspec plugin may implement.

Every hook is called with keyword arguments; an implementation takes only the arguments
it needs (pluggy passes those by name). Hooks that return something return a value per
plugin, and crmspec collects them in pluggy's call order: tryfirst plugins first, the
latest registered first, the built-in (trylast) plugins last. A plugin writes

    from crmspec import hookimpl

    @hookimpl
    def register_channels():
        return [MyChannel()]

docs/plugins.md describes each hook with an example; tests/test_hooks.py holds one test
per hook (a test fails when a hook is added without one).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("crmspec")


@hookspec
def register_channels():
    """Channels this plugin provides.

    Called once per plugin manager, when crmspec needs the channels (validate, build,
    compile, `crmspec plugins`). Returns a list of `crmspec.channels.Channel` instances.
    A channel whose name another plugin also registers replaces it when this plugin's
    implementation is called earlier (see `crmspec.plugins.collect_channels`): user
    plugins override the built-in channels, which are registered trylast.
    """


@hookspec
def validate_plan(plan):
    """Extra checks of a plan, reported by `crmspec validate` (and before every build).

    Called when every plan file passed its schema check, after the built-in semantic
    checks, with the typed `crmspec.plan.model.Plan`. Returns a list of
    `crmspec.core.diagnostics.Diagnostic`, located in the plan's files:
    `activity.src.at("channel_options", "x").diag(code, message)` builds one at a
    value's line and column. Use codes of your own (e.g. `E9xx`).
    """


@hookspec
def prepare_connection(con, plan):
    """Prepare the DuckDB connection a build runs on.

    Called once per build (and `crmspec compile`), after the shop's data is attached
    as the canonical `customers`, `orders` and `events` views and before the plan's SQL
    runs. Register functions (`con.create_function`), macros, or extra tables a channel
    writer of yours reads. Gets the `duckdb.DuckDBPyConnection` and the plan. Returns
    nothing.
    """


@hookspec
def prepare_jinja_environment(env, plan):
    """Add filters, tests or globals to the Jinja environment of message templates.

    Called whenever crmspec makes the environment (validate and build), before any
    template is compiled. Gets the `jinja2.sandbox.SandboxedEnvironment` and the plan.
    Returns nothing. A filter applied to a per-customer value makes rendering happen
    once per distinct value (see docs/plugins.md, "How templates are rendered").
    """


@hookspec
def build_finished(result):
    """React to a finished build, e.g. hand the send files to a provider.

    Called after the outputs were swapped into place (never on a dry run or a failed
    build), with the `crmspec.build.BuildResult`: `result.out_dir` is the output folder
    and `result.manifest["activities"][i]["files"]` the files of each activity,
    relative to it. Returns nothing. An exception is reported with the plugin's name
    and fails the command, but the outputs stay written.
    """


@hookspec
def register_commands(cli):
    """Add commands to the `crmspec` command line.

    Called when the command line lists or looks up commands. Gets a `click.Group`:
    decorate functions with `@cli.command()`. Built-in commands keep their names; a
    plugin command with a built-in's name is ignored. Returns nothing.
    """


@hookspec
def register_site_pages(plan, manifest):
    """Pages this plugin adds to the shop's SOP site.

    Called when the site is built, with the plan and the manifest of the latest build
    (a dict, or None when nothing was built yet). Returns a list of
    `(relative path, markdown text)` pairs, e.g. `("reports/coupons.md", "# Coupons...")`:
    the path is relative to the site's docs folder, ends with `.md` and stays inside it.
    """
