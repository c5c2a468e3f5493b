"""A test plugin whose hook raises."""

from crmspec import hookimpl


@hookimpl
def register_channels():
    customers = {"phone": "13812345678"}
    raise ValueError(f"cannot reach the channel registry for {customers['phone']}")  # line 9
