"""Plan review (`crmspec plan`): what a plan change does before it merges, the way
terraform and sqlmesh show theirs. The base revision's plan is read from git into a
temporary folder (`base`); the two plans are compared part by part (`changes`: what
changed, classified), both run read-only on the same data and ledger state (`effect`:
audiences, contacts, costs, who entered and left, who is capped out or freed), the
plan's review thresholds are checked (`thresholds`), `run` puts the frozen `Review`
together and `render` prints it as text, Markdown (pull-request comments, in parts
with a marker line) or JSON.

May import: `crmspec.build`, `crmspec.analysis` and everything below them; nothing
but `crmspec.cli` imports it.
"""

from crmspec.review.run import APPROVAL, CHANGES, ERROR, NO_CHANGE, Review, review_plan

__all__ = ["APPROVAL", "CHANGES", "ERROR", "NO_CHANGE", "Review", "review_plan"]
