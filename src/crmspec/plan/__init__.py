"""The plan: the shop's YAML files read with their locations (`load`, `project`),
checked against the JSON Schemas defined here (`schemas`, `schema_check`), built into
typed objects (`model`, with `triggers` and the KPI vocabulary `kpis`), and checked
for what a schema cannot say (`checks`). `reference` renders the schemas as
docs/reference.md.

May import: `crmspec.data` (the canonical tables a plan is written against, and the
data settings it builds), `crmspec.safesql`, `crmspec.core`. Channels are passed in
by name or as objects, never imported: the plan does not know which plugins exist.
"""
