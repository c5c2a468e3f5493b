"""crmspec: repeat-purchase CRM plans as code.

The data flow is visible in the package names (docs/architecture.md):
plan -> data -> compile -> engine -> contact -> channels/templates -> outputs -> build,
then analysis; validate, plugins, safesql and core serve them.

Plugins write `from crmspec import hookimpl` and implement hooks of `crmspec.hookspecs`
(see docs/plugins.md).
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("crmspec")

__all__ = ["__version__", "hookimpl"]
