"""crmspec: repeat-purchase CRM plans as code.

The data flow is visible in the module names:
load -> validate -> model -> compile -> run -> channels -> outputs -> site.

Plugins write `from crmspec import hookimpl` and implement hooks of `crmspec.hookspecs`
(see docs/plugins.md).
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("crmspec")

__all__ = ["__version__", "hookimpl"]
