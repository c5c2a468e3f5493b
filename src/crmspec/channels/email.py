"""Email / EDM: a CSV for EDM tools (address, subject, html, text, preheader, send time,
the recipient's unsubscribe link).

What a provider and the law ask of marketing email (docs/plugins.md):
- **An unsubscribe link.** Every marketing email's HTML body must print
  `{{ unsubscribe_url }}` (validate: E521). The channel fills in, per recipient, the
  shop's unsubscribe URL (option `unsubscribe_url`, with `{token}` where the recipient's
  token goes: the first 32 hex digits of sha256("<unsubscribe_salt>:<customer id>"),
  the salt defaulting to shop.yaml contact.salt), adds the plain-text equivalent to the
  text body when the template has none (option `unsubscribe_text`), and writes the link
  in the `unsubscribe_url` column (for the List-Unsubscribe header).
- **"(AD)" on advertising.** The subject of a marketing email (kind marketing, not
  service) starts with the marker (option `ad_marker`, default "(AD)"); maintenance and
  service emails never get it. Option `ad_domains`: `all` (the default: Chinese rules on
  commercial email ask for 广告 or AD before the subject of every one) or a list of
  recipient domains (163.com...), decided per recipient IN SQL.
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
    value_marker,
)

AD_DOMAINS_EXAMPLE = ["163.com", "126.com", "sina.com"]
UNSUBSCRIBE = "unsubscribe_url"
TOKEN = "{token}"
TOKEN_LENGTH = 32


def _advertising(activity) -> bool:
    return activity.kind == "marketing" and not activity.service


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
    recipient_values = {
        UNSUBSCRIBE: "The recipient's unsubscribe link: shop.yaml channels.email."
        "unsubscribe_url with {token} replaced by the recipient's token (email only; "
        "required in the HTML body of marketing emails).",
    }
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
            "oneOf": [
                {"const": "all", "description": "Every recipient."},
                {"type": "array",
                 "items": {"type": "string", "pattern": "^[a-z0-9.-]+\\.[a-z]{2,}$"},
                 "uniqueItems": True, "examples": [AD_DOMAINS_EXAMPLE],
                 "description": "Only recipients at these domains."},
            ],
            "default": "all",
            "description": "Whose subjects of marketing emails get the advertising marker: "
            "`all` (default) or a list of recipient domains. Maintenance and service "
            "emails never get it.",
        },
        "ad_marker": {
            "type": "string",
            "default": "(AD)",
            "description": "The advertising marker put before the subject of marketing "
            "emails (e.g. (AD) or 【广告】).",
        },
        "unsubscribe_url": {
            "type": "string",
            "pattern": "^https?://[^\\s{}]*\\{token\\}[^\\s{}]*$",
            "description": "The shop's unsubscribe URL, with {token} where the recipient's "
            "token goes (https://shop.example.com/unsubscribe?t={token}). Required by "
            "marketing emails.",
        },
        "unsubscribe_salt": {
            "type": "string",
            "minLength": 1,
            "description": "Mixed into the tokens (sha256 of salt:customer id, 32 hex "
            "digits); default: shop.yaml contact.salt. Changing it changes every link.",
        },
        "unsubscribe_text": {
            "type": "string",
            "default": "退订 / Unsubscribe: ",
            "description": "Put before the link at the end of the plain-text body of "
            "marketing emails whose text template does not print {{ unsubscribe_url }}.",
        },
    }

    # --- the unsubscribe link ---------------------------------------------------------

    def recipient_value_sql(self, name, options, plan):
        url = options.get(UNSUBSCRIBE)
        if name != UNSUBSCRIBE or not url:
            return "''"
        salt = options.get("unsubscribe_salt") or plan.shop.contact.salt
        before, after = url.split(TOKEN, 1)
        token = (f"substr(sha256({sql_str(salt + ':')} || CAST(customer_id AS VARCHAR)), "
                 f"1, {TOKEN_LENGTH})")
        return f"({sql_str(before)} || {token} || {sql_str(after)})"

    def recipient_value_sample(self, name, options, plan):
        url = options.get(UNSUBSCRIBE) or ""
        return url.replace(TOKEN, "f" * TOKEN_LENGTH)

    def finish(self, part, text, activity, options, plan):
        marker = value_marker(UNSUBSCRIBE)
        if (part == "text" and _advertising(activity) and options.get(UNSUBSCRIBE)
                and marker not in text):
            text = text.rstrip("\n") + "\n\n" + options.get("unsubscribe_text", "") + marker
        return text

    def template_problems(self, activity, options, used):
        out = []
        if _advertising(activity) and UNSUBSCRIBE not in used.get("html", set()):
            out.append(("html", f"the HTML body of marketing email activity '{activity.id}' "
                        "has no unsubscribe link", "print it where readers look for it, "
                        'e.g. <a href="{{ unsubscribe_url }}">退订</a> in the footer'))
        printed = any(UNSUBSCRIBE in names for names in used.values())
        if (printed or _advertising(activity)) and not options.get(UNSUBSCRIBE):
            out.append(("", f"email activity '{activity.id}' needs the shop's unsubscribe "
                        "URL: shop.yaml sets no channels.email.unsubscribe_url",
                        "set it once for the shop: channels: {email: {unsubscribe_url: "
                        "'https://shop.example.com/unsubscribe?t={token}'}}"))
        return out

    # --- the advertising marker ---------------------------------------------------------

    def length_overhead(self, part, options, activity=None):
        marked = activity is None or _advertising(activity)
        if part == "subject" and marked and options.get("ad_domains"):
            return len(options.get("ad_marker", "(AD)"))
        return 0

    def subject_sql(self, ctx: WriteContext) -> str:
        subject = ctx.msg("subject")
        domains = ctx.options.get("ad_domains")
        marker = ctx.options.get("ad_marker", "(AD)")
        if not domains or not marker or not _advertising(ctx.activity):
            return subject
        marked = f"{sql_str(marker)} || {subject}"
        unmarked = f"starts_with({subject}, {sql_str(marker)})"
        if domains == "all":
            return f"CASE WHEN {unmarked} THEN {subject} ELSE {marked} END"
        listed = ", ".join(sql_str(d.lower()) for d in domains)
        return (f"CASE WHEN lower(split_part(address, '@', 2)) IN ({listed}) "
                f"AND NOT {unmarked} THEN {marked} ELSE {subject} END")

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        ctx.copy(
            f"SELECT address AS email, {self.subject_sql(ctx)} AS subject, "
            f'{ctx.msg("html")} AS html, {ctx.msg("text")} AS text, '
            f'{ctx.msg("preheader")} AS preheader, '
            f"{sql_str(ctx.scheduled_at or ctx.as_of.isoformat())} AS send_at, "
            f"{self.recipient_value_sql(UNSUBSCRIBE, ctx.options, ctx.plan)} "
            f"AS unsubscribe_url FROM {ctx.table}",  # in customer order (WriteContext.table)
            rel,
        )
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [EmailChannel()]
