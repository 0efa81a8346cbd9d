"""Typed configuration of entity resolution: model, blocking, thresholds, budget, Spark tuning.

Blocking rules are Spark SQL conditions over ``l.`` and ``r.`` records. They are kept as strings
so that a rule reads the same in the configuration, in the comparison counts, in error messages
and in the model file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from splink.internals.comparison_creator import ComparisonCreator

from scv.linkage.comparisons import default_comparisons

# Rules that generate the pairs to score. Together they must find nearly every true match
# (recall) while each stays small on skewed values (the comparison budget). Each pairs a strong
# identifier with something that survives typos, nicknames, moves or a changed email.
DEFAULT_PREDICTION_BLOCKING_RULES: tuple[str, ...] = (
    "l.email = r.email",
    "l.phone = r.phone",
    "l.date_of_birth = r.date_of_birth AND l.last_name_phonetic = r.last_name_phonetic",
    "l.date_of_birth = r.date_of_birth AND l.first_name_canonical = r.first_name_canonical",
    "l.postcode = r.postcode AND l.first_name_phonetic = r.first_name_phonetic",
    # Only where a date of birth is missing: namesakes with two different dates of birth score
    # as non-matches anyway. At 100,000 generated people this keeps precision and recall
    # (0.9854 / 0.9721) with 406k instead of 747k comparisons for the rule; at 1,000,000 the
    # unrestricted rule alone was 75M comparisons, over the budget.
    "l.last_name = r.last_name AND l.first_name_canonical = r.first_name_canonical "
    "AND (l.date_of_birth IS NULL OR r.date_of_birth IS NULL)",
)

# Rules for expectation maximisation. The m values of the comparisons a rule blocks on cannot be
# estimated from its pairs, so between them every comparison is left free at least once. No rule
# may admit many look-alike non-matches: EM learns whatever dominates a block as "a match", so a
# block of relatives (a shared address, landline or family email) or of twins (a shared date of
# birth, surname and address) teaches it that a different first name is normal for a match.
DEFAULT_TRAINING_BLOCKING_RULES: tuple[str, ...] = (
    "l.first_name = r.first_name AND l.last_name = r.last_name",
    "l.date_of_birth = r.date_of_birth AND l.email = r.email",
)

# Near-certain matches, used with their assumed recall to estimate the prior (the probability
# that two random records match).
DEFAULT_DETERMINISTIC_RULES: tuple[str, ...] = (
    "l.first_name = r.first_name AND l.last_name = r.last_name "
    "AND l.date_of_birth = r.date_of_birth",
    "l.email = r.email AND l.date_of_birth = r.date_of_birth",
)

# Splink's other methods are not offered: "delta_lake_files" writes without a path in Splink
# 5.0, and the clean-up of "checkpoint" and "delta_lake_table" outputs is not implemented.
BREAK_LINEAGE_METHODS = ("parquet", "persist")


# Fields LinkageConfig.cluster_conflicts can name.
CLUSTER_CONFLICT_FIELDS = ("date_of_birth",)


@dataclass(frozen=True)
class LinkageConfig:
    """Everything that decides how records are linked; defaults suit the silver contract.

    Attributes:
        comparisons: Splink comparisons the model is trained with (see ``comparisons.py``).
        prediction_blocking_rules: rules generating the pairs scored by ``predict_*``; they
            override the rules stored in a model file, because they are a cost decision made per
            run, not a model parameter.
        training_blocking_rules: one EM session per rule.
        deterministic_rules / deterministic_rules_recall: estimate the prior probability that
            two random records match.
        match_threshold: pairs at or above this probability are linked by clustering.
        conflicting_comparisons: comparisons whose bottom level ("All other comparisons": both
            values present, nothing alike) marks a pair as a ``conflict`` that clustering never
            links, whatever its probability. The model scores evidence as independent, so
            relatives who share a surname, an address, a landline and an email (a spouse, a
            twin with the same date of birth) can outscore a different first name; a first
            name that is neither equal, a nickname, a near typo nor a phonetic match is
            taken as proof of two people. So is a date of birth at its bottom level (the year
            and another part differ: not a typo, not a day/month transposition), which is what
            separates a father from his namesake son living at the same address. Stewards can
            still link such pairs.
        keep_conflicts_apart: also keep the two records of a conflicting pair in different
            clusters when a chain of other links would join them (as a steward's forced split).
            Off by default: on the generated data it merged no fewer hard negatives and cost
            recall (true matches with an unrecognised first name are rejoined through chains).
        cluster_conflicts: fields on which two records of one cluster may not conflict, whether
            or not they were scored as a pair; a cluster holding such a pair is re-clustered
            (greedy, strongest links first, as a steward's forced split). Only
            ``"date_of_birth"`` is supported: both present, the years differ and month and day
            are not both equal (the date-of-birth comparison's bottom level: not a typo, not a
            day/month transposition). A conflict between scored records is already a
            ``conflict`` pair; this also catches a father and his namesake son joined through
            their records without a date of birth, which pairs never see. Measured on generated
            data (100,000 people): precision 0.9853 -> 0.9965 at recall 0.9719 -> 0.9716,
            merged household pairs 2,691 -> 658. The same check on first names cost more
            recall than it gained (recall 0.9695) and is not offered.
        cluster_conflict_max_records: most records with a date of birth in one cluster that
            the check compares all pairs of (a cluster above it is left as it is and logged:
            it needs a steward, not a quadratic join).
        driver_clustering_max_links: most links (pairs at or above the threshold) clustered by
            union-find on the driver; above it clustering runs as label propagation in Spark
            (see :func:`scv.linkage.clustering.cluster_records`). Each link costs the driver
            about 200 bytes while clustering.
        review_band: (low, high) probabilities of pairs a steward should look at.
        comparison_budget: most comparisons a prediction may generate; above it the run fails
            before scoring anything.
        count_sample_proportion: share of records sampled on each side when counting
            comparisons; ``None`` counts exactly up to ``exact_count_max_records`` linkable
            records and samples above that.
        u_max_pairs: pairs sampled to estimate u probabilities.
        u_num_chunks: chunks the u sample is scored in; Splink stops early once every level
            has been seen often enough, but each chunk is a Spark job per comparison, so one
            chunk is faster on Spark. With one chunk, scv scores the sample once for all
            comparisons (:func:`scv.linkage.u_estimation.estimate_u_in_one_pass`, same values).
        em_max_pairs: pairs sampled per EM session (``None``: all blocked pairs).
        em_without_term_frequencies: run EM iterations on counts of agreement patterns instead
            of on every pair (Splink's ``estimate_without_term_frequencies``): each iteration
            then reads a table of a few thousand rows, whatever the data size.
        em_max_iterations / em_convergence: when an EM session stops.
        seed: seed of every random sample, so that training is repeatable.
        spark_break_lineage_method: how Splink materialises intermediate tables (see
            ``scv.linkage._backend``).
        spark_checkpoint_dir: where ``"parquet"`` writes them and clustering its scratch files,
            unless the SparkContext already has a checkpoint directory; must be shared by
            driver and executors on a cluster (``None``: the local temporary directory).
        spark_num_partitions_on_repartition: partitions of Splink's repartitioned tables
            (``None``: Splink's default, half of ``spark.sql.shuffle.partitions``).
        spark_repartition_after_blocking: Splink's option to repartition blocked pairs before
            scoring them (helps when a few blocks dominate).
    """

    comparisons: tuple[ComparisonCreator, ...] = field(default_factory=default_comparisons)
    prediction_blocking_rules: tuple[str, ...] = DEFAULT_PREDICTION_BLOCKING_RULES
    training_blocking_rules: tuple[str, ...] = DEFAULT_TRAINING_BLOCKING_RULES
    deterministic_rules: tuple[str, ...] = DEFAULT_DETERMINISTIC_RULES
    deterministic_rules_recall: float = 0.7
    # Measured with scv.linkage.evaluate on generated people. 2,000 people, with a plain
    # "same user name" email level: 0.8 -> P 0.982 / R 0.975, 0.9 -> P 0.986 / R 0.973,
    # 0.95 -> P 0.991 / R 0.972. With the user name counted only with a digit (see
    # comparisons.email_comparison), 0.9 -> P 0.987 / R 0.973 at 2,000 people and
    # P 0.985 / R 0.972 at 100,000 (248,324 records; 0.914 / 0.972 before: namesakes).
    # 0.9 keeps a margin on recall.
    match_threshold: float = 0.9
    conflicting_comparisons: tuple[str, ...] = ("first_name", "date_of_birth")
    keep_conflicts_apart: bool = False
    cluster_conflicts: tuple[str, ...] = ("date_of_birth",)
    cluster_conflict_max_records: int = 1000
    driver_clustering_max_links: int = 2_000_000
    review_band: tuple[float, float] = (0.5, 0.98)
    comparison_budget: int = 50_000_000
    count_sample_proportion: float | None = None
    exact_count_max_records: int = 200_000
    u_max_pairs: float = 5e6
    u_num_chunks: int = 1
    em_max_pairs: float | None = 5e6
    em_without_term_frequencies: bool = True
    em_max_iterations: int = 25
    em_convergence: float = 1e-4
    seed: int = 42
    spark_break_lineage_method: str = "parquet"
    spark_checkpoint_dir: str | None = None
    spark_num_partitions_on_repartition: int | None = None
    spark_repartition_after_blocking: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.match_threshold < 1:
            problems.append(f"match_threshold must be in (0, 1), got {self.match_threshold}")
        low, high = self.review_band
        if not 0 <= low < high <= 1:
            problems.append(
                f"review_band must be (low, high) with 0 <= low < high <= 1, got {self.review_band}"
            )
        if not 0 < self.deterministic_rules_recall <= 1:
            problems.append("deterministic_rules_recall must be in (0, 1]")
        if self.driver_clustering_max_links < 0:
            problems.append("driver_clustering_max_links must not be negative")
        unknown = sorted(set(self.cluster_conflicts) - set(CLUSTER_CONFLICT_FIELDS))
        if unknown:
            problems.append(f"cluster_conflicts supports {CLUSTER_CONFLICT_FIELDS}, got {unknown}")
        if self.cluster_conflict_max_records < 2:
            problems.append("cluster_conflict_max_records must be at least 2")
        if self.comparison_budget <= 0:
            problems.append("comparison_budget must be positive")
        if self.count_sample_proportion is not None and not 0 < self.count_sample_proportion <= 1:
            problems.append("count_sample_proportion must be in (0, 1] or None")
        for name in ("comparisons", "prediction_blocking_rules", "training_blocking_rules"):
            if not getattr(self, name):
                problems.append(f"{name} must not be empty")
        if self.spark_break_lineage_method not in BREAK_LINEAGE_METHODS:
            problems.append(
                f"spark_break_lineage_method must be one of {BREAK_LINEAGE_METHODS}, "
                f"got {self.spark_break_lineage_method!r}"
            )
        if problems:
            raise ValueError("invalid LinkageConfig: " + "; ".join(problems))

    @property
    def pair_threshold(self) -> float:
        """Lowest probability a predicted pair is kept at: below it a pair neither links nor
        needs review."""
        return min(self.review_band[0], self.match_threshold)
