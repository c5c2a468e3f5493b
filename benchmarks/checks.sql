-- By hand, the data checks `crmspec build` makes before it computes anything
-- (crmspec.data.sources): one pass per table counting the rows, their order-independent hash
-- (the data fingerprint), every data problem and the distinct id hashes (no duplicate
-- ids when there are as many as rows). bench_build.py times it beside the reference
-- (benchmarks/reference.sql), which reads the files as they are, to show what the build
-- would be compared with if the reference also checked its input. Run on the demo shop,
-- which has no problem but some malformed addresses, so no cleaning step follows.
--
--   $${customers} $${orders} $${events}  the demo shop's Parquet files
--   $${end}                            the end of the as-of day (a TIMESTAMP literal)
--   $${mobile} $${email}               crmspec's address patterns (crmspec.channels)

SELECT max(CAST(created_at AS DATE)) FROM read_parquet('${orders}');

SELECT count(*), sum(hash(c)::HUGEINT), count(*) FILTER (WHERE customer_id IS NULL),
  count(*) FILTER (WHERE phone IS NOT NULL AND NOT regexp_full_match(phone, '${mobile}')),
  count(*) FILTER (WHERE email IS NOT NULL AND NOT regexp_full_match(email, '${email}')),
  count(DISTINCT hash(customer_id))
FROM read_parquet('${customers}') AS c;

SELECT count(*), sum(h::HUGEINT),
  count(*) FILTER (WHERE k.known IS NULL),
  count(*) FILTER (WHERE amount < 0),
  count(*) FILTER (WHERE status IS NULL OR status NOT IN ('unpaid', 'paid', 'closed', 'refunded')),
  count(*) FILTER (WHERE order_id IS NULL OR created_at IS NULL OR amount IS NULL),
  count(*) FILTER (WHERE created_at > ${end}),
  count(*) FILTER (WHERE k.known IS NOT NULL AND amount >= 0 AND created_at <= ${end}
                   AND status IN ('unpaid', 'paid', 'closed', 'refunded')),
  count(*) FILTER (WHERE paid_at > ${end}),
  count(*) FILTER (WHERE shipped_at > ${end}),
  count(*) FILTER (WHERE signed_at > ${end}),
  count(DISTINCT hash(order_id))
FROM (SELECT *, hash(o) AS h FROM read_parquet('${orders}') AS o) AS o
LEFT JOIN (SELECT customer_id AS known FROM read_parquet('${customers}')) AS k
  ON k.known = o.customer_id;

SELECT count(*), sum(h::HUGEINT),
  count(*) FILTER (WHERE k.known IS NULL),
  count(*) FILTER (WHERE event_type IS NULL OR event_type NOT IN
                   ('visit', 'favorite', 'cart', 'inquiry', 'search', 'ad_click')),
  count(*) FILTER (WHERE event_at > ${end}),
  count(*) FILTER (WHERE k.known IS NOT NULL AND event_at <= ${end} AND event_type IN
                   ('visit', 'favorite', 'cart', 'inquiry', 'search', 'ad_click')),
  count(*) FILTER (WHERE event_at IS NULL)
FROM (SELECT *, hash(e) AS h FROM read_parquet('${events}') AS e) AS e
LEFT JOIN (SELECT customer_id AS known FROM read_parquet('${customers}')) AS k
  ON k.known = e.customer_id;
