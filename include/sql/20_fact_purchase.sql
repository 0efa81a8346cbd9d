-- model: fact_purchase
-- materialise: table
-- key: source_system, event_id
-- reads: silver.events, gold.customer_xref, gold.dim_customer
--
-- One row per purchase or refund event of a known customer, with the dim_customer version
-- valid on the purchase date (customer_sk). Purchases from before the dimension's history began
-- point at the customer's first version. Amounts are decimals; refunds are negative.
WITH purchases AS (
  SELECT e.source_system, e.event_id, x.customer_id, CAST(e.event_time AS DATE) AS purchase_date, e.event_time,
         lower(trim(e.channel)) AS channel, lower(trim(e.product_category)) AS product_category,
         CAST(e.amount AS DECIMAL(18, 2)) AS amount, e.quantity, coalesce(e.amount < 0, false) AS is_refund
  FROM silver_events e
  JOIN gold_customer_xref x ON x.record_id = e.person_record_id
  WHERE e.event_type = 'purchase' AND e.event_time IS NOT NULL
),
first_version AS (
  SELECT customer_id, min_by(customer_sk, valid_from) AS customer_sk, min(valid_from) AS valid_from
  FROM gold_dim_customer GROUP BY customer_id
)
SELECT p.source_system, p.event_id, p.customer_id,
       coalesce(d.customer_sk, CASE WHEN p.purchase_date < f.valid_from THEN f.customer_sk END) AS customer_sk,
       p.purchase_date, p.event_time, p.channel, p.product_category, p.amount, p.quantity, p.is_refund
FROM purchases p
LEFT JOIN gold_dim_customer d
  ON d.customer_id = p.customer_id AND p.purchase_date >= d.valid_from AND (d.valid_to IS NULL OR p.purchase_date < d.valid_to)
LEFT JOIN first_version f ON f.customer_id = p.customer_id
