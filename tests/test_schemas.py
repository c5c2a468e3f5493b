"""The schemas, their committed copies and the reference docs agree, and are complete."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from crmspec.channels import builtin_schemas
from crmspec.core.diagnostics import CODES
from crmspec.plan.reference import render_reference, walk_properties
from crmspec.plan.schemas import KINDS, dumps

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_committed_schemas_match_their_source(kind):
    expected = dumps(builtin_schemas()[kind])
    for folder in ("schemas", "src/crmspec/schemas"):
        committed = (ROOT / folder / f"{kind}.schema.json").read_text(encoding="utf-8")
        assert committed == expected, f"{folder}/{kind}.schema.json is stale: " \
            "run python tools/make_schemas.py"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_is_valid_draft_2020_12_and_closed(kind):
    schema = builtin_schemas()[kind]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert schema.get("title") and schema.get("description")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_property_has_a_description(kind):
    schema = builtin_schemas()[kind]
    undocumented = [p for p, prop in walk_properties(schema)
                    if "$ref" not in prop and not prop.get("description", "").strip()]
    for name, prop in schema.get("$defs", {}).get("conditions", {}).get("properties", {}).items():
        if not prop.get("description", "").strip():
            undocumented.append(f"conditions.{name}")
    assert undocumented == []


def test_every_object_property_is_closed():
    def objects(node, path=""):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield path, node
            for k, v in node.items():
                yield from objects(v, f"{path}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from objects(v, f"{path}/{i}")

    open_objects = [f"{kind}{path}" for kind, s in builtin_schemas().items()
                    for path, o in objects(s) if o.get("additionalProperties") is not False]
    assert open_objects == []


def test_reference_docs_are_current_and_name_every_property():
    committed = (ROOT / "docs/reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(builtin_schemas()), "docs/reference.md is stale: " \
        "run python tools/make_schemas.py"
    for kind, schema in builtin_schemas().items():
        for path, _ in walk_properties(schema):
            assert f"`{path}`" in committed, (kind, path)


def test_every_diagnostic_code_is_documented():
    errors_doc = (ROOT / "docs/errors.md").read_text(encoding="utf-8")
    missing = [code for code in CODES if f"`{code}`" not in errors_doc]
    assert missing == []


def test_schemas_ship_inside_the_package():
    from importlib import resources

    names = sorted(p.name for p in resources.files("crmspec").joinpath("schemas").iterdir())
    assert names == sorted(f"{k}.schema.json" for k in KINDS)
    shop = json.loads(resources.files("crmspec").joinpath("schemas/shop.schema.json").read_text())
    assert shop["title"] == "Shop settings"
