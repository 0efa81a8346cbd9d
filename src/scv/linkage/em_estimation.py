"""m probabilities by expectation maximisation, the iterations run in-process on DuckDB.

With ``estimate_without_term_frequencies=True`` Splink 5's EM reduces the blocked pairs'
comparison vectors to counts of agreement patterns (a few hundred to a few thousand rows) and
then runs every iteration as a query over those counts. On Spark each iteration is a Spark job:
about a second of scheduling and planning for a few kilobytes of data, ten or more times per
training rule. :func:`estimate_m_with_em_in_process` does the heavy part on Spark in one query
(Splink's blocking SQL and EM sample, Splink's comparison-vector SQL, the count), collects the
counts and runs Splink's own ``expectation_maximisation`` over them on an in-memory DuckDB:
the same SQL, the same convergence test, the same training session (its history, its charts)
and the same m values in the linker as Splink's method, up to the order in which
floating-point sums are taken. ``tests/spark/test_linkage.py`` checks that both give the same
m values and iteration histories.

It drives Splink's ``EMTrainingSession`` (pinned ``splink==5.0.x``); with term frequencies in
the iterations (``estimate_without_term_frequencies=False``) each iteration needs every pair,
so :func:`scv.linkage.training.train_model` uses Splink's method there.
"""

from __future__ import annotations

import logging
import time
from copy import deepcopy
from typing import Any

from splink import DuckDBAPI, Linker
from splink.internals.blocking import BlockingRule, block_using_rules_sqls
from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator
from splink.internals.comparison_vector_values import compute_comparison_vector_values_from_id_pairs_sqls
from splink.internals.em_training_session import EMTrainingSession
from splink.internals.exceptions import EMTrainingException
from splink.internals.expectation_maximisation import count_agreement_patterns_sql
from splink.internals.pipeline import CTEPipeline
from splink.internals.vertically_concatenate import enqueue_df_concat

from scv.linkage.u_estimation import pair_columns, without_term_frequencies

logger = logging.getLogger(__name__)

_COUNT_COLUMN = "agreement_pattern_count"


def estimate_m_with_em_in_process(
    linker: Linker, blocking_rule: str, *, max_pairs: float | None = None
) -> EMTrainingSession:
    """Estimate m probabilities by EM on the pairs ``blocking_rule`` gives, as Splink's
    ``linker.training.estimate_parameters_using_expectation_maximisation(blocking_rule,
    estimate_without_term_frequencies=True, max_pairs=max_pairs)`` does, with u fixed and
    the prior not saved (Splink's defaults). Returns the training session.

    Unlike Splink's method it does not build the term-frequency tables (no level depends on
    them, and the iterations ignore them)."""
    rule = to_blocking_rule_creator(blocking_rule).get_blocking_rule(linker._sql_dialect_str)
    if not isinstance(rule, BlockingRule):
        raise TypeError("EM blocking rules must be plain blocking rules, not exploding ones")
    settings_obj = linker._settings_obj
    spark_api = linker._db_api
    session = EMTrainingSession(
        linker,
        db_api=spark_api,
        blocking_rule_for_training=rule,
        core_model_settings=settings_obj.core_model_settings,
        training_settings=settings_obj.training_settings,
        unique_id_input_columns=settings_obj.column_info_settings.unique_id_input_columns,
        # Splink's method's defaults: u stays as estimated, m and the prior are estimated.
        fix_u_probabilities=True,
        fix_m_probabilities=False,
        fix_probability_two_random_records_match=False,
        estimate_without_term_frequencies=True,
        max_pairs=max_pairs,
    )
    started = time.monotonic()
    pattern_counts = _agreement_pattern_counts(linker, session)
    counted = time.monotonic()

    duckdb_api = DuckDBAPI()
    gammas = [comparison._gamma_column_name for comparison in session.core_model_settings.comparisons]
    duckdb_api.duckdb_con.register("scv_em_pattern_counts", pattern_counts)
    # Splink's EM counts the patterns of the pairs' vectors itself (count(*) per pattern), so
    # each pattern is given back as many rows as it had pairs: small integers, a few million
    # rows at most (EM's max_pairs), which DuckDB builds and groups in well under a second.
    duckdb_api.duckdb_con.execute(
        f"create table scv_em_comparison_vectors as select {', '.join(gammas)} from "
        f"(select {', '.join(gammas)}, unnest(range({_COUNT_COLUMN})) from scv_em_pattern_counts)"
    )
    vectors = duckdb_api.table_to_splink_dataframe(
        "__splink__df_comparison_vectors", "scv_em_comparison_vectors"
    )
    session.db_api = duckdb_api
    try:
        core_model_settings = session._train(vectors)
    finally:
        session.db_api = spark_api
        duckdb_api.duckdb_con.close()

    # What Splink's method does with the trained values.
    settings_obj.core_model_settings = core_model_settings
    linker._em_training_sessions.append(session)
    linker._populate_m_u_from_trained_values()
    settings_obj._columns_without_estimated_parameters_message()
    logger.info(
        "EM on %s: %s pairs in %s agreement patterns counted on Spark in %.1fs, "
        "%s iterations in-process in %.1fs",
        rule.blocking_rule_sql,
        f"{sum(pattern_counts.column(_COUNT_COLUMN).to_pylist()):,}",
        pattern_counts.num_rows,
        counted - started,
        len(session._core_model_settings_history) - 1,
        time.monotonic() - counted,
    )
    return session


def _agreement_pattern_counts(linker: Linker, session: EMTrainingSession) -> Any:
    """The training pairs' agreement patterns and their counts, as an Arrow table.

    Splink materialises the blocked pairs, then the pairs' comparison vectors joined with the
    term-frequency tables, then counts them. Counting needs only the levels (``gamma_*``), and
    a level never depends on a term frequency, so here one Spark query blocks (with Splink's
    blocking SQL and EM sample), computes the levels with Splink's SQL on comparisons stripped
    of their term-frequency columns, and counts: nothing is written and nothing is joined
    with the term-frequency tables, and the counts are the ones Splink's method counts.
    """
    session._training_log_message()
    session._ensure_em_sampling_settings()
    settings_obj = linker._settings_obj
    info = settings_obj.column_info_settings
    comparisons = deepcopy(session.core_model_settings.comparisons)
    without_term_frequencies(comparisons)

    blocking_columns, vector_columns = pair_columns(info.unique_id_input_columns, comparisons)
    pipeline = enqueue_df_concat(linker, CTEPipeline())
    pipeline.enqueue_list_of_sqls(
        block_using_rules_sqls(
            input_tablename_l="__splink__df_concat",
            input_tablename_r="__splink__df_concat",
            blocking_rules=[session._blocking_rule_for_training],
            link_type=settings_obj._link_type,
            source_dataset_input_column=info.source_dataset_input_column,
            unique_id_input_column=info.unique_id_input_column,
            sample_threshold=session._sample_threshold,
            sample_modulus=session._sample_modulus,
        )
    )
    pipeline.enqueue_list_of_sqls(
        compute_comparison_vector_values_from_id_pairs_sqls(
            blocking_columns,
            vector_columns,
            input_tablename_l="__splink__df_concat",
            input_tablename_r="__splink__df_concat",
            source_dataset_input_column=info.source_dataset_input_column,
            unique_id_input_column=info.unique_id_input_column,
        )
    )
    pipeline.enqueue_sql(count_agreement_patterns_sql(comparisons), "__splink__agreement_pattern_counts")
    counts = linker._db_api._execute_sql_against_backend(pipeline.generate_cte_pipeline_sql()).toArrow()
    if counts.num_rows == 0:
        rule = session._blocking_rule_for_training.blocking_rule_sql
        raise EMTrainingException(
            f"Training rule `{rule}` resulted in no record pairs: EM needs pairs of records "
            "for which the rule is true (at least a few hundred, preferably thousands)."
        )
    return counts
