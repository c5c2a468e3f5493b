"""The jieba user dictionary of the shop's terms, for Chinese search.

Material's search segments Chinese text with jieba when it builds the index; without the
shop's own words jieba splits names such as 满月礼 or 新客首单后 into pieces, and a
search for the name finds nothing. Every name of the plan (activities, segments, stages,
tiers, KPIs, calendar days, the shop) goes in, whole and as its runs of Chinese
characters (节日关怀·春节 -> 节日关怀·春节 is not one word for jieba, 节日关怀 and 春节
are). No frequency is given: jieba then picks one that keeps each term whole.
"""

from __future__ import annotations

import re

from crmspec.plan.model import Plan

CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{2,}")


def shop_terms(plan: Plan) -> list[str]:
    names = [plan.shop.name]
    names += [x.name for group in (plan.activities, plan.segments, plan.stages, plan.tiers,
                                   plan.kpis) for x in group]
    doc = plan.files.documents.get("calendar")
    names += [h["name"] for h in (doc.data.get("holidays", []) if doc else [])]
    terms: set[str] = set()
    for name in names:
        runs = CJK_RUN.findall(name)
        terms.update(runs)
        if runs and not re.search(r"\s", name):
            terms.add(name)
    return sorted(terms)


def user_dictionary(plan: Plan) -> str:
    """The dictionary file's text: one term a line."""
    return "".join(f"{t}\n" for t in shop_terms(plan))
