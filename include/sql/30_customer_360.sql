-- model: customer_360
-- materialise: table
-- key: customer_id
-- reads: gold.customer_golden, gold.customer_features, gold.fact_purchase
--
-- One row per customer for marketing and analytics: contactability, coarse geography, the
-- features as of the run date and lifetime purchase totals. Pseudonymised like its inputs: join
-- on email_hmac / phone_hmac, never on raw identifiers (those stay in gold/customer_pii).
WITH lifetime AS (
  SELECT customer_id,
         count_if(NOT is_refund) AS lifetime_purchases,
         CAST(sum(amount) AS DECIMAL(18, 2)) AS lifetime_net_spend,
         min(CASE WHEN NOT is_refund THEN purchase_date END) AS first_purchase_date,
         max(CASE WHEN NOT is_refund THEN purchase_date END) AS last_purchase_date
  FROM gold_fact_purchase GROUP BY customer_id
),
features AS (
  SELECT * FROM gold_customer_features WHERE as_of_date = DATE'${as_of_date}'
)
SELECT g.customer_id, g.country, g.email_contactable, g.postal_contactable, g.email_hmac, g.phone_hmac,
       g.record_count, g.source_systems,
       f.as_of_date AS features_as_of_date, f.purchases_30d, f.purchases_365d, f.spend_365d,
       f.days_since_last_purchase, f.store_share_365d, f.web_share_365d, f.page_views_30d,
       coalesce(l.lifetime_purchases, 0) AS lifetime_purchases,
       coalesce(l.lifetime_net_spend, CAST(0 AS DECIMAL(18, 2))) AS lifetime_net_spend,
       l.first_purchase_date, l.last_purchase_date
FROM gold_customer_golden g
LEFT JOIN features f ON f.customer_id = g.customer_id
LEFT JOIN lifetime l ON l.customer_id = g.customer_id
