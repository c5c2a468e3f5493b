"""Compile a plan to SQL: facts per customer, segment conditions, activity audiences.

Everything from YAML reaches SQL as a sqlglot expression tree: ids and values become
quoted literals, column names are checked against the canonical tables before they
become quoted identifiers, and `sql:` escape hatches arrive as already-checked ASTs
(`crmspec.safesql`). The result is plain text per statement, so the same plan can be
printed (`crmspec compile`), run on DuckDB, or transpiled for another engine.

Conventions (documented in docs/plan.md):
- A purchase is an order whose status is in shop.yaml `purchase.statuses` (default
  paid), dated by `paid_at` in the shop's timezone, on or before the as-of date.
- days_since_last_purchase = as-of date - date of the last purchase (bought on the
  as-of date: 0). A stage band [from_days, to_days) holds from_days <= d < to_days.
- Customer type: potential 0 purchases, new 1, returning 2+ (with fans: returning with
  at least `fans_min_purchases`). `customer_type: returning` includes fans.
- Tier: the highest tier whose min_spend (and min_purchases) the customer meets, spend
  being summed over the tier evaluation window (all time by default).
- RFM: among customers with a purchase, score = ceil(5 x cume_dist) ordered so that 5
  is best (most recent, most purchases, most spend); ties always share a score.
- Intent: an event of a listed type on the as-of date or the N-1 days before, and (by
  default) no purchase after the latest such event.

Modules: `sql` (sqlglot building blocks), `facts` (the per-customer `features`),
`segments` (conditions), `triggers` (today's triggers), `audiences` (each activity's
candidates with the channel's verdict), `plan` (`compile_plan`, `CompiledPlan`).
May import: `crmspec.plan`, `crmspec.data`, `crmspec.safesql`, `crmspec.core`.
Channels are passed in (their attributes are read, their module never imported).
"""

from crmspec.compile.audiences import ROW_ATTRIBUTES, CompiledActivity
from crmspec.compile.plan import CompiledPlan, compile_plan
from crmspec.compile.sql import DIALECT

__all__ = ["DIALECT", "ROW_ATTRIBUTES", "CompiledActivity", "CompiledPlan", "compile_plan"]
