-- The same plan's job by hand when the shop needs the files crmspec writes, not only the
-- send lists of plain.sql: written from the plan's definition and from the files'
-- documented formats (docs/plan.md, docs/contact-plan.md, docs/plugins.md, README),
-- not from `crmspec compile`. bench_plain.py fills the slots as for plain.sql and
-- checks every file it writes byte for byte against crmspec's.
--
-- On top of plain.sql: the customer type, days since the last purchase and RFM scores
-- the audience lists show (RFM: ceil(5 x cume_dist) among buyers); per activity the
-- provider's send file (SMS: phone, text, send time, segments; email: subject with the
-- advertising marker, HTML and text bodies with the recipient's unsubscribe link, its
-- token the first 32 hex digits of sha256(salt:customer id)) and the audience list for
-- review (masked address, the customer's attributes); the contacts and the held-out
-- recorded in a DuckDB file, as a shop keeps them to evaluate the control groups.

-- 1. one GROUP BY of the paid orders per customer (several orders a day: one purchase)
CREATE TEMP TABLE facts AS
WITH days AS (
  SELECT customer_id, CAST(paid_at AS DATE) AS d, sum(amount) AS amount, max(paid_at) AS paid
  FROM read_parquet('${data}/orders.parquet')
  WHERE status = 'paid' AND paid_at IS NOT NULL AND CAST(paid_at AS DATE) <= DATE '${as_of}'
  GROUP BY 1, 2
), per AS (
  SELECT customer_id, count(*) AS purchases, sum(amount) AS spend, max(d) AS last_d,
         date_diff('day', max(d), DATE '${as_of}') AS recency, max(paid) AS last_paid_at
  FROM days GROUP BY 1
), scored AS (
  SELECT *,
    CAST(ceil(5 * cume_dist() OVER (ORDER BY last_d)) AS INTEGER) AS r,
    CAST(ceil(5 * cume_dist() OVER (ORDER BY purchases)) AS INTEGER) AS f,
    CAST(ceil(5 * cume_dist() OVER (ORDER BY spend)) AS INTEGER) AS m
  FROM per
)
SELECT c.customer_id, c.phone, c.email, c.name, p.last_paid_at,
  coalesce(p.purchases, 0) AS purchases, CAST(coalesce(p.spend, 0) AS DECIMAL(14, 2)) AS spend,
  p.recency AS days_since_last_purchase, p.r, p.f, p.m,
  CASE WHEN p.purchases IS NULL THEN 'potential'
       WHEN p.recency < 7 THEN 'after_sale' WHEN p.recency < 45 THEN 'active'
       WHEN p.recency < 90 THEN 'silent' WHEN p.recency < 140 THEN 'sleeping'
       WHEN p.recency < 365 THEN 'churning' ELSE 'dead' END AS stage,
  CASE WHEN p.purchases IS NULL THEN 'potential' WHEN p.purchases = 1 THEN 'new'
       WHEN p.purchases >= 4 THEN 'fans' ELSE 'returning' END AS customer_type,
  CASE WHEN p.spend >= 7000 THEN 4 WHEN p.spend >= 5000 THEN 3
       WHEN p.spend >= 1500 THEN 2 WHEN p.spend >= 500 THEN 1 ELSE 0 END AS tier,
  NOT c.opt_out_all AND NOT c.opt_out_sms AND regexp_full_match(c.phone, '${mobile_re}')
    AS sms_ok,
  NOT c.opt_out_all AND NOT c.opt_out_email AND regexp_full_match(c.email, '${email_re}')
    AS email_ok
FROM read_parquet('${data}/customers.parquet') AS c
LEFT JOIN scored AS p USING (customer_id);

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
  SELECT 'review_invite' AS activity, 'after_sale' AS segment, 100 AS priority,
         'sms' AS channel, customer_id
    FROM facts WHERE stage = 'after_sale' AND sms_ok
  UNION ALL SELECT 'new_arrivals', 'active_all', 60, 'email', customer_id
    FROM facts WHERE stage = 'active' AND email_ok
  UNION ALL SELECT 'tier_nudge', 'active_vip1', 90, 'sms', customer_id
    FROM facts WHERE stage = 'active' AND tier = 1 AND sms_ok
  UNION ALL SELECT 'repurchase_new', 'silent_new', 80, 'sms', customer_id
    FROM facts WHERE stage = 'silent' AND purchases = 1 AND sms_ok
  UNION ALL SELECT 'repurchase_returning', 'silent_returning', 70, 'email', customer_id
    FROM facts WHERE stage = 'silent' AND purchases >= 2 AND email_ok
  UNION ALL SELECT 'sleeping_care', 'sleeping_vip2', 85, 'sms', customer_id
    FROM facts WHERE stage = 'sleeping' AND tier >= 2 AND sms_ok
  UNION ALL SELECT 'sleeping_promo', 'sleeping_all', 50, 'email', customer_id
    FROM facts WHERE stage = 'sleeping' AND email_ok
  UNION ALL SELECT 'churn_save', 'churning_repeat', 40, 'sms', customer_id
    FROM facts WHERE stage = 'churning' AND purchases >= 2 AND sms_ok
  UNION ALL SELECT 'winback', 'dead_all', 30, 'email', customer_id
    FROM facts WHERE stage = 'dead' AND email_ok
  UNION ALL SELECT 'cart_recovery', 'carted_30d', 95, 'sms', customer_id
    FROM facts JOIN carted USING (customer_id)
    WHERE stage IN ('active', 'silent') AND sms_ok
      AND (last_paid_at IS NULL OR last_paid_at < carted_at)
), capped AS (
  SELECT * FROM audience
  QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY priority DESC, activity) <= 2
)
SELECT activity, segment, channel, customer_id,
  CAST(('0x' || substr(md5('${salt}:' || activity || ':' || customer_id), 1, 8)) AS BIGINT)
    / 4294967296 < 0.1 AS control
FROM capped;

-- 6. per activity (bench_plain.py repeats the statements of its channel): the rows sent,
-- with what the files show
CREATE OR REPLACE TEMP TABLE sent AS
SELECT f.*, k.segment, coalesce(f.name, '亲') AS shown_name
FROM contacts AS k JOIN facts AS f USING (customer_id)
WHERE k.activity = '${activity}' AND NOT k.control ORDER BY customer_id;

-- sms: the provider's import; 70 characters a segment, 67 each when longer
COPY (SELECT phone, '【基准店】' || shown_name || '，${title}：基准店有礼，回T退订' AS content,
             '${send_at}' AS scheduled_at,
             CASE WHEN length(content) <= 70 THEN 1 ELSE CAST(ceil(length(content) / 67) AS INTEGER) END
               AS segments
      FROM sent)
  TO '${out}/sms/${activity}.csv' (HEADER);

-- email: the provider's import, HTML with the name escaped
COPY (WITH m AS (
        SELECT email, shown_name, 'https://shop.example.com/unsubscribe?t='
               || substr(sha256('${salt}:' || customer_id), 1, 32) AS link
        FROM sent)
      SELECT email, '(AD)' || shown_name || '，${title}' AS subject,
             '<p>' || replace(replace(replace(replace(replace(shown_name, '&', '&amp;'),
               '<', '&lt;'), '>', '&gt;'), '"', '&#34;'), '''', '&#39;')
               || '，${title}：基准店有礼。</p>' || chr(10) || '<p><a href="' || link
               || '">退订</a></p>' AS html,
             shown_name || '，${title}：基准店有礼。' || chr(10) || chr(10)
               || '退订 / Unsubscribe: ' || link AS text,
             '' AS preheader, '${send_at}' AS send_at, link AS unsubscribe_url
      FROM m)
  TO '${out}/email/${activity}.csv' (HEADER);

-- the audience list for review: the address masked, the reasons shown
COPY (SELECT customer_id, '${activity}' AS activity_id, '${channel}' AS channel,
             CASE WHEN '${channel}' = 'sms' THEN left(phone, 3) || '****' || right(phone, 4)
                  ELSE left(email, 1) || '***@' || split_part(email, '@', 2) END AS address,
             segment, stage, customer_type, CASE WHEN tier > 0 THEN 'vip' || tier END AS tier,
             purchases, spend, days_since_last_purchase, r, f, m, '${send_at}' AS scheduled_at
      FROM sent)
  TO '${out}/audience/${activity}.csv' (HEADER);

-- 7. the record of who was contacted and who held out, for the control groups' evaluation
ATTACH '${out}/record.duckdb' AS record;
CREATE TABLE record.contacts AS
SELECT DATE '${as_of}' AS as_of, k.activity, k.customer_id, k.channel,
       CASE WHEN k.control THEN 'control' ELSE 'treatment' END AS grp, f.stage
FROM contacts AS k JOIN facts AS f USING (customer_id);
