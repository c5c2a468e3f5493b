"""The shop's data: the canonical tables (`tables`) a plan is written against, where a
shop's own files are and how they are written (`settings`), text files read as shops
have them (`delimited`), their columns mapped onto the canonical ones (`mapping`),
attaching them to DuckDB as those tables (`sources`; which of them a shop has, without
DuckDB: `present`), the checking pass that counts and leaves out what would poison a
build (`cleaning`), the do-not-contact list (`suppressions`), the demo shop (`demo`) and
the importers of a shop's exports (`importers`).

May import: `crmspec.core` and `crmspec.safesql`. Knows nothing of plans: the plan
package builds a `settings.DataSource` from shop.yaml and hands it in.
"""
