"""Survivorship: one golden row per customer from the records linked to it.

Rules are declared per attribute in YAML (``include/survivorship/*.yml``), never hard-coded.
Every golden value is the value of one real source record of that customer, and the row carries
a ``provenance`` map (attribute -> record_id) saying which one. The choice is deterministic: the
record id is always the final tie-breaker. One aggregation (``min_by`` over a sort key per
attribute) computes all attributes in a single pass over the records.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

# The rules and definitions are plain YAML (scv.golden.policy); re-exported for callers.
from scv.golden.policy import (  # noqa: E402,F401
    GOLDEN_ATTRIBUTES,
    PERSONAL_ATTRIBUTES,
    RULES,
    Group,
    Rule,
    SurvivorshipError,
    SurvivorshipPolicy,
    load_definitions,
    load_policy,
)

# Fields counted for completeness (and for the record's null count).
COMPLETENESS_FIELDS = GOLDEN_ATTRIBUTES[:-1]
_FAR_FUTURE_MICROS = 2**62
# The freshest consent across the customer's records (not subject to the definition's rules).
CONSENT_COLUMNS = ("email_consent", "email_consent_record_id", "email_consent_at")


def _sort_key(rule: Rule, frequency_column: str | None) -> Column:
    """An ascending sort key: the smallest key wins."""
    parts = []
    for name in rule.chain():
        if name == "precedence":
            parts.append(F.coalesce(F.col("precedence"), F.lit(10**6)).cast("long"))
        elif name == "most_recent":
            parts.append(F.coalesce(-F.unix_micros(F.col("updated_at")), F.lit(_FAR_FUTURE_MICROS)))
        elif name == "most_complete":
            parts.append(-F.col("_completeness"))
        elif name == "most_frequent":
            if frequency_column is None:
                raise SurvivorshipError("most_frequent needs a single attribute, not a group")
            parts.append(-F.col(frequency_column))
    parts.append(F.col("record_id"))
    return F.struct(*[p.alias(f"k{i}") for i, p in enumerate(parts)])


def with_record_flags(records: DataFrame) -> DataFrame:
    """Per-record flags of the classic golden-record approach (null count, most complete...)."""
    present = [F.when(F.col(c).isNotNull(), 1).otherwise(0) for c in COMPLETENESS_FIELDS]
    completeness = sum(present[1:], present[0])
    by_customer = Window.partitionBy("customer_id")
    return (
        records.withColumn("_completeness", completeness)
        .withColumn("record_null_count", F.lit(len(COMPLETENESS_FIELDS)) - F.col("_completeness"))
        .withColumn("duplicate_count", F.count("*").over(by_customer))
        .withColumn("is_duplicate", F.col("duplicate_count") > 1)
        .withColumn(
            "is_most_complete",
            F.col("record_id")
            == F.min_by("record_id", F.struct(-F.col("_completeness"), F.col("record_id"))).over(by_customer),
        )
        .withColumn(
            "is_most_recent",
            F.col("record_id")
            == F.min_by(
                "record_id",
                F.struct(F.coalesce(-F.unix_micros("updated_at"), F.lit(_FAR_FUTURE_MICROS)), F.col("record_id")),
            ).over(by_customer),
        )
    )


def build_golden(records: DataFrame, policy: SurvivorshipPolicy) -> DataFrame:
    """Golden rows from records carrying ``customer_id`` and the silver person columns.

    Returns one row per customer_id: the golden attributes, ``provenance`` (attribute ->
    record_id), ``golden_source_record_id`` (the record that supplied most attributes),
    ``record_count``, ``source_systems``, ``last_updated_at`` and the freshest consent
    (:data:`CONSENT_COLUMNS`: the ``email_opt_in`` of the latest-updated record that states one,
    that record and its time; ties by precedence, then record id). Personal values are still
    here: :func:`scv.golden.pseudonymise.split_personal` separates them before anything is stored.
    """
    if "_completeness" not in records.columns:
        records = with_record_flags(records)
    grouped = policy.grouped()
    for attribute in GOLDEN_ATTRIBUTES:
        if attribute not in grouped and "most_frequent" in policy.rule_for(attribute).chain():
            records = records.withColumn(
                f"_freq_{attribute}", F.count("*").over(Window.partitionBy("customer_id", attribute))
            )

    aggregations: list[Column] = []
    provenance: list[Column] = []
    for attribute in GOLDEN_ATTRIBUTES:
        if attribute in grouped:
            continue
        rule = policy.rule_for(attribute)
        frequency = f"_freq_{attribute}" if "most_frequent" in rule.chain() else None
        key = F.when(F.col(attribute).isNotNull(), _sort_key(rule, frequency))
        aggregations.append(F.min_by(attribute, key).alias(attribute))
        aggregations.append(F.min_by("record_id", key).alias(f"_src_{attribute}"))
        provenance += [F.lit(attribute), F.col(f"_src_{attribute}")]
    for name, group in policy.groups.items():
        any_present = F.greatest(*[F.col(m).isNotNull() for m in group.members]) if len(group.members) > 1 else F.col(group.members[0]).isNotNull()
        key = F.when(any_present, _sort_key(group.rule, None))
        for member in group.members:
            aggregations.append(F.min_by(member, key).alias(member))
        aggregations.append(F.min_by("record_id", key).alias(f"_src_{name}"))
        for member in group.members:
            provenance += [F.lit(member), F.col(f"_src_{name}")]

    # Consent is always the freshest statement across the customer's records, whatever the
    # definition's rule for email_opt_in: a newer opt-out must win over an older opt-in.
    consent_key = F.when(
        F.col("email_opt_in").isNotNull(),
        F.struct(
            F.coalesce(-F.unix_micros(F.col("updated_at")), F.lit(_FAR_FUTURE_MICROS)).alias("k0"),
            F.coalesce(F.col("precedence"), F.lit(10**6)).cast("long").alias("k1"),
            F.col("record_id").alias("k2"),
        ),
    )
    aggregations += [
        F.min_by("email_opt_in", consent_key).alias("email_consent"),
        F.min_by("record_id", consent_key).alias("email_consent_record_id"),
        F.min_by("updated_at", consent_key).alias("email_consent_at"),
    ]
    golden = records.groupBy("customer_id").agg(
        *aggregations,
        F.count("*").alias("record_count"),
        F.array_sort(F.collect_set("source_system")).alias("source_systems"),
        F.max("updated_at").alias("last_updated_at"),
    )
    golden = golden.withColumn("provenance", F.map_filter(F.create_map(*provenance), lambda k, v: v.isNotNull()))
    # The golden source is the record that supplied most attributes (ties: smallest record id).
    supplied = F.map_values("provenance")
    golden = golden.withColumn(
        "golden_source_record_id",
        F.aggregate(
            F.array_distinct(supplied),
            F.struct(F.lit(-1).alias("n"), F.lit(None).cast("string").alias("id")),
            lambda best, rid: F.when(
                (F.size(F.filter(supplied, lambda x: x == rid)) > best["n"])
                | ((F.size(F.filter(supplied, lambda x: x == rid)) == best["n"]) & (rid < best["id"])),
                F.struct(F.size(F.filter(supplied, lambda x: x == rid)).alias("n"), rid.alias("id")),
            ).otherwise(best),
        )["id"],
    )
    ordered = [
        "customer_id",
        *GOLDEN_ATTRIBUTES,
        "provenance",
        "golden_source_record_id",
        "record_count",
        "source_systems",
        "last_updated_at",
        *CONSENT_COLUMNS,
    ]
    return golden.select(*ordered)
