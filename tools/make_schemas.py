"""Regenerate the JSON Schemas and docs/reference.md from crmspec.plan.schemas."""

from pathlib import Path

from crmspec.channels import builtin_schemas
from crmspec.plan.reference import render_reference
from crmspec.plan.schemas import dumps

ROOT = Path(__file__).resolve().parent.parent

for kind, schema in builtin_schemas().items():
    for folder in ("src/crmspec/schemas", "schemas"):
        (ROOT / folder / f"{kind}.schema.json").write_text(dumps(schema), encoding="utf-8")
(ROOT / "docs").mkdir(exist_ok=True)
(ROOT / "docs/reference.md").write_text(render_reference(builtin_schemas()), encoding="utf-8")
print("schemas and docs/reference.md written")
