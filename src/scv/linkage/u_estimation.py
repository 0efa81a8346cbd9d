"""u probabilities by random sampling, every comparison in one pass over the sampled pairs.

Splink 5's ``linker.training.estimate_u_using_random_sampling`` draws one sample of records,
then, for each comparison in turn, joins the sample with itself and counts the pairs per level
of that one comparison: with ``c`` comparisons the ``max_pairs`` sampled pairs are generated and
scanned ``c`` times. :func:`estimate_u_in_one_pass` draws the same sample (Splink's own
proportion and seeded sampling SQL), generates the pairs once, computes every comparison's
level for each pair in the same query and counts the pairs per agreement pattern; the counts
per level of each comparison are sums over those patterns. The u probabilities are then set
on the linker exactly as Splink sets them (unobserved levels marked as such, the training
description Splink uses), so the model, its charts and its JSON are what Splink's method
gives for one chunk (``num_chunks=1``): ``tests/spark/test_linkage.py`` checks that
both give the same values.

It uses Splink's internal SQL builders (pinned ``splink==5.0.x``), which is why it checks the
one case it supports, a dedupe of one input table, and refuses anything else.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from copy import deepcopy
from typing import Any

from splink import Linker
from splink.internals.blocking import _sql_gen_where_condition
from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT
from splink.internals.estimate_u import _rows_needed_for_n_pairs
from splink.internals.m_u_records_to_parameters import (
    append_u_probability_to_comparison_level_trained_probabilities,
    m_u_records_to_lookup_dict,
)
from splink.internals.misc import indent_sql
from splink.internals.pipeline import CTEPipeline
from splink.internals.settings import Settings
from splink.internals.unique_id_concat import _composite_unique_id_from_nodes_sql
from splink.internals.vertically_concatenate import enqueue_df_concat

logger = logging.getLogger(__name__)

# What Splink records as the origin of u values estimated this way (shown in its charts).
TRAINING_DESCRIPTION = "estimate u by random sampling"


def without_term_frequencies(comparisons) -> None:
    """Make every level of ``comparisons`` ignore term frequencies (in place), as Splink's own u
    sampling and its EM with ``estimate_without_term_frequencies=True`` do."""
    for comparison in comparisons:
        for level in comparison.comparison_levels:
            level._tf_adjustment_column = None


def estimate_u_in_one_pass(linker: Linker, max_pairs: float, seed: int | None = None) -> dict[str, Any]:
    """Estimate every comparison's u probabilities from about ``max_pairs`` random pairs.

    Returns what was measured: ``pairs`` scored, ``patterns`` (distinct agreement patterns)
    and the sampled ``proportion`` of the records. Raises ``ValueError`` for link types other
    than ``dedupe_only`` or for more than one input table (use Splink's method there).
    """
    settings_obj = linker._settings_obj
    if settings_obj._link_type != "dedupe_only" or len(linker._input_tables_dict) != 1:
        raise ValueError(
            "estimate_u_in_one_pass supports a dedupe of one input table; got link type "
            f"{settings_obj._link_type!r} with {len(linker._input_tables_dict)} tables"
        )
    db_api = linker._db_api

    pipeline = enqueue_df_concat(linker, CTEPipeline())
    pipeline.enqueue_sql("select count(*) as count from __splink__df_concat", "__splink__df_concat_count")
    count_frame = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    try:
        total_records = int(count_frame.as_record_list()[0]["count"])
    finally:
        count_frame.drop_table_from_database_and_remove_from_cache()
    if total_records < 2:
        raise ValueError(f"cannot estimate u from {total_records} record(s)")
    sample_size = min(_rows_needed_for_n_pairs(max_pairs), total_records)
    proportion = min(sample_size / total_records, 1.0)

    # As Splink does: a copy of the linker whose comparisons ignore term frequencies.
    sampling_linker = deepcopy(linker)
    sampling_settings = sampling_linker._settings_obj
    sampling_settings._retain_matching_columns = False
    sampling_settings._retain_intermediate_calculation_columns = False
    without_term_frequencies(sampling_settings.comparisons)
    comparisons = sampling_settings.comparisons
    uid_columns = sampling_settings.column_info_settings.unique_id_input_columns
    unique_id_column = sampling_settings.column_info_settings.unique_id_input_column

    pipeline = enqueue_df_concat(sampling_linker, CTEPipeline())
    sample_filter = sampling_linker._proportion_sample_sql(proportion, uid_columns, seed=seed)
    pipeline.enqueue_sql(f"select * from __splink__df_concat where 1=1 {sample_filter}", "__splink__df_concat_sample")
    sample = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    try:
        blocking_columns, vector_columns = pair_columns(uid_columns, comparisons)
        where_condition = _sql_gen_where_condition(
            "dedupe_only", [unique_id_column], right_chunk=(1, 1), sql_dialect=db_api.sql_dialect
        )
        select_blocked = ",\n".join(
            indent_sql(column)
            for column in [
                f"{_composite_unique_id_from_nodes_sql([unique_id_column], 'l')} as join_key_l",
                f"{_composite_unique_id_from_nodes_sql([unique_id_column], 'r')} as join_key_r",
                *blocking_columns,
                "'0' as match_key",
            ]
        )
        pipeline = CTEPipeline(input_dataframes=[sample])
        pipeline.enqueue_sql(
            f"select\n{select_blocked}\nfrom __splink__df_concat_sample as l\n"
            f"inner join __splink__df_concat_sample as r\non (1=1)\n{where_condition}",
            "__splink__blocked_id_pairs",
        )
        pipeline.enqueue_sql(
            "select\n" + ",\n".join(indent_sql(c) for c in vector_columns) + "\nfrom __splink__blocked_id_pairs",
            "__splink__df_comparison_vectors",
        )
        gammas = [comparison._gamma_column_name for comparison in comparisons]
        pipeline.enqueue_sql(
            f"select {', '.join(gammas)}, count(*) as pair_count\n"
            f"from __splink__df_comparison_vectors\ngroup by {', '.join(gammas)}",
            "__splink__u_agreement_pattern_counts",
        )
        patterns_frame = db_api.sql_pipeline_to_splink_dataframe(pipeline)
        try:
            patterns = patterns_frame.as_record_list()
        finally:
            patterns_frame.drop_table_from_database_and_remove_from_cache()
    finally:
        sample.drop_table_from_database_and_remove_from_cache()

    counts: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    pairs = 0
    for pattern in patterns:
        n = int(pattern["pair_count"])
        pairs += n
        for comparison in comparisons:
            counts[comparison.output_column_name][int(pattern[comparison._gamma_column_name])] += n

    records = []
    for comparison in comparisons:
        name = comparison.output_column_name
        # Every level but the null level, observed or not (as Splink's accumulator does);
        # u is the level's share of the pairs where the comparison is not null.
        level_counts = {int(level.comparison_vector_value): counts[name].get(int(level.comparison_vector_value), 0.0)
                        for level in comparison._comparison_levels_excluding_null}
        total = sum(level_counts.values())
        for value, count in sorted(level_counts.items()):
            records.append({
                "output_column_name": name,
                "comparison_vector_value": value,
                "m_probability": None,
                "u_probability": count / total if count else LEVEL_NOT_OBSERVED_TEXT,
            })
    lookup = m_u_records_to_lookup_dict(records)
    for comparison in settings_obj.comparisons:
        for level in comparison._comparison_levels_excluding_null:
            append_u_probability_to_comparison_level_trained_probabilities(
                level, lookup, comparison.output_column_name, TRAINING_DESCRIPTION
            )
    linker._populate_m_u_from_trained_values()  # as Splink's method does after estimating
    logger.info("estimated u for %s comparisons from %s random pairs (%s agreement patterns) in one pass",
                len(comparisons), f"{pairs:,}", len(patterns))
    return {"pairs": pairs, "patterns": len(patterns), "proportion": proportion}


def pair_columns(uid_columns: list[Any], comparisons: list[Any]) -> tuple[list[str], list[str]]:
    """What a pair of records needs for its levels: the ``_l``/``_r`` columns to select from
    both records, and the columns of the comparison vector (ids and ``gamma_*``, plus the
    term-frequency columns of comparisons that still have them)."""
    blocking_columns = [name for uid in uid_columns for name in uid.l_r_names_as_l_r]
    for comparison in comparisons:
        blocking_columns.extend(comparison._columns_to_select_for_blocking())
    vector_columns = Settings.columns_to_select_for_comparison_vector_values(
        unique_id_input_columns=uid_columns,
        comparisons=comparisons,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
    )
    return list(dict.fromkeys(blocking_columns)), vector_columns
