"""A test plugin that cannot be imported."""

from crmspec import hookimpl

import crmspec_no_such_module_xyz  # noqa: F401  (line 5)


@hookimpl
def register_channels():
    return []
