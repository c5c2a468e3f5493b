"""A test plugin registering a channel whose contact field does not exist."""

from crmspec import hookimpl
from crmspec.channels import Channel


class Fax(Channel):
    name = "fax"
    title = "Fax"
    contact_field = "fax_number"


@hookimpl
def register_channels():
    return [Fax()]
