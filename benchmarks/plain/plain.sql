-- The job an analyst writes by hand for the plan in benchmarks/plain/plans/, without
-- crmspec: written from the plan's definition (docs/plan.md, docs/contact-plan.md), not
-- from `crmspec compile`. bench_plain.py fills ${data} (the folder of the Parquet files,
-- integer ids), ${as_of}, ${out} and the two address patterns, and runs it statement by
-- statement on a fresh DuckDB connection with crmspec's settings (2 threads, 1 GB).
--
-- The plan: 7 lifecycle stages by days since the last paid purchase (half-open bands),
-- 4 tiers by cumulative paid spend, 10 activities on SMS or email, each for one segment
-- (stage, type, tier, purchases, a cart in the last 30 days), at most 2 contacts per
-- customer in a build (higher priority first), a 10% control group per activity
-- (md5 of salt:activity:customer), opted-out and unreachable customers left out.

-- 1. one GROUP BY of the paid orders per customer (several orders a day: one purchase)
CREATE TEMP TABLE facts AS
WITH days AS (
  SELECT customer_id, CAST(paid_at AS DATE) AS d, sum(amount) AS amount, max(paid_at) AS paid
  FROM read_parquet('${data}/orders.parquet')
  WHERE status = 'paid' AND paid_at IS NOT NULL AND CAST(paid_at AS DATE) <= DATE '${as_of}'
  GROUP BY 1, 2
), per AS (
  SELECT customer_id, count(*) AS purchases, sum(amount) AS spend,
         date_diff('day', max(d), DATE '${as_of}') AS recency, max(paid) AS last_paid_at
  FROM days GROUP BY 1
)
SELECT c.customer_id, c.phone, c.email, c.name, p.last_paid_at,
  coalesce(p.purchases, 0) AS purchases, coalesce(p.spend, 0) AS spend,
  CASE WHEN p.purchases IS NULL THEN 'potential'
       WHEN p.recency < 7 THEN 'after_sale' WHEN p.recency < 45 THEN 'active'
       WHEN p.recency < 90 THEN 'silent' WHEN p.recency < 140 THEN 'sleeping'
       WHEN p.recency < 365 THEN 'churning' ELSE 'dead' END AS stage,
  CASE WHEN p.spend >= 7000 THEN 4 WHEN p.spend >= 5000 THEN 3
       WHEN p.spend >= 1500 THEN 2 WHEN p.spend >= 500 THEN 1 ELSE 0 END AS tier,
  NOT c.opt_out_all AND NOT c.opt_out_sms AND regexp_full_match(c.phone, '${mobile_re}')
    AS sms_ok,
  NOT c.opt_out_all AND NOT c.opt_out_email AND regexp_full_match(c.email, '${email_re}')
    AS email_ok
FROM read_parquet('${data}/customers.parquet') AS c
LEFT JOIN per AS p USING (customer_id);

-- 2. one filtered scan of the events the audience needs: carts in the last 30 days
-- (an intent counts when nothing was bought since: the latest cart after the last payment)
CREATE TEMP TABLE carted AS
SELECT customer_id, max(event_at) AS carted_at FROM read_parquet('${data}/events.parquet')
WHERE event_type = 'cart' AND CAST(event_at AS DATE) > DATE '${as_of}' - 30
  AND CAST(event_at AS DATE) <= DATE '${as_of}'
GROUP BY 1;

-- 3. the segment filters, 4. row_number() for the cap, 5. the md5 bucket for the hold-out
CREATE TEMP TABLE contacts AS
WITH audience AS (
  SELECT 'review_invite' AS activity, 100 AS priority, 'sms' AS channel, customer_id
    FROM facts WHERE stage = 'after_sale' AND sms_ok
  UNION ALL SELECT 'new_arrivals', 60, 'email', customer_id
    FROM facts WHERE stage = 'active' AND email_ok
  UNION ALL SELECT 'tier_nudge', 90, 'sms', customer_id
    FROM facts WHERE stage = 'active' AND tier = 1 AND sms_ok
  UNION ALL SELECT 'repurchase_new', 80, 'sms', customer_id
    FROM facts WHERE stage = 'silent' AND purchases = 1 AND sms_ok
  UNION ALL SELECT 'repurchase_returning', 70, 'email', customer_id
    FROM facts WHERE stage = 'silent' AND purchases >= 2 AND email_ok
  UNION ALL SELECT 'sleeping_care', 85, 'sms', customer_id
    FROM facts WHERE stage = 'sleeping' AND tier >= 2 AND sms_ok
  UNION ALL SELECT 'sleeping_promo', 50, 'email', customer_id
    FROM facts WHERE stage = 'sleeping' AND email_ok
  UNION ALL SELECT 'churn_save', 40, 'sms', customer_id
    FROM facts WHERE stage = 'churning' AND purchases >= 2 AND sms_ok
  UNION ALL SELECT 'winback', 30, 'email', customer_id
    FROM facts WHERE stage = 'dead' AND email_ok
  UNION ALL SELECT 'cart_recovery', 95, 'sms', customer_id
    FROM facts JOIN carted USING (customer_id)
    WHERE stage IN ('active', 'silent') AND sms_ok
      AND (last_paid_at IS NULL OR last_paid_at < carted_at)
), capped AS (
  SELECT * FROM audience
  QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY priority DESC, activity) <= 2
)
SELECT activity, channel, customer_id,
  CAST(('0x' || substr(md5('${salt}:' || activity || ':' || customer_id), 1, 8)) AS BIGINT)
    / 4294967296 < 0.1 AS control
FROM capped;

-- 6. one COPY per send list (bench_plain.py repeats this statement per activity): the
-- contacts sent, with their address and message
COPY (SELECT k.customer_id, f.${address} AS address,
             '${prefix}' || coalesce(f.name, '亲') || '${text}' AS message
      FROM contacts AS k JOIN facts AS f USING (customer_id)
      WHERE k.activity = '${activity}' AND NOT k.control ORDER BY 1)
  TO '${out}/${activity}.csv' (HEADER);
