"""crmspec-webhook: the `webhook` channel (JSON lines for a generic HTTP importer).

Registered through the entry point group `crmspec` (see pyproject.toml); crmspec finds it
once the distribution is installed. It also adds a page to the SOP site (`crmspec site`).
"""

from __future__ import annotations

from crmspec import hookimpl
from crmspec.channels import MOBILE_RE, Channel, Part, UnitCost, WriteContext

__version__ = "0.1.0"


class WebhookChannel(Channel):
    name = "webhook"
    title = "Webhook (JSON lines)"
    contact_field = "phone"
    address_pattern = MOBILE_RE
    cost = UnitCost("message", 0.0, "the importer's own pricing; set unit_cost")
    parts = (Part("text", "message"),)
    main_part = "text"
    file_ext = "jsonl"
    options = {
        "max_length": {
            "type": "integer",
            "minimum": 1,
            "default": 500,
            "description": "Longest message the importer accepts, in characters.",
        },
    }

    def limit(self, part, options):
        return int(options.get("max_length", 500))

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("jsonl")
        activity = ctx.activity.id.replace("'", "''")
        ctx.copy(
            f"SELECT customer_id, address, {ctx.msg('text')} AS message, "
            f"'{activity}' AS activity FROM {ctx.rows} ORDER BY customer_id",
            rel, fmt="json",
        )
        return [rel]


@hookimpl
def register_channels():
    return [WebhookChannel()]


@hookimpl
def register_site_pages(plan, manifest):
    """A page of the SOP site: the activities sent through the webhook, with the latest
    build's counts (the importer's team reads it to know what to expect)."""
    built = {a["id"]: a for a in (manifest or {}).get("activities", [])}
    lines = ["# Webhook exports", "",
             "Activities whose contacts are written as JSON lines for the HTTP importer "
             "(`webhook/<activity>.jsonl`).", "",
             "| activity | name | sent in the latest build |", "|---|---|---:|"]
    for a in plan.activities:
        if a.channel == "webhook":
            sent = built.get(a.id, {}).get("sent")
            lines.append(f"| `{a.id}` | {a.name} | {'' if sent is None else sent} |")
    return [("webhook.md", "\n".join(lines) + "\n")]
