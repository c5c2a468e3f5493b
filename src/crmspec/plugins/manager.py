"""The plugin manager: where crmspec's channels and extensions come from.

`get_plugin_manager()` builds one; `call_hook` calls a hook the way every crmspec hook is
called (see the package docstring).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from crmspec import hookspecs
from crmspec.channels import BUILTIN_MODULES
from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.plugins.failures import (
    PluginError,
    debug_hint,
    exc_text,
    impl_where,
    locate,
    plugin_error,
    plugin_files,
    shown_path,
)

GROUP = "crmspec"
ENV_VAR = "CRMSPEC_PLUGINS"
LOCAL_DIR = "plugins"
DEFAULT_PLUGINS = BUILTIN_MODULES

HOOKS = tuple(
    name for name in vars(hookspecs)
    if not name.startswith("_") and callable(getattr(hookspecs, name))
    and hasattr(getattr(hookspecs, name), "crmspec_spec")
)


def _allowed() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


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
            diags.append(plugin_error(name, "E501", "two plugins have this name", where,
                                      "rename one of them (local plugins are named after their "
                                      "file)"))
            return False
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            diags.append(plugin_error(name, "E504", str(exc), where,
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
                diags.append(plugin_error(ep.name, "E501", "two plugins have this name", where))
                continue
            try:
                pm.load_setuptools_entrypoints(GROUP, name=ep.name)
            except pluggy.PluginValidationError as exc:
                diags.append(plugin_error(ep.name, "E504", str(exc), where,
                                          "check the hook names and arguments in docs/plugins.md"))
                originals.append(exc)
                continue
            except Exception as exc:  # noqa: BLE001 - any import failure is reported
                module = ep.value.split(":")[0]
                spec_files = []
                try:
                    spec = importlib.util.find_spec(module.split(".")[0])
                    if spec and spec.origin:
                        spec_files = plugin_files(type("M", (), {"__file__": spec.origin}))
                except Exception:  # noqa: BLE001
                    pass
                diags.append(plugin_error(ep.name, "E501", f"failed to load ({module}): "
                                          f"{exc_text(exc)}", locate(exc, spec_files, project_root),
                                          debug_hint()))
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
            shown = shown_path(file, project_root)
            try:
                module = _load_local(file)
            except Exception as exc:  # noqa: BLE001
                diags.append(plugin_error(name, "E501", f"failed to load: {exc_text(exc)}",
                                          locate(exc, [str(file.resolve())], project_root),
                                          debug_hint()))
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
                out.append(plugin_error(impl.plugin_name, "E504", f"unknown hook '{name}'",
                                        impl_where(impl, root),
                                        "crmspec hooks: " + ", ".join(HOOKS)))
            elif impl.hookwrapper or getattr(impl, "wrapper", False):
                out.append(plugin_error(impl.plugin_name, "E503",
                                        f"hook '{name}' is a wrapper; crmspec hooks do not support "
                                        "wrappers", impl_where(impl, root),
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
            files = plugin_files(impl.plugin)
            code = getattr(impl.function, "__code__", None)
            if code is not None:
                files.append(str(Path(code.co_filename).resolve()))
            fallback = (code.co_filename, code.co_firstlineno) if code else None
            raise PluginError([plugin_error(impl.plugin_name, "E502",
                                            f"hook {hook} failed: {exc_text(exc)}",
                                            locate(exc, files, root, fallback), debug_hint())],
                              [exc]) from None
        if result is not None:
            out.append((impl.plugin_name, result))
    return out


