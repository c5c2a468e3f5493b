"""Checks for `crmspec validate`: a syntax error, an undefined variable or field
(found statically in every branch, and by rendering sample customers), a template
assigning a variable's name, a message longer than the channel allows for the longest
plausible values."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from itertools import product
from types import SimpleNamespace
from typing import Any, Iterable

from crmspec.channels import Channel
from crmspec.channels.base import value_marker
from crmspec.core.diagnostics import Diagnostic
from crmspec.core.mask import mask_text
from crmspec.plan.model import Activity, Plan
from crmspec.templates.analysis import Ref
from crmspec.templates.loading import ActivityTemplates, LoadedPart, located_error
from crmspec.templates.variables import CUSTOMER_FIELDS, PER_CUSTOMER, SCALARS


def _tier_obj(plan: Plan, tier_id: str | None) -> SimpleNamespace:
    t = next((t for t in plan.tiers if t.id == tier_id), None)
    if t is None:
        return SimpleNamespace(id=None, name=None, discount=None)
    return SimpleNamespace(id=t.id, name=t.name, discount=t.discount)


def _next_tier_obj(plan: Plan, tier_id: str | None) -> SimpleNamespace:
    ranks = [t.id for t in plan.tiers]
    i = ranks.index(tier_id) + 1 if tier_id in ranks else 0
    if i >= len(plan.tiers):
        return SimpleNamespace(id=None, name=None, discount=None, min_spend=None)
    t = plan.tiers[i]
    spend = int(t.min_spend) if float(t.min_spend).is_integer() else t.min_spend
    return SimpleNamespace(id=t.id, name=t.name, discount=t.discount, min_spend=spend)


def _stage_obj(plan: Plan, stage_id: str | None) -> SimpleNamespace:
    s = next((s for s in plan.stages if s.id == stage_id), None)
    return SimpleNamespace(id=stage_id, name=s.name if s else None)


def _constants(plan: Plan, activity: Activity, as_of: date | None) -> dict[str, Any]:
    coupon = activity.coupon or {}
    return {
        "shop": SimpleNamespace(name=plan.shop.name, currency=plan.shop.currency),
        "activity": SimpleNamespace(id=activity.id, name=activity.name),
        "coupon": SimpleNamespace(**coupon),
        "as_of": as_of or date(2026, 12, 31),
    }


def template_context(values: dict[str, Any], plan: Plan, activity: Activity, as_of: date | None,
                     channel: Channel | None = None) -> dict[str, Any]:
    """A template context from per-customer values by path (customer.name, spend, stage,
    tier: stage and tier as ids), with the channel's recipient values as placeholders."""
    ctx = _constants(plan, activity, as_of)
    if channel is not None:
        ctx.update({name: value_marker(name) for name in channel.recipient_values})
    ctx["customer"] = SimpleNamespace(**{f: values.get(f"customer.{f}")
                                         for f in CUSTOMER_FIELDS})
    for p in SCALARS:
        if p in PER_CUSTOMER:
            ctx[p] = values.get(p)
    ctx["stage"] = _stage_obj(plan, values.get("stage"))
    tier = values.get("tier") if "tier" in values else values.get("next_tier")
    ctx["tier"] = _tier_obj(plan, tier)
    ctx["next_tier"] = _next_tier_obj(plan, tier)
    return ctx


def sample_values(plan: Plan) -> Iterable[tuple[str, dict[str, Any]]]:
    """Plausible customers with the longest values, one per stage x type x tier, each
    with all optional customer fields filled and all empty."""
    long_ = {p: v.longest for p, v in PER_CUSTOMER.items()}
    for stage in plan.stages:
        if stage.never_purchased:
            combos = [("potential", None)]
        else:
            combos = list(product(("new", "returning", "fans"),
                                  [None] + [t.id for t in plan.tiers]))
        for (ctype, tier), filled in product(combos, (True, False)):
            values = dict(long_)
            values.update({"stage": stage.id, "tier": tier, "customer_type": ctype})
            if stage.never_purchased:
                values.update({"purchases": 0, "spend": Decimal("0.00"),
                               "days_since_last_purchase": None, "r": None, "f": None,
                               "m": None})
            if not filled:
                for p, v in PER_CUSTOMER.items():
                    if v.nullable and p.startswith("customer."):
                        values[p] = None
            desc = (f"stage={stage.id}, customer_type={ctype}, tier={tier or 'none'}"
                    + ("" if filled else ", customer fields empty"))
            yield desc, values


def check_templates(plan: Plan, loaded: dict[str, ActivityTemplates]) -> list[Diagnostic]:
    """validate's checks of every activity's templates (after load_templates)."""
    out: set[Diagnostic] = set()
    samples = list(sample_values(plan))

    @functools.cache
    def distinct(read: tuple[str, ...]) -> list[tuple[str, dict]]:
        """The samples that differ in the values `read` (the first of each kind, in
        order): the others render the same text (one render per stage x type x tier x
        fill was 15k renders per validate). Once per set of values read, not per part:
        the example plan's 81 parts read 16 sets of its 182 samples."""
        seen: set[tuple] = set()
        out = []
        for desc, values in samples:
            key = tuple(repr(values.get(k)) for k in read)
            if key not in seen:
                seen.add(key)
                out.append((desc, values))
        return out
    # shop.yaml `channels` left out (schema errors): the options that shape a message's
    # length (signature, opt-out text) are not known, so lengths are not judged.
    lengths = not plan.broken.has(plan.shop.src.doc.path, "channels")
    for at in loaded.values():
        a = at.activity
        out.update(_channel_problems(at))
        for lp in at.parts.values():
            for line, code, message, hint, needle in lp.usage.problems:
                out.add(lp.source.diag(line, code, message, hint, needle))
            if any(p[1] == "E513" or p[1] == "E517" for p in lp.usage.problems):
                continue
            for r in lp.usage.refs:
                obj, _, attr = r.path.partition(".")
                if obj == "coupon" and (a.coupon is None or (attr and attr not in a.coupon)):
                    what = "no coupon" if a.coupon is None else \
                        "a coupon without " + attr
                    out.add(lp.source.diag(
                        r.line, "E513", f"'{r.path}' is undefined: activity '{a.id}' has "
                        f"{what}", "set it in the activity's coupon:", needle=r.path))
            if any(d.path == lp.source.path and d.code == "E513" for d in out):
                continue
            if lengths:
                out.update(_check_lengths(plan, at, lp, distinct))
    return sorted(out)


def _channel_problems(at: ActivityTemplates) -> list[Diagnostic]:
    """E521: what the channel requires of the activity's templates (an unsubscribe link),
    at the part's template, or at the activity's `channel:` for what is not a part's."""
    used = {name: lp.usage.recipient_values for name, lp in at.parts.items()}
    out = []
    for part, message, hint in at.channel.template_problems(at.activity, at.options, used):
        lp = at.parts.get(part)
        if lp is not None:
            out.append(lp.source.diag(1, "E521", message, hint))
        else:
            out.append(at.activity.src.at("channel").diag("E521", message, hint))
    return out


def _check_lengths(plan: Plan, at: ActivityTemplates, lp: LoadedPart,
                   distinct: Callable[[tuple[str, ...]], list[tuple[str, dict]]]
                   ) -> list[Diagnostic]:
    a, ch = at.activity, at.channel
    limit = ch.limit(lp.part, at.options)
    overhead = ch.length_overhead(lp.part.name, at.options, a)
    filled = {value_marker(n): ch.recipient_value_sample(n, at.options, plan)
              for n in ch.recipient_values}
    longest, longest_desc = -1, ""
    for desc, values in distinct(tuple(_sample_keys(lp.usage.refs))):
        try:
            text = lp.template.render(template_context(values, plan, a, None, ch))
        except Exception as exc:  # noqa: BLE001 - any render failure is the template's
            line, msg = located_error(exc, lp.source, template_name(lp))
            return [lp.source.diag(line, "E515", f"the template fails to render for "
                                   f"activity '{a.id}' ({desc}): {mask_text(msg)}")]
        text = ch.finish(lp.part.name, text, a, at.options, plan)
        for marker, sample in filled.items():
            text = text.replace(marker, sample)
        n = len(text) + overhead
        if n > longest:
            longest, longest_desc = n, desc
    if limit is not None and longest > limit:
        note = ch.limit_note(lp.part, at.options)
        return [lp.source.diag(
            1, "E514", f"the {ch.name} {lp.part.name} of activity '{a.id}' can be {longest} "
            f"characters long, over the limit of {limit}" + (f" ({note})" if note else ""),
            f"longest plausible values, {longest_desc}; see docs/plugins.md for them")]
    return []


def _sample_keys(refs: list[Ref]) -> list[str]:
    """The sample values (sample_values keys) a template with these refs can read."""
    keys = set()
    for r in refs:
        top = r.path.split(".", 1)[0]
        if top == "customer":
            keys.update(p for p in PER_CUSTOMER if p.startswith("customer."))
        elif top in ("tier", "next_tier"):
            keys.add("tier")
        else:
            keys.add(top)
    return sorted(keys)


def template_name(lp: LoadedPart) -> str | None:
    return getattr(lp.template, "name", None)
