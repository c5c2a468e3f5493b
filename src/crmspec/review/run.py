"""`crmspec plan`: the review of a plan change, put together: the base revision read from
git, both plans validated, what changed (`changes`), the effect on the shop's data
(`effect`), the thresholds (`thresholds`); the renderers (`crmspec.review.render`) print
the frozen `Review`.

Nothing is written into the project: the base plan goes to a temporary folder, the
ledger is attached read-only (or an empty stand-in when there is none), a demo shop not
generated yet is generated into the temporary folder, and the review's own files go
only where `--out` says.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pluggy

from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.plan.project import PLAN_DIR
from crmspec.plugins import get_plugin_manager
from crmspec.review.base import Revision, export_plans, head_label, resolve_base
from crmspec.review.changes import PlanChanges, compare
from crmspec.review.effect import Effect, measure
from crmspec.review.thresholds import Crossing, check_thresholds
from crmspec.validate import Validation, open_plan, read_manifest

NO_CHANGE, ERROR, CHANGES, APPROVAL = 0, 1, 2, 3  # exit codes (terraform's, plus 3)


@dataclass(frozen=True)
class Review:
    shop: str
    currency: str
    base: Revision
    head: str  # the working tree, as labelled
    changes: PlanChanges
    effect: Effect | None  # None: the structural part alone
    structural: str | None  # why there is no effect (the data is not there)
    manifest: dict | None  # structural: the latest build's counts (--manifest)
    manifest_path: str | None
    crossings: tuple[Crossing, ...]
    unjudged: tuple[str, ...]
    limits: tuple[str, ...] = ()  # the working tree's contact limits: overall, channels, stage
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        if self.crossings:
            return APPROVAL
        return CHANGES if self.changes.any else NO_CHANGE


def review_plan(root: Path, base: str | None = None, as_of: date | None = None,
                manifest: Path | None = None, pm: pluggy.PluginManager | None = None,
                days: int | None = None) -> Review:
    """Compare the plan at `base` (default: the merge base with the default branch) with
    the working tree's; raises PlanError on any problem (a plan that is not valid, a base
    that cannot be read, data that cannot be read)."""
    pm = pm if pm is not None else get_plugin_manager(root)
    revision = resolve_base(root, base)
    head_name = head_label(root)
    head = open_plan(root, pm)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="crmspec-review-") as tmp:
        base_root = Path(tmp) / "base"
        export_plans(root, revision, base_root)
        base_v = _open_base(base_root, pm, revision)
        changes = compare(base_v.plan, base_v.templates, head.plan, head.templates)
        effect, structural, counts, shown = None, None, None, None
        try:
            if changes.any:  # the same plans have the same effect: nothing to run
                effect = measure(root, base_v, head, as_of, pm, Path(tmp), days)
        except PlanError as exc:
            if not exc.diagnostics or any(d.code != "E401" for d in exc.diagnostics):
                raise
            structural = "; ".join(d.message for d in exc.diagnostics)
        if manifest is not None and changes.any:
            if effect is None:
                shown, counts = read_manifest(root, manifest)
            else:
                notes.append(f"--manifest {manifest} not read: the shop's data is here")
    crossings, unjudged = check_thresholds(base_v.plan, head.plan, changes, effect)
    contact = head.plan.shop.contact
    limits = ((("overall",) if contact.overall else ())
              + tuple(ch for ch, ws in sorted(contact.per_channel.items()) if ws)
              + (("stage",) if any(s.contacts_max is not None for s in head.plan.stages)
                 else ()))
    return Review(head.plan.shop.name, head.plan.shop.currency, revision, head_name, changes,
                  effect, structural, counts, shown, tuple(crossings), tuple(unjudged),
                  limits, tuple(notes) + (effect.notes if effect else ()))


def _open_base(base_root: Path, pm: pluggy.PluginManager, revision: Revision) -> Validation:
    """The base plan, valid, or PlanError with its problems shown at the base revision
    (`plans/x.yaml@3f2a1bc`)."""
    try:
        return open_plan(base_root, pm)
    except PlanError as exc:
        shown = [replace(d, path=f"{d.path}@{revision.short}") for d in exc.diagnostics
                 if d.severity == "error"]
        raise PlanError([Diagnostic(
            PLAN_DIR, 1, 1, "E802",
            f"the plan at {revision.label} is not valid: the review needs both plans",
            "fix it on that branch, or pass --base REV with a valid plan")] + shown) from None
