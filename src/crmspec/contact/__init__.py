"""From "who qualifies" to "who gets which message, and why not": the contact plan.

Input: the `candidates` table (one row per activity and qualifying customer, with the
channel's verdict in `status`: send, opted_out, no_address, invalid_address) and the
ledger's `history` of earlier runs. Output: the `decisions` table, the same rows with
the final `status` and the `grp` (treatment/control) and `cost` the ledger records.

The rules apply in this order; the first reason that applies is the one a row keeps (so
`crmspec explain` can say exactly why):

 1. channel verdict            opted_out, no_address, invalid_address
 2. do-not-contact list        do_not_contact   (suppressions table: all or one channel)
 3. open refund                open_refund      (marketing only; refund within N days)
 4. global hold-out            global_holdout   (marketing only)
 5. cooldown / once per window cooldown         (ledger: same activity within N days)
 6. per-channel limits         channel_limit    (rolling windows of calendar days)
 7. overall and stage limits   contact_limit, stage_limit
 8. activity budget            budget_activity  (trimmed in the declared order)
 9. monthly budget             budget_month     (marketing; month-to-date from the ledger)
10. control group              control          (hash of salt, activity and customer)
11. otherwise                  send

(`not_sent` marks the contacts of an activity whose channel cannot write a send file,
e.g. it has no template: they are listed for review, not contacted and not recorded.)

Service activities (`service: true`) skip steps 3, 4, 6, 7 and the trims of 8-9 (their
cost still counts towards the month). When limits force a choice, higher `priority`
wins, then the activity id in alphabetical order: ties are broken the same way on every
run. Limits count the earlier contacts of non-service activities, held-out ones included
(see `limits`), so that control groups stay comparable.

How it runs (at 1M customers a copy of every candidate row per step cost more than
the rules): steps 1-5 are a view (`verdicts`: the candidates joined with the activities'
rule values and the few customers each rule names); the windows of the limits (6-7) and
the budgets (8-9) run over narrow rows of the contacts still in (customer, activity
rank, channel or cost) and store only the contacts they leave out, with the reason
(`contact_cut`, `budget_cut`); one statement then writes `decisions`, every candidate
with the first reason that applies, else its control-group draw (10) or send (11).
Without a budget the plan is two statements over the candidates, with budgets three.

Modules: `rules` (the rules of a build, from the plan), `limits` (steps 1-7),
`budgets` (8-11), `holdout` (the control-group hash), `schedule` (send slots),
`ledger` (what earlier builds sent), `power` (whether a control group can show an
effect), `report` (costs and stage contact bounds).
May import: `crmspec.channels` (send windows), `crmspec.compile`, `crmspec.plan`,
`crmspec.core`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from crmspec.contact.budgets import apply_budgets
from crmspec.contact.limits import apply_limits

if TYPE_CHECKING:  # types only: `crmspec validate` imports contact.power, so this package,
    import duckdb  # and should not load DuckDB for it

    from crmspec.contact.rules import ContactRules


def decide(con: duckdb.DuckDBPyConnection, rules: ContactRules, as_of: date) -> None:
    """Create `decisions` from `candidates`, `features`, `history` and `suppressions`,
    costing every contact at its activity's expected unit cost."""
    apply_limits(con, rules, as_of)
    apply_budgets(con, rules, as_of)
