"""The parts of a plan left out because their schema check failed, so that `crmspec
validate` can check everything around them in the same run.

A schema error is confined to the smallest part of its file that is one thing: an entry
of a file's list (an activity, a segment, a stage, a tier, a KPI, a holiday), a
top-level section of a file (shop.yaml `contact`, tiers.yaml `evaluation`), or a whole
SOP document. The typed plan is built without those parts, and the semantic checks run
on the rest. Two things keep them from reporting noise about what was left out:

- a reference to a left-out entry is not an unknown reference (`Known`): the entry is
  there, only broken;
- the checks that read a whole collection (gaps between lifecycle stages, the
  maintenance share of a stage, downgrade warnings that need tiers.yaml `evaluation`)
  skip what a left-out part could change (`Broken`'s questions).

A file that cannot be used at all (it does not parse, is missing, or a required key of
it is broken) is left out whole, and the references to what it lists are not judged.
Only without a usable shop.yaml is no typed plan built: then only the load and schema
problems are reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from crmspec.plan.schemas.common import SLUG

# File kind -> (key of its list of entries, what an entry is called in references).
ENTRY_LISTS = {
    "activities": ("activities", "activity"),
    "segments": ("segments", "segment"),
    "lifecycle": ("stages", "stage"),
    "tiers": ("tiers", "tier"),
    "kpis": ("kpis", "KPI"),
    "calendar": ("holidays", "holiday"),
}
KIND_OF = {what: kind for kind, (_, what) in ENTRY_LISTS.items()}
_ID = re.compile(SLUG["pattern"])


@dataclass(frozen=True)
class Broken:
    """What was left out: `units` holds (file, path) pairs, path () being the whole file;
    `entries` the raw data of every left-out list entry, by what it is ("activity")."""

    units: frozenset[tuple[str, tuple]] = frozenset()
    entries: dict[str, tuple[dict, ...]] = field(default_factory=dict)
    whole: frozenset[str] = frozenset()  # kinds of optional files left out entirely

    def __bool__(self) -> bool:
        return bool(self.units or self.whole)

    def has(self, path: str, *unit) -> bool:
        """Whether the part `unit` (e.g. "activities", 3) of file `path` was left out."""
        return (path, tuple(unit)) in self.units

    def ids(self, what: str) -> frozenset[str]:
        return frozenset(e["id"] for e in self.entries.get(what, ())
                         if isinstance(e.get("id"), str))

    def unnamed(self, what: str) -> bool:
        """Whether the references to a `what` cannot be judged: its file was left out
        whole, or a left-out entry has no valid id (the one meant is not known)."""
        return KIND_OF[what] in self.whole or any(
            not (isinstance(e.get("id"), str) and _ID.fullmatch(e["id"]))
            for e in self.entries.get(what, ()))

    def any(self, what: str) -> bool:
        """Whether some entry of this kind ("stage", "tier") was left out."""
        return bool(self.entries.get(what)) or KIND_OF[what] in self.whole

    def stages_of_broken_activities(self, all_stages: Iterable[str]) -> set[str]:
        """The stages a left-out activity may belong to (all of them when it does not
        say in a readable way, or activities.yaml is left out): their maintenance share
        cannot be judged."""
        if "activities" in self.whole:
            return set(all_stages)
        out: set[str] = set()
        for raw in self.entries.get("activity", ()):
            stage = raw.get("stage")
            values = stage if isinstance(stage, list) else [stage]
            if all(isinstance(v, str) for v in values) and values:
                out.update(values)
            else:
                return set(all_stages)
        return out

    def templates(self) -> set[str] | None:
        """Template names that left-out activities use (their files are not unused);
        None when activities.yaml is left out: any template may be used."""
        if "activities" in self.whole:
            return None
        return {raw["template"] for raw in self.entries.get("activity", ())
                if isinstance(raw.get("template"), str)}


class Known:
    """The ids a reference may name: those in the plan, and those of left-out entries
    (their reference is not the problem); any id when the file listing them was left
    out whole. Iterating gives the plan's own ids, for "did you mean" hints."""

    def __init__(self, ids: Iterable[str], broken: Iterable[str] = (), anything: bool = False):
        self._ids = frozenset(ids)
        self._broken = frozenset(broken)
        self._anything = anything

    def __contains__(self, value: object) -> bool:
        return self._anything or value in self._ids or value in self._broken

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._ids))

    def __or__(self, other: Iterable[str]) -> "Known":
        return Known(self._ids | set(other), self._broken, self._anything)


def confined_unit(kind: str, data: dict, path: tuple) -> tuple:
    """The part of a document a schema error at `path` is confined to."""
    if kind == "sop" or not path:
        return ()
    top = path[0]
    if isinstance(data.get(top), list) and len(path) >= 2 and isinstance(path[1], int):
        return (top, path[1])
    return (top,)


def without(data: dict, units: Iterable[tuple]) -> dict:
    """A copy of a document's data with the given parts removed (to check the rest)."""
    units = set(units)
    out = {}
    for key, value in data.items():
        if (key,) in units:
            continue
        if isinstance(value, list):
            value = [v for i, v in enumerate(value) if (key, i) not in units]
        out[key] = value
    return out


def broken_parts(units_by_file: dict[str, tuple[str, dict, set[tuple]]]) -> Broken:
    """`Broken` from each file's (kind, data, units left out)."""
    units: set[tuple[str, tuple]] = set()
    entries: dict[str, list[dict]] = {}
    whole: set[str] = set()
    for path, (kind, data, file_units) in units_by_file.items():
        for unit in file_units:
            units.add((path, unit))
            if unit == () and kind in ENTRY_LISTS:
                whole.add(kind)
            elif kind in ENTRY_LISTS and unit[:1] == (ENTRY_LISTS[kind][0],) and len(unit) == 2:
                raw = data[unit[0]][unit[1]]
                entries.setdefault(ENTRY_LISTS[kind][1], []).append(
                    raw if isinstance(raw, dict) else {})
    return Broken(frozenset(units), {k: tuple(v) for k, v in entries.items()},
                  frozenset(whole))
