-- A hand-written DuckDB reference for `crmspec build` of the example plan, first build on
-- an empty ledger: the same facts, segments and final per-activity send lists (after the
-- contact plan), in four statements and one COPY per activity. benchmarks/bench_build.py
-- fills in the slots (below), runs the result in a fresh process next to `crmspec build`
-- and compares every audience/<activity>.csv of the build with this script's, byte for
-- byte.
--
--   $${customers} $${orders} $${events}  the demo shop's Parquet files, read as they are
--   $${as_of}                          the build's as-of date (the day after the last order)
--   $${stage_case} $${tier_case} $${tier_rank_case}  the plan's stage bands and tier rules
--   $${tier_window} $${review_date} $${kept}  the tier evaluation window (days), the next
--                                     and the last review date: spend counts the window, a
--                                     tier reached is kept until the next review; on an
--                                     empty ledger there is no previous tier (nobody
--                                     upgrades), the downgrade warnings compare with the
--                                     review date's
--   $${fans_min}                       purchases that make a returning customer a fan
--   $${order_columns} $${order_filter}  per-customer flags of the order-event triggers
--                                     (bool_or, one per event and window), the unpaid-order
--                                     intent and the open refund (a refunded order within
--                                     contact.refund_days), over the orders they concern
--   $${event_columns} $${event_window}  per-customer latest event of each intent
--   $${flag_columns}                   those flags and intents, joined onto the customers
--   $${global_holdout}                 the customer is in the global hold-out: md5 bucket of
--                                     contact.salt + ':global' and the customer id below
--                                     contact.global_holdout
--   $${counts}                         one count per segment (the manifest's figures)
--   $${audiences}                      one SELECT per activity: its segment and trigger
--                                     conditions, the channel's opt-out/address test and,
--                                     for marketing that is not a service, no open refund
--                                     and not in the global hold-out; a narrow row (activity
--                                     number, customer, stage, cost, trim key) per contact
--   $${rules}                          per activity: its number (priority order: priority
--                                     descending, then id), id, channel, segment, whether
--                                     limits count it (not a service), whether the monthly
--                                     budget may trim it (marketing, not a service),
--                                     hold-out, budget cap, channel limit, first send slot
--   $${stage_limits} $${overall_limit}  contacts allowed per customer: the overall limit,
--                                     lower in stages with a lower contacts.max
--   $${monthly_cap} $${salt}           the monthly budget and the control-group salt
--   $${address_case}                   the address column of each channel, masked as the
--                                     audience lists show it (crmspec.core.mask)
--   $${copies}                         one COPY per activity, ordered by customer id
--
-- The contact plan is crmspec's (crmspec.contact) for a first build: the ledger is empty,
-- so no limit or budget counts earlier contacts and no cooldown applies. A contact leaves
-- at the first rule that excludes it and takes no part in later ones (crmspec keeps it
-- with its reason but leaves it out of every later window), so each step below simply
-- drops it. When a limit forces a choice, the higher priority wins, then the lower
-- activity id: the activity number `a`.
--   1. channel verdict: opted out, no or invalid address             in the audiences
--   2. do-not-contact list: left out. The demo shop has no suppressions file, so crmspec's
--      list is empty (bench_build.py stops if the shop gets one)
--   3. open refund, 4. global hold-out: marketing that is not a service  in the audiences
--   5. cooldown: nothing to do on an empty ledger. (not_sent, for activities whose channel
--      cannot write a send file: none in the example plan; bench_build.py stops if one
--      appears)
--   6. channel limits: per customer and channel, the first N contacts not of a service
--   7. overall and stage limits: per customer, the first N of those left, N the lower of
--      the overall limit and the stage's contacts.max
--   8. activity budgets: per capped activity, its contacts in the declared order
--      (keep_first; ties: customer id) while their running cost stays within the cap
--   9. monthly budget: service and maintenance contacts spend it first, then marketing in
--      activity number and declared order while the running cost stays within the cap (a
--      contact that costs nothing stays). One running total over the marketing rows plus
--      the others' total: crmspec's single running total, but for rounding far below its
--      1e-9 tolerance
--  10. control group: md5 bucket of salt, activity and customer below the hold-out
-- A contact costs its channel's units x unit price + coupon amount x expected redemption,
-- the units being 1 except for SMS, whose units are the segments of the rendered text (one
-- up to 70 characters, else one per 67). In this plan that text's length depends only on
-- the customer's name and tier: bench_build.py renders each SMS template per tier with and
-- without a name (signature and opt-out text added as the channel does) and the SQL adds
-- the name's length; it stops if a template uses anything else.
--
-- Left out on purpose (crmspec does them, the reference does not): cleaning and checking
-- the data, the data fingerprint, rendering the messages (only SMS lengths are needed),
-- channel files, the manifest and the ledger.

-- 1. One row per customer: facts, intents, trigger flags, open refund, global hold-out.
CREATE TEMP TABLE features AS
WITH days AS (  -- purchases: paid orders, several on one day being one purchase
  SELECT customer_id, paid_at::DATE AS day, sum(amount) AS amount, max(paid_at) AS paid_at
  FROM read_parquet('${orders}')
  WHERE status = 'paid' AND paid_at::DATE <= DATE '${as_of}'
  GROUP BY customer_id, day
), p AS (
  SELECT customer_id, count(*) AS purchases,
    coalesce(sum(amount) FILTER (WHERE day > DATE '${as_of}' - ${tier_window}), 0) AS spend,
    sum(amount) AS total_spend,
    sum(amount) FILTER (WHERE day > ${review_window_start}) AS review_spend,
    count(*) FILTER (WHERE day <= ${kept}) AS kept_purchases,
    sum(amount) FILTER (WHERE day <= ${kept} AND day > ${kept} - ${tier_window}) AS kept_spend,
    min(day) AS first_purchase_date, max(day) AS last_purchase_date,
    max(paid_at) AS last_purchase_at
  FROM days GROUP BY customer_id
), rfm AS (  -- scores among the buyers (the rows of p), 5 best
  SELECT customer_id,
    ceil(5 * cume_dist() OVER (ORDER BY last_purchase_date))::INTEGER AS r,
    ceil(5 * cume_dist() OVER (ORDER BY purchases))::INTEGER AS f,
    ceil(5 * cume_dist() OVER (ORDER BY total_spend))::INTEGER AS m  -- all purchases
  FROM p
), o AS (  -- the few orders that fire a trigger today or are recent unpaid ones
  SELECT customer_id${order_columns}
  FROM read_parquet('${orders}')
  WHERE ${order_filter}
  GROUP BY customer_id
), e AS (
  SELECT customer_id${event_columns}
  FROM read_parquet('${events}')
  WHERE event_at::DATE <= DATE '${as_of}' AND event_at::DATE > DATE '${as_of}' - ${event_window}
  GROUP BY customer_id
), base AS (
  SELECT c.*,
    coalesce(p.purchases, 0)::INTEGER AS purchases,
    coalesce(p.spend, 0)::DECIMAL(14, 2) AS spend,
    p.first_purchase_date, p.last_purchase_date, p.last_purchase_at,
    (DATE '${as_of}' - p.last_purchase_date)::INTEGER AS days_since_last_purchase,
    coalesce(p.review_spend, 0) AS review_spend,
    coalesce(p.kept_purchases, 0) AS kept_purchases,
    coalesce(p.kept_spend, 0) AS kept_spend, rfm.r, rfm.f, rfm.m${flag_columns}
  FROM read_parquet('${customers}') AS c
  LEFT JOIN p USING (customer_id) LEFT JOIN rfm USING (customer_id)
  LEFT JOIN o USING (customer_id)
  LEFT JOIN e USING (customer_id)
), ranked AS (
  SELECT *, ${tier_rank_case} AS tier_rank,
    NULL::INTEGER AS previous_tier_rank
  FROM base
)
SELECT * EXCLUDE (review_spend, kept_purchases, kept_spend),
  ${stage_case} AS stage,
  CASE WHEN purchases = 0 THEN 'potential' WHEN purchases = 1 THEN 'new'
       WHEN purchases >= ${fans_min} THEN 'fans' ELSE 'returning' END AS customer_type,
  ${tier_case} AS tier,
  ${review_date} AS review_date,
  ${review_tier_rank_case} AS review_tier_rank,
  ${global_holdout} AS global_holdout
FROM ranked;

-- 2. Customers per stage, type and tier, and per segment.
SELECT histogram(coalesce(stage, 'none')) AS stages,
       histogram(customer_type) AS customer_types,
       histogram(coalesce(tier, 'none')) AS tiers${counts}
FROM features;

-- 3. Every activity's audience in one statement (steps 1, 3 and 4 of the contact plan).
CREATE TEMP TABLE candidates AS
${audiences};

-- 4. The contact plan (steps 6-10) and the send lists' columns.
CREATE TEMP TABLE sends AS
WITH rules (a, activity_id, channel, segment, counted, trimmable, holdout, budget_cap,
            channel_max, scheduled_at) AS (
  VALUES ${rules}
), stage_limits (stage, contacts_max) AS (
  VALUES ${stage_limits}
), c AS (
  SELECT c.*, r.channel, r.counted, r.trimmable, r.budget_cap, r.channel_max,
    coalesce(s.contacts_max, ${overall_limit}) AS contacts_max
  FROM candidates c JOIN rules r USING (a) LEFT JOIN stage_limits s USING (stage)
), channel_limited AS (  -- 6.
  SELECT * FROM c
  QUALIFY NOT counted OR channel_max IS NULL
    OR row_number() OVER (PARTITION BY counted, customer_id, channel ORDER BY a) <= channel_max
), limited AS (  -- 7.
  SELECT * FROM channel_limited
  QUALIFY NOT counted
    OR row_number() OVER (PARTITION BY counted, customer_id ORDER BY a) <= contacts_max
), budgeted AS (  -- 8.
  SELECT * FROM limited
  QUALIFY NOT counted OR budget_cap IS NULL
    OR sum(cost) OVER (PARTITION BY a ORDER BY trim_key NULLS LAST, customer_id
                       ROWS UNBOUNDED PRECEDING) <= budget_cap + 1e-9
), kept AS (  -- 9.
  SELECT * FROM budgeted
  QUALIFY NOT trimmable OR cost <= 0
    OR coalesce(sum(cost) FILTER (WHERE NOT trimmable) OVER (), 0)
       + sum(cost) OVER (PARTITION BY trimmable ORDER BY a, trim_key NULLS LAST, customer_id
                         ROWS UNBOUNDED PRECEDING) <= ${monthly_cap} + 1e-9
)
SELECT k.customer_id, r.activity_id, r.channel, ${address_case} AS address, r.segment,
  f.stage, f.customer_type, f.tier, f.purchases, f.spend, f.days_since_last_purchase,
  f.r, f.f, f.m, r.scheduled_at
FROM kept k JOIN rules r USING (a) JOIN features f USING (customer_id)
WHERE NOT (r.holdout > 0  -- 10.
           AND ('0x' || substr(md5(${salt} || ':' || r.activity_id || ':' || k.customer_id),
                               1, 8))::BIGINT / 4294967296.0 < r.holdout);

-- 5. One CSV per activity: audience/<activity>.csv of crmspec's build.
${copies}
