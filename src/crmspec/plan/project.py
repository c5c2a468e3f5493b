"""Find a shop project's plan files and read them all, collecting every load problem.

A project is a folder holding `plans/`. Each file kind has a fixed name so that a
reader of the repository knows where to look: `plans/shop.yaml`, `tiers.yaml`,
`lifecycle.yaml`, `segments.yaml`, `activities.yaml`, `kpis.yaml`, and one file per
SOP document in `plans/sop/`. Anything else ending in .yaml/.yml is reported (a typo in
a file name would otherwise silently drop part of the plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.plan.load import Document, load_file

PLAN_DIR = "plans"
SINGLE_KINDS = ("shop", "tiers", "lifecycle", "segments", "activities", "kpis", "calendar")
# Only shop.yaml is required: a shop may start by measuring (kpis.yaml alone). Activities
# target segments of lifecycle stages, so they need both.
REQUIRED_KINDS = ("shop",)
NEEDED_BY = {"activities": ("segments", "lifecycle")}
NON_PLAN_DIRS = ("templates",)  # message templates (the channels issue) live here


@dataclass
class ProjectFiles:
    root: Path
    documents: dict[str, Document] = field(default_factory=dict)
    sops: list[Document] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # file -> kind, not loaded
    missing: list[str] = field(default_factory=list)  # kinds of required files not there

    def all_documents(self) -> list[tuple[str, Document]]:
        return [(k, d) for k, d in self.documents.items()] + [("sop", d) for d in self.sops]


def find_root(start: Path) -> Path:
    """The project root: `start` itself (commands take --project or run in the root)."""
    start = start.resolve()
    if (start / PLAN_DIR).is_dir():
        return start
    raise PlanError(
        [
            Diagnostic(
                str(start),
                1,
                1,
                "E109",
                f"no '{PLAN_DIR}/' folder here",
                "run crmspec in the shop repository root or pass --project DIR; "
                "`crmspec init DIR` starts a new one",
            )
        ]
    )


def _shown(root: Path, file: Path) -> str:
    return file.relative_to(root).as_posix()


def read_project(root: Path) -> ProjectFiles:
    """Load every plan file under root/plans; problems become diagnostics."""
    files = ProjectFiles(root=root)
    plan_dir = root / PLAN_DIR
    candidates = sorted(
        p
        for p in plan_dir.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part in NON_PLAN_DIRS for part in p.relative_to(plan_dir).parts[:-1])
    )
    for file in candidates:
        rel = file.relative_to(plan_dir)
        shown = _shown(root, file)
        if len(rel.parts) == 1 and file.stem in SINGLE_KINDS:
            kind = file.stem
        elif len(rel.parts) == 2 and rel.parts[0] == "sop":
            kind = "sop"
        else:
            files.diagnostics.append(
                Diagnostic(
                    shown,
                    1,
                    1,
                    "E108",
                    f"'{shown}' is not a plan file crmspec knows",
                    "plan files are plans/{" + ",".join(SINGLE_KINDS) + "}.yaml and "
                    "plans/sop/<activity>.yaml",
                )
            )
            continue
        if kind != "sop" and kind in files.documents:
            files.diagnostics.append(
                Diagnostic(shown, 1, 1, "E108", f"a second '{kind}' file",
                           f"keep one of {kind}.yaml / {kind}.yml")
            )
            continue
        try:
            doc = load_file(file, shown)
        except PlanError as exc:
            files.diagnostics.extend(exc.diagnostics)
            files.unreadable[shown] = kind
            continue
        if kind == "sop":
            files.sops.append(doc)
        else:
            files.documents[kind] = doc
    present = {_stem for _stem in SINGLE_KINDS if (plan_dir / f"{_stem}.yaml").exists()
               or (plan_dir / f"{_stem}.yml").exists()}
    needed = {kind: "" for kind in REQUIRED_KINDS}
    for kind, kinds in NEEDED_BY.items():
        if kind in present:
            needed.update({k: f" ({kind}.yaml refers to it)" for k in kinds})
    for kind, why in needed.items():
        if kind not in present:
            files.missing.append(kind)
            files.diagnostics.append(
                Diagnostic(
                    f"{PLAN_DIR}/{kind}.yaml",
                    1,
                    1,
                    "E109",
                    f"required plan file {PLAN_DIR}/{kind}.yaml is missing{why}",
                    "`crmspec init DIR` writes a complete starting plan to copy it from",
                )
            )
    return files
