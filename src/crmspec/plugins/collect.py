"""What the plugins provide, collected from their hooks and checked: channels (the
first-called implementation winning a name), plan checks, site pages, commands, and a
description of every loaded plugin for `crmspec plugins`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import pluggy

from crmspec.channels import Channel
from crmspec.channels.base import check_channel
from crmspec.core.diagnostics import Diagnostic
from crmspec.data.tables import CUSTOMERS
from crmspec.plugins.failures import invalid_result
from crmspec.plugins.manager import call_hook


@dataclass
class PluginInfo:
    name: str
    source: str  # built-in | entry point <dist> <version> | local <path>
    hooks: list[str]
    channels: list[str] = field(default_factory=list)  # channels it registers and that win
    overridden: list[str] = field(default_factory=list)  # its channels another replaced


@dataclass
class ChannelSet:
    channels: dict[str, Channel]
    owner: dict[str, str]  # channel name -> plugin providing it
    overridden: dict[str, list[str]]  # channel name -> plugins whose channel it replaced


def channel_set(pm: pluggy.PluginManager) -> ChannelSet:
    """Every registered channel, the first-called implementation winning a name."""
    known = {c.name for c in CUSTOMERS}
    channels: dict[str, Channel] = {}
    owner: dict[str, str] = {}
    overridden: dict[str, list[str]] = {}
    results = call_hook(pm, "register_channels")
    # call order is highest precedence first: apply in reverse so that it wins
    for plugin, returned in reversed(results):
        if not isinstance(returned, (list, tuple)):
            raise invalid_result(pm, plugin, "register_channels",
                                 f"{type(returned).__name__}, not a list of channels")
        seen: set[str] = set()
        for ch in returned:
            problems = check_channel(ch, known)
            if problems:
                raise invalid_result(pm, plugin, "register_channels", "; ".join(problems))
            if ch.name in seen:
                raise invalid_result(pm, plugin, "register_channels",
                                     f"channel '{ch.name}' twice")
            seen.add(ch.name)
            if ch.name in owner:
                overridden.setdefault(ch.name, []).append(owner[ch.name])
            channels[ch.name] = ch
            owner[ch.name] = plugin
    ordered = dict(sorted(channels.items()))
    return ChannelSet(ordered, owner, overridden)


def collect_channels(pm: pluggy.PluginManager) -> dict[str, Channel]:
    """Channel name -> channel, for validate, compile and build."""
    return channel_set(pm).channels


def collect_validation(pm: pluggy.PluginManager, plan) -> list[Diagnostic]:
    """Diagnostics of every plugin's validate_plan hook."""
    out: list[Diagnostic] = []
    for plugin, diags in call_hook(pm, "validate_plan", plan=plan):
        if not isinstance(diags, (list, tuple)) or not all(
                isinstance(d, Diagnostic) for d in diags):
            raise invalid_result(pm, plugin, "validate_plan", "something other than a list of "
                                 "Diagnostic")
        out.extend(diags)
    return out


@dataclass(frozen=True)
class SitePage:
    plugin: str
    path: str  # relative to the site's docs folder, posix, ends with .md
    text: str


def collect_site_pages(pm: pluggy.PluginManager, plan, manifest: dict | None
                       ) -> list[SitePage]:
    """Pages plugins add to the SOP site, checked and sorted by path."""
    pages: dict[str, SitePage] = {}
    for plugin, returned in call_hook(pm, "register_site_pages", plan=plan, manifest=manifest):
        if not isinstance(returned, (list, tuple)):
            raise invalid_result(pm, plugin, "register_site_pages", "something other than a list")
        for item in returned:
            if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not all(isinstance(x, str) for x in item)):
                raise invalid_result(pm, plugin, "register_site_pages",
                                     f"{item!r}, not a (path, markdown) pair")
            path, text = item
            p = PurePosixPath(path)
            if (p.is_absolute() or ".." in p.parts or p.suffix != ".md" or "\\" in path
                or not p.parts):
                raise invalid_result(pm, plugin, "register_site_pages",
                                     f"page path '{path}': it must be relative, stay inside the "
                                     "site and end with .md")
            key = p.as_posix()
            if key in pages:
                raise invalid_result(pm, plugin, "register_site_pages",
                                     f"page '{key}', which plugin '{pages[key].plugin}' also adds")
            pages[key] = SitePage(plugin, key, text)
    return [pages[k] for k in sorted(pages)]


def collect_commands(pm: pluggy.PluginManager) -> dict[str, tuple[str, Any]]:
    """Command name -> (plugin, click command), from the register_commands hooks.

    When two plugins add a command of the same name, the first called wins (as for
    channels: the later registered plugin)."""
    import click

    class Recorder(click.Group):
        plugin = ""
        owners: dict[str, str] = {}

        def add_command(self, cmd, name=None):
            name = name or cmd.name
            if name not in self.commands:
                super().add_command(cmd, name)
                self.owners[name] = self.plugin

    group = Recorder("crmspec-plugins")
    group.owners = {}

    def before(name: str) -> None:
        group.plugin = name

    call_hook(pm, "register_commands", _before=before, cli=group)
    return {name: (group.owners[name], cmd) for name, cmd in sorted(group.commands.items())}


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Loaded plugins in registration order, with their hooks and the channels they win."""
    cs = channel_set(pm)
    sources = getattr(pm, "crmspec_sources", {})
    out = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
        wins = sorted(ch for ch, o in cs.owner.items() if o == name)
        lost = sorted(ch for ch, olds in cs.overridden.items() if name in olds)
        out.append(PluginInfo(name, sources.get(name, "registered"), hooks, wins, lost))
    return out
