-- A hand-written DuckDB reference for `crmspec build` of the example plan: the same facts,
-- segments and per-activity send lists (before contact limits), in as few statements as
-- DuckDB allows. benchmarks/bench_build.py fills in the slots (below) and runs the result
-- in a fresh process, next to `crmspec build`:
--
--   $${customers} $${orders} $${events}  the demo shop's Parquet files, read as they are
--   $${as_of}                          the build's as-of date (the day after the last order)
--   $${previous}                       the previous build's date (an empty ledger: the day before)
--   $${stage_case} $${tier_case} $${tier_rank_case}  the plan's stage bands and tier rules
--   $${tier_window} $${review_date} $${kept}  the tier evaluation window (days), the next
--                                     and the last review date: spend counts the window, a
--                                     tier reached is kept until the next review, tier
--                                     triggers compare the tier with the previous build's
--                                     and the review date's
--   $${fans_min}                       purchases that make a returning customer a fan
--   $${order_columns} $${order_filter}  per-customer flags of the order-event triggers
--                                     (bool_or, one per event and window) and the
--                                     unpaid-order intent, over the orders they concern
--   $${event_columns} $${event_window}  per-customer latest event of each intent
--   $${flag_columns}                   those flags and intents, joined onto the customers
--   $${counts}                         one count per segment (the manifest's figures)
--   $${audiences}                      one SELECT per activity: its segment and trigger
--                                     conditions and the channel's opt-out/address test
--   $${copies}                         one COPY per activity, ordered by customer id
--
-- Left out on purpose (crmspec does them, the reference does not): cleaning and checking
-- the data, the data fingerprint, the contact plan (suppressions, refunds, hold-outs,
-- cooldowns, limits, budgets, control groups, send slots), message templates, channel
-- files, the manifest and the ledger.

-- 1. One row per customer: facts, intents and trigger flags.
CREATE TEMP TABLE features AS
WITH days AS (  -- purchases: paid orders, several on one day being one purchase
  SELECT customer_id, paid_at::DATE AS day, sum(amount) AS amount, max(paid_at) AS paid_at
  FROM read_parquet('${orders}')
  WHERE status = 'paid' AND paid_at::DATE <= DATE '${as_of}'
  GROUP BY customer_id, day
), p AS (
  SELECT customer_id, count(*) AS purchases,
    coalesce(sum(amount) FILTER (WHERE day > DATE '${as_of}' - ${tier_window}), 0) AS spend,
    count(*) FILTER (WHERE day <= DATE '${previous}') AS previous_purchases,
    sum(amount) FILTER (WHERE day <= DATE '${previous}'
                        AND day > DATE '${previous}' - ${tier_window}) AS previous_spend,
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
    ceil(5 * cume_dist() OVER (ORDER BY spend))::INTEGER AS m
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
    coalesce(p.previous_purchases, 0) AS previous_purchases,
    coalesce(p.previous_spend, 0) AS previous_spend,
    coalesce(p.review_spend, 0) AS review_spend,
    coalesce(p.kept_purchases, 0) AS kept_purchases,
    coalesce(p.kept_spend, 0) AS kept_spend, rfm.r, rfm.f, rfm.m${flag_columns}
  FROM read_parquet('${customers}') AS c
  LEFT JOIN p USING (customer_id) LEFT JOIN rfm USING (customer_id)
  LEFT JOIN o USING (customer_id)
  LEFT JOIN e USING (customer_id)
), ranked AS (
  SELECT *, ${tier_rank_case} AS tier_rank,
    ${previous_tier_rank_case} AS previous_tier_rank
  FROM base
)
SELECT * EXCLUDE (previous_purchases, previous_spend, review_spend, kept_purchases, kept_spend),
  ${stage_case} AS stage,
  CASE WHEN purchases = 0 THEN 'potential' WHEN purchases = 1 THEN 'new'
       WHEN purchases >= ${fans_min} THEN 'fans' ELSE 'returning' END AS customer_type,
  ${tier_case} AS tier,
  ${review_date} AS review_date,
  ${review_tier_rank_case} AS review_tier_rank
FROM ranked;

-- 2. Customers per stage, type and tier, and per segment.
SELECT histogram(coalesce(stage, 'none')) AS stages,
       histogram(customer_type) AS customer_types,
       histogram(coalesce(tier, 'none')) AS tiers${counts}
FROM features;

-- 3. Every activity's send list in one statement.
CREATE TEMP TABLE sends AS
${audiences};

-- 4. One CSV per activity.
${copies}
