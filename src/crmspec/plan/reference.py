"""The plan reference (docs/reference.md), generated from the JSON Schemas.

One source of truth: the schema descriptions are what editors show on hover, and the
same text becomes the reference page, so the two cannot disagree. A test fails when the
committed page is stale or when any property lacks a description.
"""

from __future__ import annotations

import json

FILES = {
    "shop": "plans/shop.yaml",
    "tiers": "plans/tiers.yaml",
    "lifecycle": "plans/lifecycle.yaml",
    "segments": "plans/segments.yaml",
    "activities": "plans/activities.yaml",
    "kpis": "plans/kpis.yaml",
    "sop": "plans/sop/<activity>.yaml",
    "calendar": "plans/calendar.yaml",
}


def _type(schema: dict, defs: dict) -> str:
    if "$ref" in schema:
        return "conditions"
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    if "enum" in schema:
        return " \\| ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    if "oneOf" in schema:
        return " or ".join(_type(s, defs) for s in schema["oneOf"])
    t = schema.get("type", "any")
    if isinstance(t, list):
        t = " or ".join(t)
    if t == "array":
        return f"list of {_type(schema.get('items', {}), defs)}"
    return t


def walk_properties(schema: dict, path: str = ""):
    """Yield (dotted path, property schema) for every property, depth first."""
    for name, prop in schema.get("properties", {}).items():
        here = f"{path}.{name}" if path else name
        yield here, prop
        yield from _nested(prop, here)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _nested(extra, f"{path}.<name>" if path else "<name>")


def _nested(prop: dict, here: str):
    if prop.get("type") == "object" or "properties" in prop:
        yield from walk_properties(prop, here)
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        yield from walk_properties(prop["items"], here + "[]")
    for alt in prop.get("oneOf", []):
        if alt.get("type") == "array" and isinstance(alt.get("items"), dict):
            yield from walk_properties(alt["items"], here + "[]")
        elif "properties" in alt:
            yield from walk_properties(alt, here)


def render_reference(schemas: dict[str, dict]) -> str:
    """docs/reference.md from the schemas of `crmspec.plan.schemas.build_schemas` (the
    built-in channels' for the committed page: `crmspec.channels.builtin_schemas`)."""
    out = [
        "# Plan reference",
        "",
        "Generated from the JSON Schemas (`python tools/make_schemas.py`); do not edit by hand.",
        "Every file starts with a `# yaml-language-server: $schema=...` line so that editors",
        "offer completion and show these descriptions on hover.",
    ]
    for kind, schema in schemas.items():
        out += ["", f"## {FILES[kind]}", "", schema["description"], ""]
        out += ["| key | type | description |", "|---|---|---|"]
        seen = set()
        for path, prop in walk_properties(schema):
            if path in seen:
                continue
            seen.add(path)
            desc = prop.get("description", "").replace("|", "\\|").replace("\n", " ")
            out.append(f"| `{path}` | {_type(prop, schema.get('$defs', {}))} | {desc} |")
        if "$defs" in schema:
            cond = schema["$defs"]["conditions"]
            out += ["", "### Conditions (`where`, `any_of[]`, `not`)", "", cond["description"], ""]
            out += ["| key | type | description |", "|---|---|---|"]
            for name, prop in cond["properties"].items():
                desc = prop.get("description", "").replace("|", "\\|")
                out.append(f"| `{name}` | {_type(prop, {})} | {desc} |")
                for sub, sp in _nested(prop, name):
                    out.append(f"| `{sub}` | {_type(sp, {})} | "
                               f"{sp.get('description', '').replace('|', chr(92) + '|')} |")
    return "\n".join(out) + "\n"
