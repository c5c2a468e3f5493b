"""A plugin's failure as a diagnostic: which plugin, where in its source (the deepest
frame of its own files), and its exception kept for `--debug`, never a traceback."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import pluggy

from crmspec.channels import Channel
from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.core.mask import mask_text

# Frames inside crmspec itself never locate a plugin's failure.
_CRMSPEC_DIR = str(Path(__file__).resolve().parents[1])


class PluginError(PlanError):
    """A plugin failed to load, or a hook of it raised or returned nonsense.

    A PlanError, so the CLI prints its diagnostics (naming the plugin) and exits 1;
    `originals` keeps the exceptions for `--debug`.
    """

    def __init__(self, diagnostics, originals: list[BaseException] | None = None):
        super().__init__(diagnostics)
        self.originals = list(originals or [])


def shown_path(file: str | os.PathLike, root: Path | None) -> str:
    path = Path(file)
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def plugin_files(plugin: Any) -> list[str]:
    """Source files that belong to a plugin (its module, or its package's folder)."""
    file = getattr(plugin, "__file__", None)
    if not file:
        mod = sys.modules.get(getattr(type(plugin), "__module__", ""), None)
        file = getattr(mod, "__file__", None)
    if not file:
        return []
    p = Path(file).resolve()
    return [str(p.parent) if p.name == "__init__.py" else str(p)]


def locate(exc: BaseException, files: list[str], root: Path | None,
           fallback: tuple[str, int] | None = None) -> tuple[str, int, int]:
    """(path, line, col) in the plugin's source where `exc` arose."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return shown_path(exc.filename, root), exc.lineno, max(exc.offset or 1, 1)
    frames = traceback.extract_tb(exc.__traceback__)

    def mine(f) -> bool:
        path = str(Path(f.filename).resolve()) if not f.filename.startswith("<") else ""
        return any(path == x or path.startswith(x.rstrip("/") + os.sep) for x in files)

    chosen = [f for f in frames if mine(f)] or [
        f for f in frames if not f.filename.startswith("<") and "importlib" not in f.filename
        and not f.filename.startswith(str(Path(pluggy.__file__).parent))
        and not f.filename.startswith(_CRMSPEC_DIR)
    ]
    if chosen:
        f = chosen[-1]
        return shown_path(f.filename, root), f.lineno or 1, 1
    if fallback:
        return shown_path(fallback[0], root), fallback[1], 1
    return (files[0] if files else "<plugin>"), 1, 1


def debug_hint() -> str:
    return "run with --debug for the traceback"


def plugin_error(name: str, code: str, message: str, where: tuple[str, int, int],
                 hint: str | None = None) -> Diagnostic:
    path, line, col = where
    return Diagnostic(path, line, col, code, mask_text(f"plugin '{name}': {message}"),
                      hint)


def exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def impl_where(impl: pluggy.HookImpl, root: Path | None) -> tuple[str, int, int]:
    code = getattr(impl.function, "__code__", None)
    if code is None:
        return "<plugin>", 1, 1
    return shown_path(code.co_filename, root), code.co_firstlineno, 1


def invalid_result(pm: pluggy.PluginManager, plugin: str, hook: str, message: str) -> PluginError:
    impl = next(i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin_name == plugin)
    root = getattr(pm, "crmspec_root", None)
    return PluginError([plugin_error(plugin, "E503", f"hook {hook} returned {message}",
                                     impl_where(impl, root))])


def command_failure(plugin: str, command: str, exc: BaseException, callback,
                    root: Path | None) -> PluginError:
    """A plugin's command raised: a PluginError naming the plugin."""
    files = plugin_files(sys.modules.get(getattr(callback, "__module__", ""), None))
    code = getattr(callback, "__code__", None)
    if code is not None:
        files.append(str(Path(code.co_filename).resolve()))
    return PluginError([plugin_error(plugin, "E502",
                                     f"command '{command}' failed: {exc_text(exc)}",
                                     locate(exc, files, root), debug_hint())], [exc])


def writer_failure(plugin: str, channel: Channel, exc: BaseException,
                   root: Path | None) -> PluginError:
    """A channel's writer raised: a PluginError naming the plugin providing the channel."""
    return PluginError([plugin_error(plugin, "E502",
                                     f"channel '{channel.name}' failed to write: "
                                     f"{exc_text(exc)}",
                                     locate(exc, plugin_files(channel), root), debug_hint())],
                       [exc])
