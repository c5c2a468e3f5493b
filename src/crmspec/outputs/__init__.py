"""A build's outputs, written atomically and deterministically.

Everything is written into a temporary sibling folder and swapped into place at the
end, so a build that crashes or is killed leaves the previous outputs untouched. Files
hold no timestamps or run ids and rows are ordered by customer id: the same plan, data
and as-of date give the same bytes.

Per activity the build writes:
- the channel's send file(s), by the channel's writer (`crmspec.channels`): e.g.
  `sms/<activity>.csv` (phone, content, scheduled_at, segments) for an SMS gateway,
  from the activity's rows with its messages rendered set-based (`crmspec.templates`);
  not written (warning W518) when the channel lacks what it needs, e.g. a template;
- `audience/<activity>.csv`: who is contacted and why (customer id, address, segment,
  stage, type, tier, purchases, spend, recency, RFM), for review and evaluation.

Modules: `render` (messages and their cost), `write` (an activity's files), `files`
(the atomic output folder, JSON).
May import: `crmspec.templates`, `crmspec.contact`, `crmspec.plugins`,
`crmspec.channels`, `crmspec.compile`, `crmspec.plan`, `crmspec.core`.
"""
