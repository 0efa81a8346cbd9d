"""Survivorship: one golden row per customer from the records linked to it.

Rules are declared per attribute in YAML (``include/survivorship/*.yml``), never hard-coded.
Every golden value is the value of one real source record of that customer, and the row carries
a ``provenance`` map (attribute -> record_id) saying which one. The choice is deterministic: the
record id is always the final tie-breaker. One aggregation (``min_by`` over a sort key per
attribute) computes all attributes in a single pass over the records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

RULES = ("precedence", "most_recent", "most_complete", "most_frequent")
GOLDEN_ATTRIBUTES = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "city",
    "postcode",
    "country",
    "email_opt_in",
)
# Fields counted for completeness (and for the record's null count).
COMPLETENESS_FIELDS = GOLDEN_ATTRIBUTES[:-1]
_FAR_FUTURE_MICROS = 2**62


class SurvivorshipError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    rule: str
    tie_breakers: tuple[str, ...] = ()

    def chain(self) -> tuple[str, ...]:
        return (self.rule, *[t for t in self.tie_breakers if t != self.rule])


@dataclass(frozen=True)
class Group:
    members: tuple[str, ...]
    rule: Rule


@dataclass(frozen=True)
class SurvivorshipPolicy:
    name: str
    default: Rule
    attributes: dict[str, Rule] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    def rule_for(self, attribute: str) -> Rule:
        return self.attributes.get(attribute, self.default)

    def grouped(self) -> dict[str, str]:
        return {member: name for name, group in self.groups.items() for member in group.members}


def _rule(raw: dict, where: str) -> Rule:
    if not isinstance(raw, dict) or "rule" not in raw:
        raise SurvivorshipError(f"{where}: needs a 'rule' (one of {', '.join(RULES)})")
    names = (raw["rule"], *(raw.get("tie_breakers") or ()))
    for name in names:
        if name not in RULES:
            raise SurvivorshipError(f"{where}: unknown rule {name!r} (known: {', '.join(RULES)})")
    return Rule(raw["rule"], tuple(raw.get("tie_breakers") or ()))


def load_policy(path: str | Path) -> SurvivorshipPolicy:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    where = str(path)
    default = _rule(raw.get("default") or {"rule": "precedence", "tie_breakers": ["most_recent"]}, f"{where}: default")
    attributes = {a: _rule(r, f"{where}: attributes.{a}") for a, r in (raw.get("attributes") or {}).items()}
    groups = {}
    for name, spec in (raw.get("groups") or {}).items():
        members = tuple(spec.get("members") or ())
        if not members:
            raise SurvivorshipError(f"{where}: groups.{name}: needs members")
        groups[name] = Group(members, _rule(spec, f"{where}: groups.{name}"))
    for attribute in [*attributes, *[m for g in groups.values() for m in g.members]]:
        if attribute not in GOLDEN_ATTRIBUTES:
            raise SurvivorshipError(f"{where}: {attribute!r} is not a golden attribute ({', '.join(GOLDEN_ATTRIBUTES)})")
    return SurvivorshipPolicy(str(raw.get("name") or Path(path).stem), default, attributes, groups)


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
    ``record_count``, ``source_systems`` and ``last_updated_at``.
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
    ordered = ["customer_id", *GOLDEN_ATTRIBUTES, "provenance", "golden_source_record_id", "record_count", "source_systems", "last_updated_at"]
    return golden.select(*ordered)
