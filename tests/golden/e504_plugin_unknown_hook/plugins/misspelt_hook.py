"""A test plugin with a misspelt hook name."""

from crmspec import hookimpl


@hookimpl
def register_chanels():
    return []
