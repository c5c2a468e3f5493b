"""References between plan files: an unknown id gets the closest known one as a hint,
a second use of an id points at the first."""

from __future__ import annotations

import difflib
from typing import Iterable

from crmspec.core.diagnostics import Diagnostic, Src


def unknown_reference(src: Src, what: str, value: str, known: Iterable[str]) -> Diagnostic:
    known = sorted(set(known))
    close = difflib.get_close_matches(value, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else None
    if not hint:
        hint = f"known {what}s: " + (", ".join(known) if known else "none")
    return src.diag("E301", f"unknown {what} '{value}'", hint)


def duplicate_ids(items, what: str) -> list[Diagnostic]:
    out = []
    seen: dict[str, object] = {}
    for item in items:
        if item.id in seen:
            first = seen[item.id].src  # type: ignore[attr-defined]
            line, _ = first.doc.where(first.path)
            out.append(
                item.src.at("id").diag(
                    "E302", f"duplicate {what} id '{item.id}' (first at line {line})"
                )
            )
        else:
            seen[item.id] = item
    return out


def relocate_key(src: Src, code: str, message: str, known, value: str):
    """Fields of a diagnostic placed at a mapping key (for unknown attribute columns)."""
    line, col = src.doc.where(src.path, key=True)
    close = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "known columns: " + ", ".join(sorted(known))
    return (src.doc.path, line, col, code, message, hint)
