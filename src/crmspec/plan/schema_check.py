"""Check plan documents against the JSON Schemas, reporting each problem at its line.

jsonschema's `iter_errors` gives every error, not the first; each error's
`absolute_path` is walked through the YAML node tree (see `load.Document.where`) so the
message points at the offending value, or at the key itself for an unknown key.
For `oneOf`/`anyOf` failures the deepest, most relevant sub-error is reported instead
of a wall of alternatives (check-jsonschema's approach).
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from importlib import resources

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from crmspec.core.diagnostics import Diagnostic
from crmspec.plan.load import Document
from crmspec.plan.parts import confined_unit, without
from crmspec.plan.schemas.common import DATE, HHMM, SLUG

# What the shared patterns mean, for a hint better than the field's own description.
_PATTERNS = {
    piece["pattern"]: piece["description"] for piece in (SLUG, DATE, HHMM)
}
_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO"}


@lru_cache(maxsize=None)
def packaged_schema(kind: str) -> dict:
    text = resources.files("crmspec").joinpath("schemas", f"{kind}.schema.json").read_text(
        encoding="utf-8"
    )
    return json.loads(text)


@lru_cache(maxsize=None)
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(packaged_schema(kind), format_checker=FormatChecker())


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors a person should see for a oneOf/anyOf failure: those of the alternative
    the value was evidently meant to be (the one it fits best), each resolved in turn.

    An alternative whose type or constant (a discriminator such as `type: after_order`)
    does not match is a worse fit than one with, say, a misspelt key.
    """
    if not error.context:
        return [error]
    alternatives: dict = {}
    for e in error.context:
        alternatives.setdefault(e.relative_schema_path[0], []).append(e)

    def misfit(errors: list[ValidationError]) -> tuple[int, int, int]:
        wrong_type = sum(e.validator == "type" and not e.relative_path for e in errors)
        wrong_const = sum(e.validator in ("const", "enum") for e in errors)
        return wrong_type, wrong_const, len(errors)

    best = min(alternatives.values(), key=misfit)  # the first alternative wins a tie
    return [leaf for e in best for leaf in _leaves(e)]


def _yaml11_hint(error: ValidationError) -> str | None:
    """Why a plain scalar is text where YAML 1.1 (PyYAML, yamllint) would have typed it."""
    value = error.instance
    if error.validator == "type" and isinstance(value, str):
        expected = error.validator_value
        if "boolean" in expected and value in _YAML11_BOOLS:
            return "write true or false: crmspec does not read YAML 1.1 yes/no/on/off as booleans"
        if ("integer" in expected or "number" in expected) and re.fullmatch(r"0[0-9]+", value):
            return "a number with a leading zero is kept as text; write it without the zero"
        if ("integer" in expected or "number" in expected) and re.fullmatch(r"[0-9:]+", value):
            return "YAML 1.1 would read this as a base-60 number; crmspec keeps it as text"
    return None


def _diagnostics(doc: Document, error: ValidationError) -> list[Diagnostic]:
    out = []
    for leaf in _leaves(error):
        if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
            out += _unknown_keys(doc, leaf)
        else:
            out.append(_diagnostic(doc, leaf))
    return out


def _unknown_keys(doc: Document, error: ValidationError) -> list[Diagnostic]:
    """One E202 per unknown key, at the key, with the closest allowed key as a hint, or,
    for a key the file kind no longer has, where its content went (the schema's
    `x-crmspec-removed`: key -> explanation)."""
    path = tuple(error.absolute_path)
    allowed = list(error.schema.get("properties", {}))
    removed = error.schema.get("x-crmspec-removed", {})
    out = []
    for key in (k for k in error.instance if k not in allowed):
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else (
            "allowed keys: " + ", ".join(allowed) if allowed else None
        )
        if key in removed:
            hint = f"'{key}' was removed: {removed[key]}"
        out.append(doc.diag(path + (key,), "E202", f"unknown key '{key}'", hint, key=True))
    return out


def _diagnostic(doc: Document, error: ValidationError) -> Diagnostic:
    path = tuple(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        where = "the document" if not path else ".".join(str(p) for p in path)
        return doc.diag(path, "E203", f"required key '{missing}' missing in {where}")
    if error.validator == "enum":
        options = ", ".join(json.dumps(v, ensure_ascii=False) for v in error.validator_value)
        return doc.diag(
            path,
            "E201",
            f"{json.dumps(error.instance, ensure_ascii=False)} is not one of the allowed values",
            f"use one of: {options}",
        )
    if error.validator == "pattern" and isinstance(error.instance, str):
        desc = _PATTERNS.get(error.validator_value) or error.schema.get("description", "")
        return doc.diag(
            path,
            "E201",
            f"'{error.instance}' is not a valid value here",
            desc or f"it must match {error.validator_value}",
        )
    where = ".".join(str(p) for p in path) or "document"
    hint = _yaml11_hint(error)
    # A value YAML 1.1 would have typed (no -> false, 0123 -> 83) has its own code.
    return doc.diag(path, "E110" if hint else "E201", f"{where}: {error.message}", hint)


_CUSTOM: dict[str, Draft202012Validator] = {}


def _custom_validator(schema: dict) -> Draft202012Validator:
    key = json.dumps(schema, sort_keys=True)
    if key not in _CUSTOM:
        _CUSTOM[key] = Draft202012Validator(schema, format_checker=FormatChecker())
    return _CUSTOM[key]


def check_schema(doc: Document, kind: str, schema: dict | None = None) -> list[Diagnostic]:
    """All schema problems of one document, located.

    `schema` replaces the packaged schema of the kind: validate passes the one built with
    the plugin manager's channels (their options are part of it).
    """
    return check_parts(doc, kind, schema)[0]


def check_parts(doc: Document, kind: str, schema: dict | None = None
                ) -> tuple[list[Diagnostic], set[tuple]]:
    """`check_schema`, and the parts of the document the problems are confined to
    (`crmspec.plan.parts`): () for the whole document when the rest without those parts
    is still not schema-valid (a required key is broken)."""
    validator = _validator(kind) if schema is None else _custom_validator(schema)
    errors = list(validator.iter_errors(doc.data))
    units: set[tuple] = set()
    for e in errors:
        path = tuple(e.absolute_path)
        if not path and e.validator == "additionalProperties" and kind != "sop":
            allowed = e.schema.get("properties", {})
            units.update((k,) for k in e.instance if k not in allowed)
        else:
            units.add(confined_unit(kind, doc.data, path))
    if units and () not in units and any(
            True for _ in validator.iter_errors(without(doc.data, units))):
        units = {()}
    return sorted({d for e in errors for d in _diagnostics(doc, e)}), units
