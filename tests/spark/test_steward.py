"""Steward labels: CSV inbox and CLI writer, forced links and splits in clustering, agreement.

Pairs are written by hand (no model needed): clustering only reads ``record_id_l/_r``,
``match_probability`` and ``conflict``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from scv.linkage import cluster_records
from scv.steward import (
    InvalidLabels,
    agreement_with_labels,
    current_labels,
    import_label_inbox,
    label_inbox,
    label_pair,
)

PAIR_SCHEMA = "record_id_l string, record_id_r string, match_probability double, conflict boolean"
LABEL_SCHEMA = "record_id_l string, record_id_r string, is_match boolean"
RECORDS = ["a", "b", "c", "d", "e", "f", "g"]


@pytest.fixture(scope="module")
def nodes(spark):
    return spark.createDataFrame([(r,) for r in RECORDS], "record_id string")


@pytest.fixture(scope="module")
def chain(spark):
    # a-b-c-d is a chain of strong links (b-c the weakest); e-f is a pair the model missed
    # (below the threshold); g is alone.
    return spark.createDataFrame(
        [
            ("a", "b", 0.99, False),
            ("b", "c", 0.85, False),
            ("c", "d", 0.97, False),
            ("e", "f", 0.40, False),
        ],
        PAIR_SCHEMA,
    )


def _clusters(spark, nodes, pairs, labels=None, method="label_propagation"):
    rows = cluster_records(spark, nodes, pairs, 0.8, labels=labels, method=method).collect()
    return {r.record_id: r.cluster_id for r in rows}


@pytest.mark.parametrize("method", ["label_propagation", "splink"])
def test_forced_split_holds_against_transitive_links_and_forced_link_joins(
    spark, nodes, chain, method
):
    without = _clusters(spark, nodes, chain, method=method)
    assert without["a"] == without["d"] and without["e"] != without["f"]

    # a and d are split by a steward although a-b-c-d connects them; e and f are linked.
    labels = spark.createDataFrame([("d", "a", False), ("e", "f", True)], LABEL_SCHEMA)
    clusters = _clusters(spark, nodes, chain, labels, method=method)

    assert clusters["a"] != clusters["d"]
    # The weakest link of the chain (b-c) is the one cut: a-b and c-d stay together.
    assert clusters["a"] == clusters["b"] == "a" and clusters["c"] == clusters["d"] == "c"
    assert clusters["e"] == clusters["f"] == "e" and clusters["g"] == "g"


def test_forced_split_of_a_direct_pair_and_labels_of_absent_records(spark, nodes, chain):
    labels = spark.createDataFrame(
        [("a", "b", False), ("g", "zz-erased", True), ("c", "zz-erased", True)], LABEL_SCHEMA
    )
    clusters = _clusters(spark, nodes, chain, labels)
    # b is still linked to c (and d); a is on its own; the absent record joins nothing.
    assert clusters["a"] == "a" and clusters["b"] == clusters["c"] == clusters["d"] == "b"
    assert clusters["g"] == "g" and "zz-erased" not in clusters


def test_label_inbox_csv_and_cli_feed_one_table(spark, settings, tmp_path):
    inbox = tmp_path / "landing" / "_steward" / "labels"
    inbox.mkdir(parents=True)
    assert label_inbox(settings) == str(inbox)
    (inbox / "monday.csv").write_text(
        "record_id_a,record_id_b,decision,labelled_by,labelled_at,note\n"
        "crm:2,crm:1,match,ann,2026-11-20 10:00:00,same person\n"
        "crm:3,webshop:9, NON_MATCH ,ann,2026-11-20 10:05:00,\n"
    )
    (inbox / "readme.txt").write_text("not a label file\n")

    assert import_label_inbox(spark, settings) == 2
    assert import_label_inbox(spark, settings) == 2  # offered again, changes nothing
    table = {(r.record_id_l, r.record_id_r): r for r in current_labels(spark, settings).collect()}
    assert set(table) == {("crm:1", "crm:2"), ("crm:3", "webshop:9")}
    assert table[("crm:1", "crm:2")].is_match and not table[("crm:3", "webshop:9")].is_match
    assert table[("crm:1", "crm:2")].labelled_by == "ann"

    # A later decision on the same pair from the CLI replaces the CSV's.
    label_pair(spark, settings, "crm:1", "crm:2", "non_match", labelled_by="bob")
    table = {(r.record_id_l, r.record_id_r): r for r in current_labels(spark, settings).collect()}
    assert len(table) == 2
    assert not table[("crm:1", "crm:2")].is_match and table[("crm:1", "crm:2")].labelled_by == "bob"
    assert table[("crm:1", "crm:2")].label_source == "cli"
    assert table[("crm:1", "crm:2")].labelled_at > dt.datetime(2026, 11, 21)

    with pytest.raises(InvalidLabels, match="maybe"):
        label_pair(spark, settings, "crm:1", "crm:5", "maybe", labelled_by="bob")
    with pytest.raises(InvalidLabels, match="different"):
        label_pair(spark, settings, "crm:1", "crm:1", "match", labelled_by="bob")


def test_agreement_with_labels_counts_the_models_decisions(spark, chain):
    labels = spark.createDataFrame(
        [("a", "b", True), ("b", "c", False), ("e", "f", True), ("a", "g", False)], LABEL_SCHEMA
    )
    figures = agreement_with_labels(chain, labels, 0.8)
    # a-b: true positive; b-c: linked but labelled apart (false positive); e-f: missed (false
    # negative); a-g: never scored and labelled apart (true negative).
    assert figures == {"labels": 4, "tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5}


def test_conflicts_can_be_kept_apart_like_forced_splits(spark, nodes, chain):
    from scv.linkage import LinkageConfig

    # a-d scored as a conflict (e.g. twins: different first names) while a-b-c-d chains them.
    pairs = chain.unionByName(spark.createDataFrame([("a", "d", 0.9, True)], PAIR_SCHEMA))
    default = cluster_records(spark, nodes, pairs, 0.8).collect()
    assert len({r.cluster_id for r in default if r.record_id in "abcd"}) == 1
    apart = cluster_records(
        spark, nodes, pairs, 0.8, config=LinkageConfig(keep_conflicts_apart=True)
    ).collect()
    clusters = {r.record_id: r.cluster_id for r in apart}
    assert clusters["a"] == clusters["b"] != clusters["c"] == clusters["d"]
