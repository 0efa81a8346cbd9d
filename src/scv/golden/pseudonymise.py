"""Pseudonymised golden tables: analytics columns apart from personal ones, and contactability.

:func:`split_personal` turns the survivorship output into two frames keyed by ``customer_id``:

* the **analytics** row (``gold/<table>``): no name, email, phone, date of birth or address, only
  what marketing and data science need about them: presence flags, coarse geography
  (``country``), consent and contactability, keyed hashes for joins (``email_hmac``,
  ``phone_hmac``) and for change tracking (``address_hmac``), provenance and record flags;
* the **personal** row (``gold/<pii_table>``, restricted): the personal values themselves plus the
  same ``email_hmac`` / ``phone_hmac``.

Keyed hashes are HMAC-SHA256 (:func:`scv.privacy.keyed_hash.keyed_hash_column`) of the values
normalised exactly as the privacy tools do (:mod:`scv.privacy.subject`): email trimmed and
lower-cased; phone reduced to its last 9 digits. So a golden row can be matched against the
suppression list, an erasure request or a partner's list hashed with the same key, and a
joined table never needs the raw value.

Contactability (what a campaign may use):

* ``email_contactable``: the golden email is a valid address, the freshest consent across the
  customer's records (``email_consent``) is an opt-in, and neither the email nor the phone is
  on the suppression list (``privacy/suppression``: erased or objecting people);
* ``postal_contactable``: the golden address is complete (line 1, postcode, country) and the
  person is not suppressed. The sources carry no postal consent, so postal marketing relies on
  legitimate interest: any objection is recorded through the suppression list.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from scv.golden.policy import PERSONAL_ATTRIBUTES
from scv.privacy.keyed_hash import keyed_hash_column
from scv.privacy.suppression import email_key_column, phone_key_column

# A syntactically valid address (silver already nulls placeholders and malformed values).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"

ANALYTICS_COLUMNS = (
    "customer_id",
    "country",
    "has_name",
    "has_email",
    "has_phone",
    "has_date_of_birth",
    "has_postal_address",
    "email_opt_in",
    "email_consent",
    "email_consent_record_id",
    "email_consent_at",
    "is_suppressed",
    "email_contactable",
    "postal_contactable",
    "email_hmac",
    "phone_hmac",
    "address_hmac",
    "provenance",
    "golden_source_record_id",
    "record_count",
    "source_systems",
    "last_updated_at",
)
PII_COLUMNS = ("customer_id", *PERSONAL_ATTRIBUTES, "country", "email_hmac", "phone_hmac")
# Delta statistics: never on personal columns or hashes.
ANALYTICS_STATS_COLUMNS = ("customer_id", "record_count", "last_updated_at")
PII_STATS_COLUMNS = ("customer_id",)


def address_key(line1: Column, postcode: Column, country: Column) -> Column:
    parts = [F.lower(F.trim(line1)), F.upper(F.regexp_replace(postcode, r"\s", "")), F.upper(F.trim(country))]
    return F.when(line1.isNotNull() & postcode.isNotNull(), F.concat_ws("|", *parts))


def suppressed_customers(hashed: DataFrame, suppression: DataFrame) -> DataFrame:
    """Distinct ``customer_id`` of the ``hashed`` rows (``email_hmac``, ``phone_hmac``) whose
    e-mail or phone hash is on the suppression list (``identifier_type``, ``keyed_hash``)."""
    listed = suppression.where(F.col("identifier_type").isin("email", "phone")).select(
        F.col("identifier_type").alias("_kind"), F.col("keyed_hash").alias("_hash")
    ).distinct()
    return (
        hashed.select("customer_id", F.lit("email").alias("_kind"), F.col("email_hmac").alias("_hash"))
        .unionByName(hashed.select("customer_id", F.lit("phone").alias("_kind"), F.col("phone_hmac").alias("_hash")))
        .join(F.broadcast(listed), ["_kind", "_hash"], "left_semi")
        .select("customer_id")
        .distinct()
    )


def split_personal(golden: DataFrame, key: bytes, suppression: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    """(analytics, personal) frames of :func:`scv.golden.survivorship.build_golden`'s output.

    ``suppression`` is ``privacy/suppression`` (``identifier_type``, ``keyed_hash``) or None.
    Both frames have one row per ``customer_id``; see the module docs for the columns.
    """
    hashed = (
        golden.withColumn("email_hmac", keyed_hash_column(email_key_column(F.col("email")), key))
        .withColumn("phone_hmac", keyed_hash_column(phone_key_column(F.col("phone")), key))
        .withColumn("address_hmac", keyed_hash_column(address_key(F.col("address_line1"), F.col("postcode"), F.col("country")), key))
    )
    if suppression is not None:
        hits = suppressed_customers(hashed, suppression).withColumn("is_suppressed", F.lit(True))
        hashed = hashed.join(hits, "customer_id", "left").withColumn("is_suppressed", F.coalesce("is_suppressed", F.lit(False)))
    else:
        hashed = hashed.withColumn("is_suppressed", F.lit(False))

    valid_email = F.coalesce(F.col("email").rlike(EMAIL_PATTERN), F.lit(False))
    postal_address = F.col("address_line1").isNotNull() & F.col("postcode").isNotNull() & F.col("country").isNotNull()
    analytics = (
        hashed.withColumn("has_name", F.col("first_name").isNotNull() | F.col("last_name").isNotNull())
        .withColumn("has_email", F.col("email").isNotNull())
        .withColumn("has_phone", F.col("phone").isNotNull())
        .withColumn("has_date_of_birth", F.col("date_of_birth").isNotNull())
        .withColumn("has_postal_address", postal_address)
        .withColumn(
            "email_contactable",
            valid_email & F.coalesce(F.col("email_consent"), F.lit(False)) & ~F.col("is_suppressed"),
        )
        .withColumn("postal_contactable", postal_address & ~F.col("is_suppressed"))
        .select(*ANALYTICS_COLUMNS)
    )
    personal = hashed.select(*PII_COLUMNS)
    return analytics, personal
