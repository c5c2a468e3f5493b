"""Regenerate the JSON Schemas and docs/reference.md from crmspec.schemadefs."""

from pathlib import Path

from crmspec.reference import render_reference
from crmspec.schemadefs import build_schemas, dumps

ROOT = Path(__file__).resolve().parent.parent

for kind, schema in build_schemas().items():
    for folder in ("src/crmspec/schemas", "schemas"):
        (ROOT / folder / f"{kind}.schema.json").write_text(dumps(schema), encoding="utf-8")
(ROOT / "docs").mkdir(exist_ok=True)
(ROOT / "docs/reference.md").write_text(render_reference(), encoding="utf-8")
print("schemas and docs/reference.md written")
