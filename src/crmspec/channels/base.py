"""The channel interface: what crmspec needs to know to send through a channel.

A channel is an object (a `Channel` subclass instance) that a plugin returns from its
`register_channels` hook; the built-in ones (`sms`, `email`, `wechat`, `wangwang`,
`parcel`, `phone`) are plugins too. It says:

- which customer column is the address (`contact_field`), which addresses are usable
  (`address_pattern`, a regular expression the compiler tests IN SQL) and which column
  flags an opt-out (`opt_out_field`);
- when messages should go out (`windows`, data for the contact-plan scheduler);
- what a message costs (`cost`: a unit and a default price per unit, and `units_sql`,
  the number of units a send-list row costs, as a SQL expression);
- which message parts it has (`parts`: e.g. an SMS has `text`, an email `subject`,
  `preheader`, `html` and `text`) and their length limits;
- which options an activity may give it (`options`: JSON Schema properties, merged into
  the plan's schema under `channel_options`, with shop-wide defaults in shop.yaml
  `channels.<name>`);
- how to write the file a provider's bulk import, or the shop's staff, uses (`write`).

Writers never loop over customers in Python: they get the activity's send rows in DuckDB
(`WriteContext.rows`, one row per customer to contact, with every customer column, the
facts, `address` and one `msg_<part>` column per rendered message part) and write files
with `COPY`. Rows are ordered by a key (customer id, order id) so that the
same plan, data and date give the same bytes: `WriteContext.table` is stored in
customer order, so a COPY of a SELECT from it alone (no join, no GROUP BY) is in that
order already; a writer that joins (`WriteContext.rows` is a join) says ORDER BY.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmspec.core.addresses import EMAIL_RE, MOBILE_RE  # noqa: F401 - part of the channel API
from crmspec.core.spreadsheet import safe_select
from crmspec.core.sql import quote_path, sql_ident, sql_str  # noqa: F401 - for writers

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from crmspec.core.diagnostics import Diagnostic
    from crmspec.plan.model import Activity, Plan


NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# The placeholder a template renders for a value the channel fills in per recipient
# (`Channel.recipient_values`); private-use characters, never in real text, and distinct
# from the template renderer's per-customer placeholders.
VALUE_OPEN, VALUE_CLOSE = "\ue002", "\ue003"


def value_marker(name: str) -> str:
    """What `{{ name }}` renders to for a recipient value, replaced in SQL afterwards."""
    return f"{VALUE_OPEN}{name}{VALUE_CLOSE}"
PART_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")

# The longest rendered part of a channel that declares no limit, in characters (the
# longest built-in limit, an email body's): a customer's data never grows a message
# beyond it.
DEFAULT_MAX_LENGTH = 100_000

WORKDAYS = (1, 2, 3, 4, 5)  # ISO weekdays: Monday = 1
EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)
KINDS = ("maintenance", "marketing")


@dataclass(frozen=True)
class SendWindow:
    """A time band in which messages of some activity kinds should go out."""

    days: tuple[int, ...]  # ISO weekdays, Monday = 1
    start: str  # HH:MM, shop timezone
    end: str  # HH:MM, exclusive
    kinds: tuple[str, ...] = KINDS  # activity kinds the window is for
    note: str = ""  # why (the source of the rule)

    def as_dict(self) -> dict:
        return {"days": list(self.days), "start": self.start, "end": self.end,
                "kinds": list(self.kinds), "note": self.note}


@dataclass(frozen=True)
class UnitCost:
    """How sending costs: per `unit` (segment, message, unit, call) at `price` each.

    The price is a default in CNY; an activity (or shop.yaml `channels.<name>`) sets
    its own with `channel_options.unit_cost`.
    """

    unit: str
    price: float
    note: str = ""


@dataclass(frozen=True)
class Part:
    """One rendered piece of a message (an SMS's text, an email's subject...)."""

    name: str
    title: str
    required: bool = True  # the send file cannot be written without it
    max_length: int | None = None  # characters (Unicode code points), after rendering
    html: bool = False  # autoescaped HTML
    option: str | None = None  # channel_options key that may give it as a one-line template


@dataclass
class WriteContext:
    """What a channel writer gets: one activity's send rows and where to write."""

    con: "duckdb.DuckDBPyConnection"
    plan: "Plan"
    activity: "Activity"
    channel: "Channel"
    options: dict[str, Any]  # channel options: schema defaults < shop.yaml < activity
    as_of: date
    folder: Path  # the build's temporary output folder (swapped into place at the end)
    # Quoted name of the activity's narrow send table (crmspec.templates.create_rows):
    # customer_id, address and msg_<part>, one row per customer to contact, stored in
    # customer id order. DuckDB keeps a table's order through SELECT, WHERE and COPY
    # (its documentation, "Order Preservation"; not through a join or GROUP BY), so
    # `COPY (SELECT ... FROM <table>)` writes the rows in customer order without a sort:
    # the built-in provider writers rely on it (an ORDER BY customer_id is still right,
    # only slower: at 1M customers the email files' sorts were 0.3 CPU s).
    table: str
    parts: tuple[str, ...]  # message parts rendered into msg_<part> columns
    files: list[str] = field(default_factory=list)
    # The activity's first send slot, 'YYYY-MM-DD HH:MM' in the shop's timezone
    # (crmspec.contact.schedule: the channel's or activity's windows, blackout dates skipped).
    scheduled_at: str | None = None
    # Every window of that slot's day, 'HH:MM-HH:MM, ...': the hours a call list or a chat
    # list may be worked in.
    send_hours: str | None = None
    _view: str | None = field(default=None, init=False, repr=False)

    @property
    def rows(self) -> str:
        """Quoted name of a view: the send rows with every customer column and fact of
        `features` (name, stage, tier, purchases...), `address` and the `msg_<part>`s.

        A view over the narrow send table, so that only the columns a writer selects are
        read; made on first use.
        """
        if self._view is None:
            # the compiler only once a writer reads the rows (`crmspec validate` imports
            # this module and needs no sqlglot)
            from crmspec.compile.facts import with_customers

            self._view = rows_view(self.table)
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {self._view} AS SELECT f.*, "
                f"m.* EXCLUDE (customer_id) FROM {self.table} AS m "
                f"JOIN ({with_customers(self.con)}) AS f USING (customer_id)")
        return self._view

    def target(self, ext: str, suffix: str = "") -> tuple[str, Path]:
        """(relative path, absolute path) of `<channel>/<activity><suffix>.<ext>`."""
        rel = f"{self.channel.name}/{self.activity.id}{suffix}.{ext}"
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return rel, path

    def msg(self, part: str) -> str:
        """SQL of a rendered part's column, '' when the part was not rendered."""
        return f'"msg_{part}"' if part in self.parts else "''"

    def copy(self, select_sql: str, rel: str, fmt: str = "csv") -> str:
        """COPY a query to `rel` as CSV (with a header) or JSON lines; records the file.

        CSV starts with a UTF-8 byte order mark when the `bom` option is on (the default
        of channels `for_people`): Excel on Chinese Windows reads a CSV without it as
        GBK and shows the names garbled. A channel's CSV `for_people` has every text
        cell that a spreadsheet would read as a formula prefixed with a quote
        (`crmspec.core.spreadsheet`); a provider's import is written byte-exact."""
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv" and self.channel.for_people:
            select_sql = safe_select(self.con, select_sql)
        options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT json"
        self.con.execute(f"COPY ({select_sql}) TO {quote_path(path)} ({options})")
        if fmt == "csv" and self.options.get("bom"):
            prepend_bom(path)
        self.files.append(rel)
        return rel


def prepend_bom(path: Path) -> None:
    """Put the UTF-8 byte order mark before a file DuckDB wrote (it writes none), through
    a temporary file renamed over it: the file is whole at every moment."""
    tmp = path.with_name(path.name + ".bom")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        dst.write(b"\xef\xbb\xbf")
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, path)


def rows_view(table: str) -> str:
    """The quoted name of WriteContext.rows' view for a send table (dropped with it)."""
    return sql_ident(table.strip('"') + "__rows")


# Options every channel accepts (`bom`'s default is the channel's `for_people`).
COMMON_OPTIONS: dict[str, dict] = {
    "unit_cost": {
        "type": "number",
        "minimum": 0,
        "description": "Price of one cost unit (SMS segment, email, parcel insert, call) in "
        "the shop's currency; overrides the channel's default.",
    },
    "bom": {
        "type": "boolean",
        "default": False,
        "description": "Start CSV send files with a UTF-8 byte order mark, so that Excel on "
        "Chinese Windows opens them as UTF-8 (not GBK). Default: on for staff lists "
        "(parcel, phone, wangwang), off for provider imports (sms, email).",
    },
}


class Channel:
    """Base class of every channel. Subclass it and set the class attributes.

    Instances are what `register_channels` returns; keyword arguments to the
    constructor override class attributes (`SmsChannel(cost=UnitCost("segment", 0.04))`).
    """

    name: str = ""
    title: str = ""
    contact_field: str = ""  # customers column holding the address
    address_pattern: str | None = None  # regular expression a usable address matches
    opt_out_field: str | None = None  # customers column flagging an opt-out
    windows: tuple[SendWindow, ...] = ()
    cost: UnitCost = UnitCost("message", 0.0)
    parts: tuple[Part, ...] = ()
    # The part a template may give as `<template>.<channel>.j2` (single-part channels).
    main_part: str | None = None
    # Parts not listed in `parts` that a template may still give as
    # `<template>.<channel>.<part>.j2` (WeChat data fields); None: only listed parts.
    open_part: Part | None = None
    options: dict[str, dict] = {}  # JSON Schema properties of channel_options
    file_ext: str = "csv"
    # Values the channel fills in per recipient (name -> what it is), which its templates
    # may print as `{{ name }}` (e.g. email's unsubscribe_url): rendered as a placeholder
    # (`value_marker`), replaced by `recipient_value_sql` in the send rows.
    recipient_values: dict[str, str] = {}
    # The files are for people (staff lists opened in Excel), not a provider's import:
    # CSV files then start with a UTF-8 byte order mark by default (option `bom`), and
    # their text cells are spreadsheet-safe (`WriteContext.copy`; docs/security.md).
    for_people: bool = False

    def __init__(self, **overrides: Any):
        for key, value in overrides.items():
            if not hasattr(type(self), key) or key.startswith("_"):
                raise TypeError(f"{type(self).__name__} has no attribute {key!r}")
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # --- declarations -------------------------------------------------------------

    def all_options(self) -> dict[str, dict]:
        """The common options (with this channel's `bom` default) and its own."""
        props = copy.deepcopy(COMMON_OPTIONS)
        props["bom"]["default"] = self.for_people
        props.update(copy.deepcopy(self.options))
        return props

    def options_schema(self) -> dict:
        """The JSON Schema of this channel's `channel_options`."""
        props = self.all_options()
        return {
            "type": "object",
            "title": f"{self.title or self.name} options",
            "description": f"Options of the {self.name} channel (shop-wide defaults in "
            f"shop.yaml channels.{self.name}).",
            "properties": props,
            "additionalProperties": False,
        }

    def option_defaults(self) -> dict:
        return {k: v["default"] for k, v in self.all_options().items() if "default" in v}

    def part(self, name: str) -> Part | None:
        """The declared part of that name, or one made from `open_part`."""
        for p in self.parts:
            if p.name == name:
                return p
        if self.open_part is not None and PART_RE.match(name):
            return Part(name, name, required=False, max_length=self.open_part.max_length,
                        html=self.open_part.html)
        return None

    def unit_price(self, options: dict) -> float:
        value = options.get("unit_cost")
        return float(self.cost.price if value is None else value)

    def first_window(self, kind: str) -> SendWindow | None:
        return next((w for w in self.windows if kind in w.kinds), None)

    def limit(self, part: Part, options: dict) -> int | None:
        """Maximum length of a rendered part, in characters: the part's `max_length`,
        DEFAULT_MAX_LENGTH for a part that declares none. A build sends no message
        over it (docs/security.md); None (an override's choice): no limit."""
        return part.max_length if part.max_length is not None else DEFAULT_MAX_LENGTH

    def limit_note(self, part: Part, options: dict) -> str:
        """How the limit comes about, for messages (e.g. '2 SMS segments')."""
        return ""

    # --- behaviour ----------------------------------------------------------------

    def finish(self, part: str, text: str, activity: "Activity", options: dict,
               plan: "Plan") -> str:
        """The final text of a rendered part (a signature added...).

        Called once per distinct rendering, not per customer: it must only add literal
        text around `text` (which may hold placeholders for per-customer values).
        """
        return text

    def length_overhead(self, part: str, options: dict, activity: "Activity | None" = None
                        ) -> int:
        """Characters the writer adds to a part of the activity's messages beyond `finish`
        (the email (AD) marker); `activity` None: the most it can add."""
        return 0

    def recipient_value_sql(self, name: str, options: dict, plan: "Plan") -> str:
        """SQL over the narrow send table (customer_id, address) giving the value of
        `recipient_values[name]` for each row, as text."""
        raise NotImplementedError(f"channel {self.name!r} fills in no {name!r}")

    def recipient_value_sample(self, name: str, options: dict, plan: "Plan") -> str:
        """The longest plausible value of `recipient_values[name]` (validate's length
        check)."""
        return ""

    def template_problems(self, activity: "Activity", options: dict,
                          used: dict[str, set[str]]) -> list[tuple[str, str, str]]:
        """What an activity's templates must say and do not: (part, message, hint) each.
        `used`: per template part, the `recipient_values` it prints. Reported by
        `validate` (E521) at the part's template, or at the activity's `channel:` when
        the part is "" (an option the shop must set)."""
        return []

    def units_sql(self, options: dict) -> str:
        """Cost units of one send row, as SQL over the narrow send table (`WriteContext.
        table`: customer_id, address, msg_<part>); default: 1."""
        return "1"

    def count_units(self, ctx: WriteContext) -> int:
        """Cost units of the activity: the sum of `units_sql` over its send rows."""
        (n,) = ctx.con.execute(
            f"SELECT coalesce(sum({self.units_sql(ctx.options)}), 0) FROM {ctx.table}"
        ).fetchone()
        return int(n)

    def check(self, activity: "Activity", options: dict, plan: "Plan") -> list["Diagnostic"]:
        """Channel-specific validation of an activity; located diagnostics."""
        return []

    def not_ready(self, activity: "Activity", options: dict, parts: tuple[str, ...]
                  ) -> str | None:
        """Why the send file cannot be written (None: it can).

        Default: a required part has no template. The build then writes the audience
        list only and warns (W518).
        """
        missing = [p.name for p in self.parts if p.required and p.name not in parts]
        if missing:
            if not activity.template:
                return "the activity has no template (add `template: <name>`)"
            return "no template part for " + ", ".join(missing)
        return None

    def write(self, ctx: WriteContext) -> list[str]:
        """Write the send file(s) into ctx.folder; return their relative paths."""
        raise NotImplementedError(f"channel {self.name!r} has no writer")

    # --- description ----------------------------------------------------------------

    def describe(self) -> dict:
        """A JSON-able description (for `crmspec plugins --json` and the docs)."""
        return {
            "name": self.name,
            "title": self.title,
            "contact_field": self.contact_field,
            "address_pattern": self.address_pattern,
            "opt_out_field": self.opt_out_field,
            "windows": [w.as_dict() for w in self.windows],
            "cost": {"unit": self.cost.unit, "price": self.cost.price},
            "parts": [{"name": p.name, "required": p.required, "max_length": p.max_length,
                       "html": p.html} for p in self.parts],
            "options": sorted({**COMMON_OPTIONS, **self.options}),
        }


def sms_segments_sql(text_sql: str) -> str:
    """SMS segments of a text, in SQL: 70 characters in one, 67 each when longer."""
    return (f"CASE WHEN length({text_sql}) <= 70 THEN 1 "
            f"ELSE CAST(ceil(length({text_sql}) / 67) AS INTEGER) END")


def check_channel(channel: Any, known_columns: set[str]) -> list[str]:
    """Problems of a registered channel object (for E503), empty when it is usable."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(channel, Channel):
        return [f"{channel!r} is not a crmspec.channels.Channel"]
    out = []
    if not isinstance(channel.name, str) or not NAME_RE.match(channel.name):
        out.append(f"channel name {channel.name!r} is not a lower-case id")
    if channel.contact_field not in known_columns:
        out.append(f"channel {channel.name!r}: contact_field {channel.contact_field!r} is "
                   "not a customers column")
    if channel.opt_out_field is not None and channel.opt_out_field not in known_columns:
        out.append(f"channel {channel.name!r}: opt_out_field {channel.opt_out_field!r} is "
                   "not a customers column")
    if channel.address_pattern is not None:
        try:
            re.compile(channel.address_pattern)
        except re.error as exc:
            out.append(f"channel {channel.name!r}: address_pattern is not a regular "
                       f"expression ({exc})")
    for p in channel.parts:
        if not PART_RE.match(p.name):
            out.append(f"channel {channel.name!r}: part name {p.name!r} is not an identifier")
    if channel.main_part is not None and channel.main_part not in {p.name for p in channel.parts}:
        out.append(f"channel {channel.name!r}: main_part {channel.main_part!r} is not one "
                   "of its parts")
    try:
        Draft202012Validator.check_schema(channel.options_schema())
    except SchemaError as exc:
        out.append(f"channel {channel.name!r}: options are not a valid JSON Schema "
                   f"({exc.message})")
    for key, prop in channel.options.items():
        if not isinstance(prop, dict) or not str(prop.get("description", "")).strip():
            out.append(f"channel {channel.name!r}: option {key!r} needs a description")
    return out
