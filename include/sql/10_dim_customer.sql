-- model: dim_customer
-- materialise: script
-- reads: gold.customer_golden
--
-- The customer dimension with full history (SCD type 2), kept by MERGE.
-- One row per customer and version: valid_from (inclusive) to valid_to (exclusive, NULL while
-- current), is_current. A tracked attribute changing (country, the address - seen through its
-- keyed hash, contactability, which identifiers are known) closes the current row on the run
-- date and opens a new one; a customer that disappears (merged into another, erased) is closed.
-- Reruns of a date: an unchanged customer is not touched; a changed one replaces that date's
-- version instead of stacking a zero-length one. No personal values: address_hmac only.

CREATE TABLE IF NOT EXISTS ${target} (
  customer_sk STRING,
  customer_id STRING,
  country STRING,
  address_hmac STRING,
  has_email BOOLEAN,
  has_phone BOOLEAN,
  has_postal_address BOOLEAN,
  email_contactable BOOLEAN,
  postal_contactable BOOLEAN,
  row_hash STRING,
  valid_from DATE,
  valid_to DATE,
  is_current BOOLEAN
) USING DELTA
TBLPROPERTIES ('delta.dataSkippingStatsColumns' = 'customer_sk,customer_id,valid_from,valid_to');

CREATE OR REPLACE TEMP VIEW dim_customer_incoming AS
SELECT
  customer_id, country, address_hmac, has_email, has_phone, has_postal_address, email_contactable, postal_contactable,
  sha2(to_json(named_struct(
    'country', country, 'address_hmac', address_hmac, 'has_email', has_email, 'has_phone', has_phone,
    'has_postal_address', has_postal_address, 'email_contactable', email_contactable,
    'postal_contactable', postal_contactable)), 256) AS row_hash
FROM gold_customer_golden;

CREATE OR REPLACE TEMP VIEW dim_customer_changes AS
WITH current AS (SELECT * FROM ${target} WHERE is_current)
-- close the current version of a changed customer
SELECT c.customer_id AS merge_key, 'close' AS action, i.*
FROM dim_customer_incoming i JOIN current c ON c.customer_id = i.customer_id AND c.row_hash <> i.row_hash
UNION ALL
-- open a version for a new or changed customer (NULL key: never matches, always inserted)
SELECT NULL AS merge_key, 'open' AS action, i.*
FROM dim_customer_incoming i LEFT ANTI JOIN current c ON c.customer_id = i.customer_id AND c.row_hash = i.row_hash
UNION ALL
-- close a customer that is gone
SELECT c.customer_id AS merge_key, 'close' AS action, c.customer_id, c.country, c.address_hmac, c.has_email,
       c.has_phone, c.has_postal_address, c.email_contactable, c.postal_contactable, c.row_hash
FROM current c LEFT ANTI JOIN dim_customer_incoming i ON i.customer_id = c.customer_id;

MERGE INTO ${target} t
USING dim_customer_changes s
ON t.customer_id = s.merge_key AND t.is_current
WHEN MATCHED AND s.action = 'close' AND t.valid_from = DATE'${as_of_date}' THEN DELETE
WHEN MATCHED AND s.action = 'close' THEN UPDATE SET t.is_current = false, t.valid_to = DATE'${as_of_date}'
WHEN NOT MATCHED AND s.action = 'open' THEN INSERT (
  customer_sk, customer_id, country, address_hmac, has_email, has_phone, has_postal_address, email_contactable,
  postal_contactable, row_hash, valid_from, valid_to, is_current
) VALUES (
  substr(sha2(concat_ws('|', s.customer_id, '${as_of_date}'), 256), 1, 20), s.customer_id, s.country, s.address_hmac,
  s.has_email, s.has_phone, s.has_postal_address, s.email_contactable, s.postal_contactable, s.row_hash,
  DATE'${as_of_date}', NULL, true
);
