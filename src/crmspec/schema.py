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
from jsonschema.exceptions import ValidationError, best_match

from crmspec.diagnostics import Diagnostic
from crmspec.load import Document

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


def _leaf(error: ValidationError) -> ValidationError:
    """Pick the sub-error a person should see for oneOf/anyOf failures."""
    while error.context:
        # Prefer alternatives whose type matched (the user meant that shape).
        relevant = [e for e in error.context if e.validator != "type"] or list(error.context)
        error = best_match(relevant)
    return error


def _hint(error: ValidationError) -> str | None:
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


def _diagnostic(doc: Document, error: ValidationError) -> Diagnostic:
    error = _leaf(error)
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        key = sorted(extras)[0] if extras else ""
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else (
            "allowed keys: " + ", ".join(allowed) if allowed else None
        )
        return doc.diag(path + (key,), "E202", f"unknown key '{key}'", hint, key=True)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        where = "the document" if not path else f"'{path[-1]}'"
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
        desc = error.schema.get("description", "")
        return doc.diag(
            path,
            "E201",
            f"'{error.instance}' is not a valid value here",
            desc or f"it must match {error.validator_value}",
        )
    where = ".".join(str(p) for p in path) or "document"
    return doc.diag(path, "E201", f"{where}: {error.message}", _hint(error))


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
    validator = _validator(kind) if schema is None else _custom_validator(schema)
    errors = validator.iter_errors(doc.data)
    return sorted({_diagnostic(doc, e) for e in errors})
