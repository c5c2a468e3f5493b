"""Plugins: where crmspec's channels and extensions come from.

`get_plugin_manager()` is a factory: every command (and every test) makes its own
manager, so plugins never leak from one run into the next. It registers, in this order:

1. the default plugins (`DEFAULT_PLUGINS`: the built-in channels), whose hook
   implementations are marked `trylast` so that any other plugin comes first;
2. third-party plugins installed as distributions with an entry point in the group
   `crmspec` (sorted by entry-point name, so the order does not depend on how the
   environment lists distributions);
3. the shop's local plugins: each `plugins/*.py` file of the project (top level only;
   sub-folders there are separately installable distributions), sorted by file name,
   each named after its file stem.

`CRMSPEC_PLUGINS` (comma-separated names) restricts which plugins of 2 and 3 load; set
to an empty string, only the defaults load. A name it lists that exists nowhere is an
error (a typo would otherwise silently drop a plugin).

Hooks are called through `call_hook`, which calls each implementation itself in
pluggy's order (tryfirst first, then the latest registered first, trylast last), so
that an exception is reported with the name of the plugin that raised it (E502) and a
location in the plugin's source, without a traceback (`--debug` shows it). For the
same reason hook wrappers are refused: crmspec's hooks only collect results.

Which channel wins when two plugins register the same name: the implementation pluggy
calls first. So a user plugin replaces a built-in channel; among user plugins, the
later registered wins (a local plugin over an entry-point one; among entry points, the
one whose entry-point name sorts last).

Modules: `manager` (loading, `call_hook`), `collect` (what the hooks return, checked),
`failures` (a plugin's exception as a located diagnostic). The hooks themselves are
`crmspec.hookspecs`.
May import: `crmspec.channels`, `crmspec.data`, `crmspec.core`, `crmspec.hookspecs`.
"""

from crmspec.plugins.collect import (
    ChannelSet,
    PluginInfo,
    SitePage,
    channel_set,
    collect_channels,
    collect_commands,
    collect_site_pages,
    collect_validation,
    describe_plugins,
)
from crmspec.plugins.failures import PluginError, command_failure, writer_failure
from crmspec.plugins.manager import (
    DEFAULT_PLUGINS,
    ENV_VAR,
    GROUP,
    HOOKS,
    LOCAL_DIR,
    call_hook,
    get_plugin_manager,
)

__all__ = [
    "DEFAULT_PLUGINS", "ENV_VAR", "GROUP", "HOOKS", "LOCAL_DIR", "ChannelSet", "PluginError",
    "PluginInfo", "SitePage", "call_hook", "channel_set", "collect_channels",
    "collect_commands", "collect_site_pages", "collect_validation", "command_failure",
    "describe_plugins", "get_plugin_manager", "writer_failure",
]
