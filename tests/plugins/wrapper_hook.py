"""A test plugin using a hook wrapper, which crmspec refuses."""

from crmspec import hookimpl


@hookimpl(wrapper=True)
def register_channels():
    result = yield
    return result
