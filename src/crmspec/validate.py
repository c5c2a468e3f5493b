"""`crmspec validate`: every problem of a plan in one run, with the channels, the
message templates and the plugins' checks; the plan a build may run (`open_plan`).

Phases: read every file (load problems), check each against its schema, build the
typed plan without the parts whose schema check failed (`crmspec.plan.parts`: an
activity, a segment, a section of shop.yaml...) and run the semantic checks and the
message templates' checks (syntax, undefined variables, length for the longest
plausible values) on the rest, so that one run reports every problem: an unknown key in
one activity does not hide an overlap of lifecycle stages. A file that cannot be used
at all is left out whole; only a shop.yaml that cannot be used stops the semantic
checks. The channels' own checks and the plugins' `validate_plan` hooks run on a whole
plan only: they were written for plans that passed the schema check.

The schema of `shop.yaml` and `activities.yaml` is built with the plugin manager's
channels, so the options of a plugin's channel are checked like the built-in ones.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pluggy

from crmspec.channels import Channel
from crmspec.contact.power import power_warnings
from crmspec.core.diagnostics import Diagnostic, PlanError, has_errors, render
from crmspec.plan.checks import check_plan
from crmspec.plan.model import Plan, build_plan, channel_options
from crmspec.plan.parts import broken_parts
from crmspec.plan.project import PLAN_DIR, read_project
from crmspec.plan.schema_check import check_parts
from crmspec.plan.schemas import CHANNEL_KINDS, build_schemas
from crmspec.plugins import collect_channels, collect_validation, get_plugin_manager
from crmspec.templates.checking import check_templates
from crmspec.templates.environment import make_environment
from crmspec.templates.loading import ActivityTemplates, load_templates


@dataclass
class Validation:
    diagnostics: list[Diagnostic]
    # None when the plan could not be built; with errors, the plan without its broken
    # parts (`plan.broken`), as the checks saw it
    plan: Plan | None
    channels: dict[str, Channel] = field(default_factory=dict)
    templates: dict[str, ActivityTemplates] = field(default_factory=dict)
    power: PowerBasis | None = None  # validate_with_history: what W602 counted

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def validate_project(root: Path, pm: pluggy.PluginManager | None = None) -> Validation:
    """Validate the project at `root` with the channels and hooks of `pm` (default: a new
    plugin manager for the project). Raises PluginError when a plugin fails."""
    pm = pm if pm is not None else get_plugin_manager(root)
    channels = collect_channels(pm)
    schemas = build_schemas(channels)
    files = read_project(root)
    diags = list(files.diagnostics)
    parts = {path: (kind, {}, {()}) for path, kind in files.unreadable.items()}
    for kind, doc in files.all_documents():
        found, units = check_parts(doc, kind, schemas[kind] if kind in CHANNEL_KINDS else None)
        diags += found
        if units:
            parts[doc.path] = (kind, doc.data, units)
    # A required file that is missing (E109) or cannot be used is left out whole like an
    # optional one: everything but shop.yaml can be checked without it.
    for kind in files.missing:
        parts[f"{PLAN_DIR}/{kind}.yaml"] = (kind, {}, {()})
    broken = broken_parts(parts)
    shop = files.documents.get("shop")
    plan = None
    templates: dict[str, ActivityTemplates] = {}
    if shop is not None and not broken.has(shop.path):
        plan = build_plan(files, broken)
        diags += check_plan(plan, channels)
        if not broken:
            for a in plan.activities:
                ch = channels.get(a.channel)
                if ch is not None:
                    diags += ch.check(a, channel_options(plan, a, ch.option_defaults()), plan)
        env = make_environment(root, channels, pm, plan)
        try:
            templates, found = load_templates(root, plan, channels, env)
        except PlanError as exc:  # a template file that is not UTF-8
            found = list(exc.diagnostics)
        diags += found + check_templates(plan, templates)
        if not broken:
            diags += collect_validation(pm, plan)
    return Validation(sorted(set(diags)), plan, channels, templates)


@dataclass(frozen=True)
class PowerBasis:
    """What the power check of `crmspec validate` (W602) counted, said on its output:
    the audiences of the ledger's latest run, of a build's manifest (`--manifest`), or
    nothing (`source` None: not run, and `note` says why)."""

    source: str | None  # ledger | manifest
    path: str  # as shown (relative to the project when inside it)
    as_of: str | None
    note: str


def validate_with_history(root: Path, pm: pluggy.PluginManager | None = None,
                          manifest: Path | None = None) -> Validation:
    """`crmspec validate`: validate_project, plus the control-group power check against
    the audience sizes of a stated build: `manifest` (a build's manifest.json) when
    given, else the latest run in the ledger. A plan whose hold-outs are too small to
    show its minimum effect is a planning problem; whatever out/ holds is not read, so
    a fresh clone and CI say the same as the machine that built."""
    result = validate_project(root, pm)
    held_out = result.plan is not None and any(a.holdout > 0 for a in result.plan.activities)
    if result.ok and (held_out or manifest is not None):  # the check applies
        result.power, sizes = power_basis(root, result.plan, manifest)
        result.diagnostics = sorted(set(result.diagnostics)
                                    | set(power_warnings(result.plan, sizes)))
    return result


def _shown(root: Path, path: Path) -> str:
    path = path.resolve()
    return path.relative_to(root.resolve()).as_posix() if path.is_relative_to(
        root.resolve()) else str(path)


def power_basis(root: Path, plan: Plan, manifest: Path | None
                ) -> tuple[PowerBasis, dict[str, int]]:
    """The audiences the power check counts, and what they are. Raises PlanError (E606)
    when a `manifest` given cannot be read."""
    if manifest is not None:
        shown, data = read_manifest(root, manifest)
        sizes = {a["id"]: a["sent"] + a["control"] for a in data["activities"]}
        return PowerBasis("manifest", shown, data["as_of"], "power check (W602): the "
                          f"audiences of the build in {shown}, as of {data['as_of']}"), sizes
    ledger = root / plan.shop.ledger_path
    shown = _shown(root, ledger)
    found = None
    if ledger.is_file():
        # DuckDB (0.05 s to import) only when there is a ledger to open: a fresh clone
        # and CI validate without it
        import duckdb

        from crmspec.contact.ledger import latest_audiences

        try:
            found = latest_audiences(ledger)
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            return PowerBasis(None, shown, None, f"power check (W602) not run: the ledger "
                              f"{shown} cannot be read ({reason})"), {}
    if found is None:
        return PowerBasis(None, shown, None, f"power check (W602) not run: no run in the "
                          f"ledger ({shown}); pass --manifest FILE to check the hold-outs "
                          "against a build's audiences"), {}
    day, sizes = found
    return PowerBasis("ledger", shown, day.isoformat(), "power check (W602): the audiences "
                      f"of the ledger's latest run, as of {day.isoformat()} ({shown})"), sizes


def read_manifest(root: Path, path: Path) -> tuple[str, dict]:
    """A build's manifest.json as given on the command line (`--manifest`): the path as
    shown, and the data with every activity's `eligible`, `sent`, `control` counts and
    cost (0 when it wrote no file) checked. Raises PlanError (E606)."""
    shown = _shown(root, path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["as_of"] = str(data["as_of"])
        data["activities"] = [
            {**a, "id": str(a["id"]), "eligible": int(a.get("eligible", 0)),
             "sent": int(a["sent"]), "control": int(a.get("control", 0)),
             "cost": float((a.get("cost") or {}).get("total", 0))}
            for a in data["activities"]]
    except OSError as exc:
        raise PlanError([Diagnostic(shown, 1, 1, "E606", f"cannot read the manifest: "
                                    f"{exc.strerror or exc}",
                                    "pass the manifest.json a build wrote")]) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise PlanError([Diagnostic(shown, 1, 1, "E606", "not a crmspec build manifest "
                                    "(no activities with sent and control counts, or "
                                    "no as_of)", "pass the manifest.json a build wrote")]
                        ) from None
    return shown, data


def report(result: Validation, fmt: str) -> str:
    """validate's output in `fmt` (text, json, github): the diagnostics, and what the
    power check counted when it applied (a valid plan)."""
    out = render(result.diagnostics, fmt)
    basis = result.power
    if basis is None:
        return out
    if fmt == "json":
        data = json.loads(out)
        data["power_check"] = asdict(basis)
        return json.dumps(data, ensure_ascii=False, indent=2)
    if fmt == "github":
        note = basis.note.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return (out + "\n" if out else "") + f"::notice title=crmspec validate::{note}"
    return out + "\n" + basis.note


def open_plan(root: Path, pm: pluggy.PluginManager | None = None) -> Validation:
    """A valid plan with its channels, templates and warnings, or PlanError."""
    validation = validate_project(root, pm)
    if not validation.ok or validation.plan is None:
        raise PlanError(validation.diagnostics)
    return validation
