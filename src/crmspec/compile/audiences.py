"""Each activity's audience: the customers of its segment for whom its trigger fires
today, each with the channel's verdict (send, opted out, no or an invalid address)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from crmspec.compile.sql import DIALECT, col, lit
from crmspec.plan.model import Activity

if TYPE_CHECKING:  # channels sit above the compiler; it only reads their attributes
    from crmspec.channels import Channel


# The customer attributes each send-list row carries: why the customer is there (joined
# from `features` for the contacts that are sent: the candidates carry only the stage).
ROW_ATTRIBUTES = ("stage", "customer_type", "tier", "purchases", "spend",
                  "days_since_last_purchase", "r", "f", "m")


@dataclass
class CompiledActivity:
    activity: Activity
    channel: Channel
    query: exp.Select  # SELECT customer_id, activity_id, channel, address, segment, stage,
    #                    status FROM features WHERE ...

    @property
    def audience_sql(self) -> str:
        return self.query.sql(DIALECT)


def _status(a: Activity, channel: Channel) -> exp.Expression:
    """Why a qualifying customer is (not) contacted: send, opted_out, no/invalid address."""
    addr = col(channel.contact_field)
    case = exp.Case().when(col("opt_out_all"), lit("opted_out"))
    if channel.opt_out_field and not a.service:
        case = case.when(col(channel.opt_out_field), lit("opted_out"))
    case = case.when(addr.is_(exp.null()), lit("no_address"))
    if channel.address_pattern:
        valid = exp.func("regexp_full_match", exp.cast(addr, "VARCHAR"),
                         lit(channel.address_pattern))
        case = case.when(exp.not_(valid), lit("invalid_address"))
    return case.else_(lit("send"))


def audience_select(a: Activity, channel: Channel, cond: exp.Expression) -> exp.Select:
    cols = [
        col("customer_id"),
        exp.alias_(lit(a.id), "activity_id"),
        exp.alias_(lit(channel.name), "channel"),
        exp.alias_(exp.cast(col(channel.contact_field), "VARCHAR"), "address"),
        exp.alias_(lit(a.segment), "segment"),
        col("stage"),
        exp.alias_(_status(a, channel), "status"),
    ]
    return exp.select(*cols).from_("features").where(cond)
