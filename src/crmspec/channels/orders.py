"""The orders behind an activity's contacts, for the lists people work from: the parcel
to pack, the unpaid order to call about or chat over (order id and amount).

An `after_order` trigger fired on orders; those orders are the ones its list names: the
`trigger_orders` the build found once (order events), or the orders of the customer's
first or last purchase day. Other triggers (a state, a birthday) have no order.

The compiler is imported when a list is written, not with this module: the built-in
channels are registered by every command, `crmspec validate` too, which needs neither the
compiler nor sqlglot's SQL generator.
"""

from __future__ import annotations

from crmspec.channels.base import WriteContext, sql_ident


def trigger_orders_sql(ctx: WriteContext) -> str | None:
    """SELECT order_id, customer_id, amount: the orders the activity's trigger fired on,
    of its send rows' customers; None when the trigger is not an order's."""
    from crmspec.compile.sql import DIALECT  # see the module's docstring
    from crmspec.compile.triggers import activity_order_condition, order_flag_column

    flag = order_flag_column(ctx.activity.trigger)
    if flag:
        return (f"SELECT o.order_id, o.customer_id, o.amount FROM {ctx.table} AS r "
                f"JOIN trigger_orders AS t ON t.customer_id = r.customer_id "
                f"AND t.{sql_ident(flag)} "
                f"JOIN orders AS o ON o.order_id = t.order_id AND o.customer_id = t.customer_id")
    cond = activity_order_condition(ctx.activity, ctx.plan, ctx.as_of, orders="o",
                                    customers="r")
    if cond is None:
        return None
    # first or last purchase: compared with the customer's dates (in `features`)
    return (f"SELECT o.order_id, o.customer_id, o.amount FROM {ctx.rows} AS r "
            f"JOIN orders AS o ON o.customer_id = r.customer_id WHERE {cond.sql(DIALECT)}")


def order_columns(ctx: WriteContext) -> tuple[str, str]:
    """(join, columns) adding `order_ids` (sorted, '; '-joined) and `order_amount` (their
    sum) to a SELECT over `ctx.table AS r`: one row per customer, as a call or a chat is;
    empty when the trigger is not an order's."""
    orders = trigger_orders_sql(ctx)
    if orders is None:
        return "", ("CAST(NULL AS VARCHAR) AS order_ids, "
                    "CAST(NULL AS DECIMAL(14, 2)) AS order_amount")
    join = (f"LEFT JOIN (SELECT customer_id, string_agg(order_id, '; ' ORDER BY order_id) AS "
            f"order_ids, CAST(sum(amount) AS DECIMAL(14, 2)) AS order_amount FROM ({orders}) "
            f"GROUP BY customer_id) AS ord ON ord.customer_id = r.customer_id")
    return join, "ord.order_ids, ord.order_amount"
