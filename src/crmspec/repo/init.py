"""`crmspec init [DIR]`: a new shop repository that validates and builds at once.

Everything written ships inside the wheel: the scaffold folder beside this module and
the plan's JSON Schemas (`crmspec/schemas`), so a shop never needs crmspec's own
repository. Files whose names start with a dot are stored as `dot-<name>` (packaging
tools drop hidden files). Nothing is overwritten: if any file to be written exists,
nothing is written and every such file is named.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from crmspec.core.diagnostics import Diagnostic, PlanError

DOT = "dot-"


@dataclass
class Initialized:
    root: Path
    files: list[str]  # written, relative to root, sorted


def _walk(node, prefix: tuple[str, ...] = ()):
    """(path parts, resource) of every file under a package resource folder."""
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            yield from _walk(child, prefix + (child.name,))
        else:
            yield prefix + (child.name,), child


def scaffold_files() -> dict[str, bytes]:
    """Relative path -> bytes of every file `init` writes."""
    out: dict[str, bytes] = {}
    base = resources.files("crmspec.repo") / "scaffold"
    for parts, node in _walk(base):
        name = "/".join(("." + p[len(DOT):]) if p.startswith(DOT) else p for p in parts)
        out[name] = node.read_bytes()
    for parts, node in _walk(resources.files("crmspec") / "schemas"):
        if parts[-1].endswith(".schema.json"):
            out["schemas/" + parts[-1]] = node.read_bytes()
    return dict(sorted(out.items()))


def init_shop(target: Path) -> Initialized:
    """Write the scaffold into `target` (created if absent). Raises PlanError (E111)
    naming every file that exists already; then nothing is written."""
    files = scaffold_files()
    existing = [name for name in files if (target / name).exists()]
    if existing:
        raise PlanError([Diagnostic(
            str(target / name), 1, 1, "E111", f"{name} exists already: crmspec init "
            "writes nothing over it", "init a new, empty folder, or move the file away")
            for name in existing])
    for name, data in files.items():
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    return Initialized(target.resolve(), list(files))
