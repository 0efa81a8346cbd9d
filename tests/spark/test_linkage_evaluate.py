"""The accuracy benchmark's pieces (scv.linkage.evaluate) on tiny inputs; `make evaluate` runs
the whole thing."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from scv.linkage.evaluate import _febrl_frames, _febrl_silver, _pandas_pairwise, febrl_config, format_report


def test_pairwise_figures_count_pairs_within_groups():
    # Truth: {1,2,3} and {4,5}; predicted: {1,2}, {3,4}, {5}.
    figures = _pandas_pairwise(pd.Series([1, 1, 2, 2, 3]), pd.Series(["a", "a", "a", "b", "b"]))
    # 4 true pairs; 2 predicted pairs, of which 1 (1-2) is true.
    assert figures == {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "tp": 1, "fp": 1, "fn": 3}


def test_febrl_records_go_through_scv_standardisation(spark):
    (name, frame), = _febrl_frames()["febrl3"]
    silver, truth = _febrl_silver(spark, [(name, frame.head(20))])
    rows = {r.record_id: r for r in silver.collect()}
    assert len(rows) == 20 and truth.count() == 20
    first_id = f"febrl3:{frame.index[0].strip()}"
    row = rows[first_id]
    source = frame.iloc[0]
    assert row.first_name == source["given_name"].strip().lower()
    assert row.soc_sec_id == source["soc_sec_id"].strip()
    assert row.date_of_birth == dt.datetime.strptime(source["date_of_birth"].strip(), "%Y%m%d").date()
    assert {r.person_id for r in truth.collect()} == {
        "-".join(i.strip().split("-")[:2]) for i in frame.head(20).index
    }


def test_report_lists_both_models_and_hard_negatives():
    figures = {"precision": 1.0, "recall": 0.5, "f1": 2 / 3}
    report = format_report([
        {"dataset": "generated", "scv": {**figures, "merged_twin_group_pairs": 0}},
        {"dataset": "febrl3", "scv": figures, "splink_recipe": figures},
    ])
    lines = report.splitlines()
    assert len(lines) == 4 and "twin_group merged: 0" in lines[1]
    assert lines[3].split()[:2] == ["febrl3", "splink_recipe"]


def test_a_febrl_record_without_surname_is_linkable_by_its_social_security_id(spark):
    (name, frame), = _febrl_frames()["febrl3"]
    sample = frame.head(20).copy()
    sample.iloc[0, sample.columns.get_loc("surname")] = None
    silver, _ = _febrl_silver(spark, [(name, sample)])
    row = silver.where(f"record_id = 'febrl3:{sample.index[0].strip()}'").first()
    # The silver contract alone would call it unlinkable: no last name, no email or phone.
    assert row.last_name is None and row.email is None and row.phone is None
    assert row.soc_sec_id and row.is_linkable is True


def test_febrl_scores_address_parts_separately_and_turns_the_household_rules_off():
    config = febrl_config()
    names = [c.get_comparison("spark").output_column_name for c in config.comparisons]
    assert {"street_number", "postcode", "city", "soc_sec_id"} <= set(names) and "address" not in names
    assert config.conflicting_comparisons == () and config.cluster_conflicts == ()


def test_febrl4_sample_links_at_the_accuracy_floor(spark, tmp_path):
    """FEBRL4's first 600 originals and their duplicates, through scv's standardisation,
    training, prediction and clustering (``make evaluate`` runs all 5,000 pairs)."""
    from scv.linkage.evaluate import link_and_score

    (_, a), (_, b) = _febrl_frames()["febrl4"]
    originals = a.sort_index().head(600)
    wanted = {i.strip().replace("-org", "-dup-0") for i in originals.index}
    duplicates = b[[i.strip() in wanted for i in b.index]]
    assert len(duplicates) == 600
    silver, truth = _febrl_silver(spark, [("a", originals), ("b", duplicates)])
    result = link_and_score(spark, silver, truth, febrl_config(), tmp_path / "models")
    assert result["records"] == 1200
    assert result["precision"] >= 0.99 and result["recall"] >= 0.98, result
