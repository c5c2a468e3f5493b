"""The plugin manager: where crmspec's channels and extensions come from.

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
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import pluggy

from crmspec import hookspecs
from crmspec.channels import BUILTIN_MODULES, Channel
from crmspec.channels.base import check_channel
from crmspec.diagnostics import Diagnostic, PlanError
from crmspec.mask import mask_text

GROUP = "crmspec"
ENV_VAR = "CRMSPEC_PLUGINS"
LOCAL_DIR = "plugins"
DEFAULT_PLUGINS = BUILTIN_MODULES

HOOKS = tuple(
    name for name in vars(hookspecs)
    if not name.startswith("_") and callable(getattr(hookspecs, name))
    and hasattr(getattr(hookspecs, name), "crmspec_spec")
)


class PluginError(PlanError):
    """A plugin failed to load, or a hook of it raised or returned nonsense.

    A PlanError, so the CLI prints its diagnostics (naming the plugin) and exits 1;
    `originals` keeps the exceptions for `--debug`.
    """

    def __init__(self, diagnostics, originals: list[BaseException] | None = None):
        super().__init__(diagnostics)
        self.originals = list(originals or [])


@dataclass
class PluginInfo:
    name: str
    source: str  # built-in | entry point <dist> <version> | local <path>
    hooks: list[str]
    channels: list[str] = field(default_factory=list)  # channels it registers and that win
    overridden: list[str] = field(default_factory=list)  # its channels another replaced


def _allowed() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def _shown_path(file: str | os.PathLike, root: Path | None) -> str:
    path = Path(file)
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def _plugin_files(plugin: Any) -> list[str]:
    """Source files that belong to a plugin (its module, or its package's folder)."""
    file = getattr(plugin, "__file__", None)
    if not file:
        mod = sys.modules.get(getattr(type(plugin), "__module__", ""), None)
        file = getattr(mod, "__file__", None)
    if not file:
        return []
    p = Path(file).resolve()
    return [str(p.parent) if p.name == "__init__.py" else str(p)]


def _locate(exc: BaseException, files: list[str], root: Path | None,
            fallback: tuple[str, int] | None = None) -> tuple[str, int, int]:
    """(path, line, col) in the plugin's source where `exc` arose."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return _shown_path(exc.filename, root), exc.lineno, max(exc.offset or 1, 1)
    frames = traceback.extract_tb(exc.__traceback__)

    def mine(f) -> bool:
        path = str(Path(f.filename).resolve()) if not f.filename.startswith("<") else ""
        return any(path == x or path.startswith(x.rstrip("/") + os.sep) for x in files)

    chosen = [f for f in frames if mine(f)] or [
        f for f in frames if not f.filename.startswith("<") and "importlib" not in f.filename
        and not f.filename.startswith(str(Path(pluggy.__file__).parent))
        and not f.filename.startswith(str(Path(__file__).parent))
    ]
    if chosen:
        f = chosen[-1]
        return _shown_path(f.filename, root), f.lineno or 1, 1
    if fallback:
        return _shown_path(fallback[0], root), fallback[1], 1
    return (files[0] if files else "<plugin>"), 1, 1


def _hint() -> str:
    return "run with --debug for the traceback"


def _error(name: str, code: str, message: str, where: tuple[str, int, int],
           hint: str | None = None) -> Diagnostic:
    path, line, col = where
    return Diagnostic(path, line, col, code, mask_text(f"plugin '{name}': {message}"),
                      hint)


def _exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _impl_where(impl: pluggy.HookImpl, root: Path | None) -> tuple[str, int, int]:
    code = getattr(impl.function, "__code__", None)
    if code is None:
        return "<plugin>", 1, 1
    return _shown_path(code.co_filename, root), code.co_firstlineno, 1


def _load_local(file: Path) -> ModuleType:
    """Import a shop's plugins/<name>.py as a fresh module."""
    modname = f"crmspec_local_plugins.{file.stem}"
    spec = importlib.util.spec_from_file_location(modname, file)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return module


def get_plugin_manager(project_root: Path | None = None, *,
                       entry_points: bool = True) -> pluggy.PluginManager:
    """A new plugin manager with the default, installed and local plugins registered.

    Raises PluginError (a PlanError) naming every plugin that failed to load.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    pm.crmspec_root = project_root  # type: ignore[attr-defined]
    pm.crmspec_sources = {}  # type: ignore[attr-defined]
    for modname in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
        pm.crmspec_sources[modname] = "built-in"
    allowed = _allowed()
    found: set[str] = set()
    diags: list[Diagnostic] = []
    originals: list[BaseException] = []

    def register(plugin: Any, name: str, where: tuple[str, int, int]) -> bool:
        if pm.has_plugin(name) or name in pm.crmspec_sources:
            diags.append(_error(name, "E501", "two plugins have this name", where,
                                "rename one of them (local plugins are named after their "
                                "file)"))
            return False
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            diags.append(_error(name, "E504", str(exc), where,
                                "check the hook names and arguments in docs/plugins.md"))
            originals.append(exc)
            return False
        return True

    if entry_points:
        eps = sorted({ep.name: ep for ep in importlib.metadata.entry_points(group=GROUP)
                      }.values(), key=lambda ep: ep.name)
        for ep in eps:
            found.add(ep.name)
            if allowed is not None and ep.name not in allowed:
                continue
            where = (f"entry point {ep.name} = {ep.value}", 1, 1)
            if pm.has_plugin(ep.name):
                diags.append(_error(ep.name, "E501", "two plugins have this name", where))
                continue
            try:
                pm.load_setuptools_entrypoints(GROUP, name=ep.name)
            except pluggy.PluginValidationError as exc:
                diags.append(_error(ep.name, "E504", str(exc), where,
                                    "check the hook names and arguments in docs/plugins.md"))
                originals.append(exc)
                continue
            except Exception as exc:  # noqa: BLE001 - any import failure is reported
                module = ep.value.split(":")[0]
                spec_files = []
                try:
                    spec = importlib.util.find_spec(module.split(".")[0])
                    if spec and spec.origin:
                        spec_files = _plugin_files(type("M", (), {"__file__": spec.origin}))
                except Exception:  # noqa: BLE001
                    pass
                diags.append(_error(ep.name, "E501", f"failed to load ({module}): "
                                    f"{_exc_text(exc)}", _locate(exc, spec_files, project_root),
                                    _hint()))
                originals.append(exc)
                continue
            dist = next((d for p, d in pm.list_plugin_distinfo()
                         if pm.get_name(p) == ep.name), None)
            pm.crmspec_sources[ep.name] = (
                f"entry point ({dist.project_name} {dist.version})" if dist else "entry point")

    if project_root is not None and (project_root / LOCAL_DIR).is_dir():
        for file in sorted((project_root / LOCAL_DIR).glob("*.py")):
            name = file.stem
            found.add(name)
            if name.startswith("_") or (allowed is not None and name not in allowed):
                continue
            shown = _shown_path(file, project_root)
            try:
                module = _load_local(file)
            except Exception as exc:  # noqa: BLE001
                diags.append(_error(name, "E501", f"failed to load: {_exc_text(exc)}",
                                    _locate(exc, [str(file.resolve())], project_root),
                                    _hint()))
                originals.append(exc)
                continue
            if register(module, name, (shown, 1, 1)):
                pm.crmspec_sources[name] = f"local ({shown})"

    if allowed is not None:
        for name in sorted(allowed - found):
            diags.append(Diagnostic(
                ENV_VAR, 1, 1, "E505", f"{ENV_VAR} names plugin '{name}', which is not "
                "installed and not in plugins/",
                "plugins found: " + (", ".join(sorted(found)) or "none")))

    diags += _check_hooks(pm, project_root)
    if diags:
        raise PluginError(diags, originals)
    pm.check_pending()  # belt and braces: _check_hooks reported what this would raise
    return pm


def _check_hooks(pm: pluggy.PluginManager, root: Path | None) -> list[Diagnostic]:
    """Unknown hook names (a misspelt hook is otherwise silently never called), wrappers."""
    out = []
    for name in sorted(vars(pm.hook)):
        if name.startswith("_"):
            continue
        caller = getattr(pm.hook, name)
        for impl in caller.get_hookimpls():
            if not caller.has_spec() and not impl.optionalhook:
                out.append(_error(impl.plugin_name, "E504", f"unknown hook '{name}'",
                                  _impl_where(impl, root),
                                  "crmspec hooks: " + ", ".join(HOOKS)))
            elif impl.hookwrapper or getattr(impl, "wrapper", False):
                out.append(_error(impl.plugin_name, "E503",
                                  f"hook '{name}' is a wrapper; crmspec hooks do not support "
                                  "wrappers", _impl_where(impl, root),
                                  "drop hookwrapper=True / wrapper=True"))
    return out


def call_hook(pm: pluggy.PluginManager, hook: str, _before=None,
              **kwargs: Any) -> list[tuple[str, Any]]:
    """Call every implementation of `hook` in pluggy's order; (plugin name, result) pairs.

    Results that are None are left out. An exception becomes a PluginError naming the
    plugin, located at the line of the plugin's source that raised. `_before(name)` is
    called before each plugin's implementation runs.
    """
    caller = getattr(pm.hook, hook)
    root = getattr(pm, "crmspec_root", None)
    out = []
    for impl in reversed(caller.get_hookimpls()):
        if _before is not None:
            _before(impl.plugin_name)
        args = [kwargs[a] for a in impl.argnames]
        try:
            result = impl.function(*args)
        except PlanError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported with the plugin's name
            files = _plugin_files(impl.plugin)
            code = getattr(impl.function, "__code__", None)
            if code is not None:
                files.append(str(Path(code.co_filename).resolve()))
            fallback = (code.co_filename, code.co_firstlineno) if code else None
            raise PluginError([_error(impl.plugin_name, "E502",
                                      f"hook {hook} failed: {_exc_text(exc)}",
                                      _locate(exc, files, root, fallback), _hint())],
                              [exc]) from None
        if result is not None:
            out.append((impl.plugin_name, result))
    return out


def _invalid(pm: pluggy.PluginManager, plugin: str, hook: str, message: str) -> PluginError:
    impl = next(i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin_name == plugin)
    root = getattr(pm, "crmspec_root", None)
    return PluginError([_error(plugin, "E503", f"hook {hook} returned {message}",
                               _impl_where(impl, root))])


@dataclass
class ChannelSet:
    channels: dict[str, Channel]
    owner: dict[str, str]  # channel name -> plugin providing it
    overridden: dict[str, list[str]]  # channel name -> plugins whose channel it replaced


def channel_set(pm: pluggy.PluginManager) -> ChannelSet:
    """Every registered channel, the first-called implementation winning a name."""
    from crmspec.tables import CUSTOMERS

    known = {c.name for c in CUSTOMERS}
    channels: dict[str, Channel] = {}
    owner: dict[str, str] = {}
    overridden: dict[str, list[str]] = {}
    results = call_hook(pm, "register_channels")
    # call order is highest precedence first: apply in reverse so that it wins
    for plugin, returned in reversed(results):
        if not isinstance(returned, (list, tuple)):
            raise _invalid(pm, plugin, "register_channels",
                           f"{type(returned).__name__}, not a list of channels")
        seen: set[str] = set()
        for ch in returned:
            problems = check_channel(ch, known)
            if problems:
                raise _invalid(pm, plugin, "register_channels", "; ".join(problems))
            if ch.name in seen:
                raise _invalid(pm, plugin, "register_channels",
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
            raise _invalid(pm, plugin, "validate_plan", "something other than a list of "
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
            raise _invalid(pm, plugin, "register_site_pages", "something other than a list")
        for item in returned:
            if (not isinstance(item, (list, tuple)) or len(item) != 2
                    or not all(isinstance(x, str) for x in item)):
                raise _invalid(pm, plugin, "register_site_pages",
                               f"{item!r}, not a (path, markdown) pair")
            path, text = item
            p = PurePosixPath(path)
            if (p.is_absolute() or ".." in p.parts or p.suffix != ".md" or "\\" in path
                    or not p.parts):
                raise _invalid(pm, plugin, "register_site_pages",
                               f"page path '{path}': it must be relative, stay inside the "
                               "site and end with .md")
            key = p.as_posix()
            if key in pages:
                raise _invalid(pm, plugin, "register_site_pages",
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


def command_failure(plugin: str, command: str, exc: BaseException, callback,
                    root: Path | None) -> PluginError:
    """A plugin's command raised: a PluginError naming the plugin."""
    files = _plugin_files(sys.modules.get(getattr(callback, "__module__", ""), None))
    code = getattr(callback, "__code__", None)
    if code is not None:
        files.append(str(Path(code.co_filename).resolve()))
    return PluginError([_error(plugin, "E502", f"command '{command}' failed: {_exc_text(exc)}",
                               _locate(exc, files, root), _hint())], [exc])


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


def writer_failure(plugin: str, channel: Channel, exc: BaseException,
                   root: Path | None) -> PluginError:
    """A channel's writer raised: a PluginError naming the plugin providing the channel."""
    return PluginError([_error(plugin, "E502", f"channel '{channel.name}' failed to write: "
                               f"{_exc_text(exc)}", _locate(exc, _plugin_files(channel), root),
                               _hint())], [exc])
