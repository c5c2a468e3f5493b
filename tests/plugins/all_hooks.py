"""A test plugin implementing every hook (tests/test_hooks.py)."""

from crmspec import hookimpl
from crmspec.channels import Channel, Part, WriteContext


class MemoChannel(Channel):
    """Writes a memo list: customer id and text, for staff."""

    name = "memo"
    title = "Staff memo"
    contact_field = "customer_id"
    parts = (Part("text", "memo text", max_length=40),)
    main_part = "text"
    options = {"prefix": {"type": "string", "default": "MEMO", "description": "Prefix."}}

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        prefix = ctx.options["prefix"].replace("'", "''")
        ctx.copy(f"SELECT customer_id, '{prefix}: ' || {ctx.msg('text')} AS memo, "
                 f"shout(customer_id) AS loud FROM {ctx.rows} ORDER BY customer_id", rel)
        return [rel]


@hookimpl
def register_channels():
    return [MemoChannel()]


@hookimpl
def validate_plan(plan):
    out = []
    for a in plan.activities:
        if a.name.endswith("!"):
            out.append(a.src.at("name").diag("W901", f"activity '{a.id}' shouts"))
    return out


@hookimpl
def prepare_connection(con, plan):
    con.execute("CREATE OR REPLACE MACRO shout(x) AS upper(x) || '!'")
    con.execute(f"CREATE OR REPLACE TEMP TABLE plugin_note AS SELECT '{plan.shop.name}' AS shop")


@hookimpl
def prepare_jinja_environment(env, plan):
    env.filters["shout"] = lambda s: f"{s}!"


@hookimpl
def build_finished(result):
    files = [f for a in result.manifest["activities"] for f in a["files"]]
    (result.out_dir / "handed_over.txt").write_text("\n".join(files) + "\n", encoding="utf-8")


@hookimpl
def register_commands(cli):
    import click

    @cli.command()
    @click.argument("name")
    def hello(name):
        """Say hello (a command added by a plugin)."""
        click.echo(f"hello {name}")

    @cli.command()
    def explode():
        """A plugin command that fails."""
        raise RuntimeError("kaboom")


@hookimpl
def register_site_pages(plan, manifest):
    sent = sum(a["sent"] for a in manifest["activities"]) if manifest else 0
    return [("plugins/memo.md", f"# Memo\n\n{plan.shop.name}: {sent} sent\n")]
