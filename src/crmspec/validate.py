"""`crmspec validate`: every problem of a plan in one run.

Phases: read every file (load problems), check each against its schema, and only when
all files are schema-valid build the typed plan and run the semantic checks: checking
references in a plan whose shape is wrong would report noise, not problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from crmspec.checks import check_plan
from crmspec.diagnostics import Diagnostic, has_errors
from crmspec.model import Plan, build_plan
from crmspec.project import read_project
from crmspec.schema import check_schema


@dataclass
class Validation:
    diagnostics: list[Diagnostic]
    plan: Plan | None  # None when the plan could not be built

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def validate_project(root: Path, channels: Iterable[str] | None = None) -> Validation:
    files = read_project(root)
    diags = list(files.diagnostics)
    for kind, doc in files.all_documents():
        diags += check_schema(doc, kind)
    plan = None
    if not has_errors(diags):
        plan = build_plan(files)
        diags += check_plan(plan, channels)
    return Validation(sorted(set(diags)), plan)
