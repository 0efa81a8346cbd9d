"""Blocking with evidence: how many comparisons each rule generates, and a budget that fails fast.

The check runs in two steps so that it cannot itself run out of memory on a skewed value:

1. per rule, the largest block is found by aggregation only (Splink's ``n_largest_blocks``: a
   group-by per side, no pairs built); one block over budget fails at once, naming the value;
2. then Splink counts the pairs each rule adds to the rules before it
   (``count_comparisons_from_blocking_rules``), exactly for up to
   ``config.exact_count_max_records`` records and from a hash sample of records above that.

Before either, :func:`blocking_field_coverage` profiles the columns the rules read
(:mod:`scv.quality.profiling`: completeness, distinct share, top value share) and warns about a
field too sparse to find pairs with or too concentrated to block on, e.g. a source that stopped
delivering postcodes or a placeholder date of birth that slipped through standardisation.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlglot
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sqlglot import exp
from splink.blocking_analysis import count_comparisons_from_blocking_rules, n_largest_blocks

from scv.linkage._backend import SplinkSession
from scv.linkage.config import LinkageConfig
from scv.linkage.errors import ComparisonBudgetExceeded
from scv.linkage.settings import UNIQUE_ID, columns_in_rules, linkable_records
from scv.quality.profiling import BlockingCoverage, blocking_coverage, coverage_profile

logger = logging.getLogger(__name__)


def blocking_field_coverage(
    silver_df: DataFrame,
    config: LinkageConfig,
    blocking_rules: tuple[str, ...] | None = None,
) -> BlockingCoverage:
    """Coverage and cardinality of every column the blocking rules read, over the linkable
    records (see :func:`scv.quality.profiling.blocking_coverage` for the thresholds). Logs each
    warning; never raises for poor coverage (the comparison budget is what fails fast)."""
    rules = tuple(blocking_rules or config.prediction_blocking_rules)
    fields = sorted(columns_in_rules(rules) - {UNIQUE_ID})
    records = linkable_records(silver_df, set(fields) | {UNIQUE_ID})
    coverage = blocking_coverage(coverage_profile(records, fields), fields)
    for warning in coverage.warnings:
        logger.warning("blocking coverage: %s", warning)
    return coverage


def count_comparisons(
    spark: SparkSession,
    silver_df: DataFrame,
    config: LinkageConfig,
    blocking_rules: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Comparisons each blocking rule generates over the linkable records, in rule order.

    Counts are marginal: a pair found by an earlier rule is not counted again, so the values add
    up to the total a prediction scores. Rules default to ``config.prediction_blocking_rules``.
    The counts are exact up to ``config.exact_count_max_records`` linkable records (or as
    ``config.count_sample_proportion`` says) and scaled-up sample estimates above that.
    """
    rules = tuple(blocking_rules or config.prediction_blocking_rules)
    with SplinkSession(spark, config) as session:
        records = linkable_records(silver_df, columns_in_rules(rules) | {UNIQUE_ID})
        registered = session.register(records, "blocking")
        return _count(registered, records.count(), rules, config)


def check_comparison_budget(
    spark: SparkSession,
    silver_df: DataFrame,
    config: LinkageConfig,
    blocking_rules: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Counts as :func:`count_comparisons`, raising :class:`ComparisonBudgetExceeded` if the
    total exceeds ``config.comparison_budget``.

    The error names the rule contributing most and its count; when a single block is already
    over budget it names the rule and the blocking key values, and no pairs are built at all.
    """
    rules = tuple(blocking_rules or config.prediction_blocking_rules)
    with SplinkSession(spark, config) as session:
        records = linkable_records(silver_df, columns_in_rules(rules) | {UNIQUE_ID})
        registered = session.register(records, "blocking")
        return enforce_comparison_budget(registered, records.count(), rules, config)


def enforce_comparison_budget(
    registered: Any, n_records: int, rules: tuple[str, ...], config: LinkageConfig
) -> dict[str, int]:
    """The budget check on records already registered with a Splink session (shared with
    ``predict_pairs``, which checks the very table it is about to score)."""
    budget = config.comparison_budget
    for rule in rules:
        largest = n_largest_blocks(
            registered, blocking_rule=rule, link_type="dedupe_only", n_largest=1
        ).as_record_list()
        if not largest:
            continue
        block = largest[0]
        size = int(block["count_l"])
        pairs = size * (size - 1) // 2
        if pairs > budget:
            keys = ", ".join(
                str(block[k]) for k in sorted(block) if k.startswith("key_")
            )
            raise ComparisonBudgetExceeded(
                f"Blocking rule '{rule}' has a block of {size:,} records sharing ({keys}), "
                f"{pairs:,} comparisons on its own, over the budget of {budget:,}. Tighten the "
                "rule (add a column), null the value if it is a placeholder, or raise "
                "comparison_budget.",
                rule=rule,
                count=pairs,
                budget=budget,
            )

    counts = _count(registered, n_records, rules, config)
    total = sum(counts.values())
    logger.info("comparisons per blocking rule: %s (total %s)", counts, f"{total:,}")
    if total > budget:
        worst = max(counts, key=lambda rule: counts[rule])
        per_rule = "; ".join(f"'{rule}': {count:,}" for rule, count in counts.items())
        raise ComparisonBudgetExceeded(
            f"Blocking rules would generate {total:,} comparisons, over the budget of "
            f"{budget:,}. Largest: '{worst}' with {counts[worst]:,}. Per rule (marginal): "
            f"{per_rule}.",
            rule=worst,
            count=counts[worst],
            budget=budget,
            total=total,
            counts=counts,
        )
    return counts


def _count(
    registered: Any, n_records: int, rules: tuple[str, ...], config: LinkageConfig
) -> dict[str, int]:
    proportion = config.count_sample_proportion
    if proportion is None:
        limit = config.exact_count_max_records
        proportion = 1.0 if n_records <= limit else limit / n_records
    records = count_comparisons_from_blocking_rules(
        registered,
        blocking_rules=list(rules),
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID,
        record_sample_proportion=proportion,
    )
    # Splink returns one record per rule in rule order (match_key); the keys are our own rule
    # strings because Splink may re-render the SQL.
    records = sorted(records, key=lambda record: int(record["match_key"]))
    return {rule: int(record["marginal_comparison_count"]) for rule, record in zip(rules, records)}


def equi_join_keys(rule: str) -> tuple[str, ...] | None:
    """The columns of the ``l.c = r.c`` conditions (the same column on both sides) of a rule
    made of conditions joined by AND, or ``None`` when it has none. Its other conditions only
    remove pairs, so blocks on these columns bound the rule's comparisons from above."""
    try:
        tree = sqlglot.parse_one(rule, read="spark")
    except sqlglot.errors.ParseError:
        return None
    conditions = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    keys = []
    for condition in conditions:
        if not isinstance(condition, exp.EQ):
            continue
        left, right = condition.this, condition.expression
        if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
            continue
        if {left.table, right.table} != {"l", "r"} or left.name != right.name:
            continue
        keys.append(left.name)
    return tuple(keys) or None


def comparison_upper_bound(records: DataFrame, rules: tuple[str, ...]) -> int | None:
    """An upper bound of the comparisons ``rules`` generate over ``records`` (deduplication):
    every rule's pairs counted as if no earlier rule had found them and without its conditions
    other than equalities, from block sizes only, in one Spark job. ``None`` when a rule has no
    ``l.c = r.c`` condition (see :func:`equi_join_keys`).

    It is what lets a prediction skip the exact, marginal count (a dozen Spark jobs) when even
    the bound is within budget; blocks are on equal values, nulls never match, as in Splink.
    """
    parts = []
    for index, rule in enumerate(rules):
        keys = equi_join_keys(rule)
        if not keys:
            return None
        present = F.lit(True)
        for key in keys:
            present = present & F.col(key).isNotNull()
        parts.append(
            records.where(present).select(
                F.lit(index).alias("rule"),
                F.to_json(F.struct(*[F.col(key).cast("string") for key in keys])).alias("key"),
            )
        )
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    row = (
        union.groupBy("rule", "key")
        .agg(F.count("*").alias("n"))
        .agg(F.sum(F.col("n") * (F.col("n") - 1) / 2).cast("long").alias("pairs"))
        .first()
    )
    return int(row["pairs"] or 0)
