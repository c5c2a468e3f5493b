"""The plan language, defined once: builds the JSON Schema of every plan file kind.

The committed `schemas/*.schema.json` files (also shipped in the package) are the output
of `build_schemas()` with the built-in channels; `crmspec schemas` regenerates them and a
test fails when they drift. Writing the schemas as Python lets shared pieces (ids, day windows, the
condition language) be defined once, and lets channel plugins merge their option
schemas in later.

Every object is closed (`additionalProperties: false`) so that a misspelt key is an
error, and every property has a description: editors show it on hover, and the docs
test checks that each property is documented.

One module per file kind (`shop`, `segmentation`, `activities`, `kpis`, `sop`,
`calendar`), built from the shared pieces of `common` and the condition language of
`conditions`.
"""

from __future__ import annotations

import json

from crmspec.plan.schemas.activities import activities_schema
from crmspec.plan.schemas.calendar import calendar_schema
from crmspec.plan.schemas.common import BASE_URL, DRAFT
from crmspec.plan.schemas.kpis import kpis_schema
from crmspec.plan.schemas.segmentation import lifecycle_schema, segments_schema, tiers_schema
from crmspec.plan.schemas.shop import shop_schema
from crmspec.plan.schemas.sop import sop_schema

CHANNEL_KINDS = ("shop", "activities")  # kinds whose schema depends on the channels


KINDS = {
    "shop": shop_schema,
    "tiers": tiers_schema,
    "lifecycle": lifecycle_schema,
    "segments": segments_schema,
    "activities": activities_schema,
    "kpis": kpis_schema,
    "sop": sop_schema,
    "calendar": calendar_schema,
}


def build_schemas(channels: dict) -> dict[str, dict]:
    """Every file kind's complete JSON Schema, keyed by kind.

    `channels` (name -> `crmspec.channels.Channel`) are those of a plugin manager; the
    built-in ones give the committed schemas (`crmspec.channels.builtin_schemas`).
    """
    out = {}
    for kind, make in KINDS.items():
        body = make(channels) if kind in CHANNEL_KINDS else make()
        schema = {"$schema": DRAFT, "$id": f"{BASE_URL}{kind}.schema.json"}
        schema.update(body)
        out[kind] = schema
    return out


def dumps(schema: dict) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
