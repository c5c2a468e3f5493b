"""Semantic checks: what a schema cannot say about a plan.

References between files, lifecycle bands that overlap or leave gaps, tier thresholds,
and the domain's contact-plan rules (every stage has maintenance, the
maintenance/marketing ratio stays within the plan's bounds, no activity targets every
customer by accident), KPI parameters and targets, SOPs that agree with their
activity. Each check returns located diagnostics; none raises. One module per part of
the plan; `references` holds what they share.
"""

from __future__ import annotations

from typing import Iterable

from crmspec.core.diagnostics import Diagnostic
from crmspec.plan.checks.activities import check_activities, check_contact_rules
from crmspec.plan.checks.kpis import check_kpi_references, check_kpis
from crmspec.plan.checks.lifecycle import check_lifecycle, check_tiers
from crmspec.plan.checks.references import duplicate_ids, unknown_reference
from crmspec.plan.checks.segments import check_events_present, check_segments
from crmspec.plan.checks.shop import check_data_mapping, check_paths, check_shop
from crmspec.plan.checks.sops import check_sops
from crmspec.plan.model import Plan

__all__ = ["check_plan", "unknown_reference"]


def check_plan(plan: Plan, channels: Iterable[str]) -> list[Diagnostic]:
    """Every semantic check; `channels`: the names of the plugin manager's channels."""
    out: list[Diagnostic] = []
    out += duplicate_ids(plan.tiers, "tier")
    out += duplicate_ids(plan.stages, "stage")
    out += duplicate_ids(plan.segments, "segment")
    out += duplicate_ids(plan.activities, "activity")
    out += duplicate_ids(plan.kpis, "KPI")
    out += check_shop(plan)
    out += check_paths(plan)
    out += check_lifecycle(plan)
    out += check_tiers(plan)
    out += check_segments(plan)
    out += check_events_present(plan)
    out += check_activities(plan, channels)
    out += check_contact_rules(plan)
    out += check_kpi_references(plan)
    out += check_sops(plan)
    out += check_kpis(plan)
    out += check_data_mapping(plan)
    return out
