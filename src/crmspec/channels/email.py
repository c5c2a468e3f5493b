"""Email / EDM: a CSV for EDM tools (address, subject, html, text, preheader).

The subject gets the "(AD)" marker for recipients at the domains in option
`ad_domains` (default 163.com, 126.com, sina.com: their filters want advertising
marked), decided per recipient IN SQL from the address's domain.
"""

from __future__ import annotations

from crmspec import hookimpl
from crmspec.channels.base import (
    EMAIL_RE,
    Channel,
    Part,
    SendWindow,
    UnitCost,
    WriteContext,
    sql_str,
)

AD_DOMAINS = ["163.com", "126.com", "sina.com"]


class EmailChannel(Channel):
    name = "email"
    title = "Email / EDM"
    contact_field = "email"
    address_pattern = EMAIL_RE
    opt_out_field = "opt_out_email"
    windows = (
        SendWindow((2, 3, 4), "08:00", "10:00", note="for opens: Tue-Thu morning peak"),
        SendWindow((2, 3, 4), "20:00", "22:00", note="for clicks: Tue-Thu evening peak"),
    )
    cost = UnitCost("message", 0.01, "per email")
    parts = (
        Part("subject", "subject line", max_length=60, option="subject"),
        Part("preheader", "preheader (inbox preview text)", required=False, max_length=100,
             option="preheader"),
        Part("html", "HTML body", html=True, max_length=100_000),
        Part("text", "plain-text body", required=False, max_length=100_000),
    )
    options = {
        "subject": {
            "type": "string",
            "minLength": 1,
            "description": "Subject line, a one-line template; overrides the template's "
            "subject part.",
        },
        "preheader": {
            "type": "string",
            "description": "Preheader (the preview line after the subject), a one-line "
            "template; overrides the template's preheader part.",
        },
        "ad_domains": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z0-9.-]+\\.[a-z]{2,}$"},
            "uniqueItems": True,
            "default": AD_DOMAINS,
            "description": "Recipient domains whose subjects get the advertising marker.",
        },
        "ad_marker": {
            "type": "string",
            "default": "(AD)",
            "description": "The advertising marker put before the subject for ad_domains.",
        },
    }

    def length_overhead(self, part, options):
        if part == "subject" and options.get("ad_domains"):
            return len(options.get("ad_marker", "(AD)"))
        return 0

    def subject_sql(self, ctx: WriteContext) -> str:
        subject = ctx.msg("subject")
        domains = ctx.options.get("ad_domains") or []
        marker = ctx.options.get("ad_marker", "(AD)")
        if not domains or not marker:
            return subject
        listed = ", ".join(sql_str(d.lower()) for d in domains)
        return (f"CASE WHEN lower(split_part(address, '@', 2)) IN ({listed}) "
                f"AND NOT starts_with({subject}, {sql_str(marker)}) "
                f"THEN {sql_str(marker)} || {subject} ELSE {subject} END")

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        ctx.copy(
            f"SELECT address AS email, {self.subject_sql(ctx)} AS subject, "
            f'{ctx.msg("html")} AS html, {ctx.msg("text")} AS text, '
            f'{ctx.msg("preheader")} AS preheader, '
            f"{sql_str(ctx.scheduled_at or ctx.as_of.isoformat())} AS send_at "
            f"FROM {ctx.table} ORDER BY customer_id",
            rel,
        )
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [EmailChannel()]
