"""The package layout: layers along the flow of a plan, no cycles, no private names
shared between modules, every package saying what it owns; and the example build's
bytes, recorded, so that a change meant to move code only shows it moved nothing.

    CRMSPEC_UPDATE_GOLDEN=1 pytest tests/test_layout.py   # re-record the example digest
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from crmspec.build import build

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "crmspec"
DIGEST = Path(__file__).parent / "golden" / "example_build.sha256"
UPDATE = os.environ.get("CRMSPEC_UPDATE_GOLDEN") == "1"


def _lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess:
    """lint-imports with the contracts of cwd/pyproject.toml on the package under src."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import "
                           "lint_imports_command; sys.exit(lint_imports_command())",
                           "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_packages_keep_their_layers_and_have_no_cycles():
    run = _lint_imports(ROOT, ROOT / "src")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 2 kept, 0 broken." in run.stdout


def test_the_contracts_catch_an_upward_import_and_a_cycle(tmp_path):
    """The same contracts on a copy of the package with two mistakes added: the shared
    helpers importing the pipeline, and two plan modules importing each other."""
    shutil.copytree(PACKAGE, tmp_path / "src" / "crmspec",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    core = tmp_path / "src/crmspec/core/mask.py"
    core.write_text(core.read_text() + "\n\ndef _late():\n    import crmspec.build  # noqa\n")
    load = tmp_path / "src/crmspec/plan/load.py"
    load.write_text(load.read_text() + "\n\ndef _late():\n    import crmspec.plan.model  # noqa\n")
    run = _lint_imports(tmp_path, tmp_path / "src")
    assert run.returncode == 1
    assert "crmspec is layered along the flow of a plan BROKEN" in run.stdout
    assert "crmspec.core.mask -> crmspec.build" in run.stdout
    assert "no import cycles between the modules of a package BROKEN" in run.stdout
    cycles = run.stdout.split("no import cycles between the modules of a package\n")[-1]
    assert "No cycles are allowed in crmspec.plan." in cycles
    assert "- .load -> .model (1 import)" in cycles


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        yield ".".join(parts), path


def test_no_module_imports_a_private_name_of_another():
    found = []
    for name, path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crmspec"):
                found += [f"{name}: from {node.module} import {a.name}"
                          for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id == "crmspec"):
                found.append(f"{name}: crmspec.{node.attr}")
    assert found == []


def test_every_package_says_what_it_owns_and_what_it_may_import():
    packages = sorted(p.parent for p in PACKAGE.rglob("__init__.py")
                      if p.parent.parent == PACKAGE)
    assert {p.name for p in packages} == {
        "analysis", "channels", "cli", "compile", "contact", "core", "data", "engine",
        "outputs", "plan", "plugins", "repo", "review", "safesql", "site", "templates"}
    for package in packages:
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text("utf-8")))
        assert doc, package.name
        assert "May import" in doc, package.name


def test_the_architecture_page_names_every_package():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, _ in _modules():
        if name.count(".") == 1:
            assert f"`{name.split('.')[1]}" in page, name


def _digest(folder: Path) -> str:
    return "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(folder)}\n"
                   for p in sorted(folder.rglob("*")) if p.is_file())


def test_the_example_build_writes_the_recorded_bytes(tmp_path):
    """The example shop (plans/) on its demo data: every file of out/, by SHA-256. A change
    that should not change behaviour must leave this digest alone; one that should
    re-records it (CRMSPEC_UPDATE_GOLDEN=1) and says so in its commit."""
    shutil.copytree(ROOT / "plans", tmp_path / "plans")
    result = build(tmp_path)
    digest = _digest(result.out_dir)
    if UPDATE:
        DIGEST.write_text(digest, encoding="utf-8")
    assert DIGEST.exists(), "no recorded digest; run with CRMSPEC_UPDATE_GOLDEN=1"
    assert digest == DIGEST.read_text(encoding="utf-8")
