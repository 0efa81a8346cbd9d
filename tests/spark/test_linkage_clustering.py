"""Clustering and pairwise evaluation on hand-written pairs (no model needed)."""

from __future__ import annotations

import pytest

from scv.linkage import LinkageConfig, cluster_records, hard_negative_merges, pairwise_metrics

RECORDS = ["a", "b", "c", "d", "e", "f", "g"]
# a-b-c linked through b (a-c scored but below the threshold); d-e scored below it; f-g never
# scored; b-d scored below the threshold must not join the two groups.
PAIRS = [
    ("a", "b", 0.95),
    ("b", "c", 0.92),
    ("a", "c", 0.50),
    ("d", "e", 0.30),
    ("b", "d", 0.40),
]


@pytest.fixture
def silver(spark):
    return spark.createDataFrame(
        [(r, "crm") for r in RECORDS], "record_id string, source_system string"
    )


@pytest.fixture
def pairs(spark):
    return spark.createDataFrame(
        PAIRS, "record_id_l string, record_id_r string, match_probability double"
    )


@pytest.mark.parametrize("method", ["auto", "driver", "label_propagation", "splink"])
def test_every_record_once_with_zingg_style_min_and_max(spark, silver, pairs, method):
    clusters = cluster_records(spark, silver, pairs, 0.9, method=method)

    rows = {r["record_id"]: r for r in clusters.collect()}
    assert sorted(rows) == RECORDS
    assert {r: rows[r]["cluster_id"] for r in RECORDS} == {
        "a": "a", "b": "a", "c": "a", "d": "d", "e": "e", "f": "f", "g": "g",
    }
    # The lowest probability counts pairs below the threshold inside the cluster (a-c), but not
    # pairs leaving it (b-d).
    assert (rows["a"]["min_match_probability"], rows["a"]["max_match_probability"]) == (0.5, 0.95)
    assert (rows["b"]["min_match_probability"], rows["b"]["max_match_probability"]) == (0.92, 0.95)
    assert (rows["c"]["min_match_probability"], rows["c"]["max_match_probability"]) == (0.5, 0.92)
    for singleton in "defg":
        assert rows[singleton]["min_match_probability"] is None
        assert rows[singleton]["max_match_probability"] is None


@pytest.mark.parametrize("max_links", [0, 1, 100])
def test_auto_clusters_on_the_driver_up_to_a_limit_then_in_spark(spark, caplog, max_links):
    # Two components whose smallest ids are not at the ends of their links.
    edges = [("m", "z", 0.99), ("b", "m", 0.95), ("q", "x", 0.97), ("c", "x", 0.93)]
    silver = spark.createDataFrame([(r,) for r in "bcmqxzy"], "record_id string")
    pairs = spark.createDataFrame(
        edges, "record_id_l string, record_id_r string, match_probability double"
    )
    config = LinkageConfig(driver_clustering_max_links=max_links)

    with caplog.at_level("INFO", logger="scv.linkage.clustering"):
        clusters = cluster_records(spark, silver, pairs, 0.9, config=config)

    assert {r["record_id"]: r["cluster_id"] for r in clusters.collect()} == {
        "b": "b", "m": "b", "z": "b", "c": "c", "q": "c", "x": "c", "y": "y",
    }
    on_driver = "union-find on the driver" in caplog.text
    assert on_driver == (max_links >= len(edges))


def test_no_links_on_the_driver_gives_singletons(spark, silver):
    pairs = spark.createDataFrame(
        [("a", "b", 0.2)], "record_id_l string, record_id_r string, match_probability double"
    )
    clusters = cluster_records(spark, silver, pairs, 0.9, method="driver")
    assert {r["record_id"]: r["cluster_id"] for r in clusters.collect()} == {r: r for r in RECORDS}


@pytest.mark.parametrize("method", ["driver", "label_propagation"])
def test_long_chains_converge_to_the_smallest_id(spark, method):
    # A path of 40 records whose ids alternate ends, so labels must travel the whole chain.
    ids = [f"r{i:03d}" for i in range(40)]
    path = ids[::2] + ids[1::2][::-1]
    silver = spark.createDataFrame([(r,) for r in ids], "record_id string")
    pairs = spark.createDataFrame(
        [(x, y, 0.99) for x, y in zip(path, path[1:])],
        "record_id_l string, record_id_r string, match_probability double",
    )

    clusters = cluster_records(spark, silver, pairs, 0.9, method=method)

    assert {r["cluster_id"] for r in clusters.collect()} == {"r000"}


def test_duplicate_silver_rows_still_give_one_row_per_record(spark, pairs):
    silver = spark.createDataFrame([(r,) for r in RECORDS + ["a", "f"]], "record_id string")
    clusters = cluster_records(spark, silver, pairs, 0.9)
    assert clusters.count() == len(RECORDS)


def test_pairwise_metrics_count_pairs_within_clusters_and_people(spark):
    predicted = spark.createDataFrame(
        [("1", "A"), ("2", "A"), ("3", "A"), ("4", "B"), ("5", "C"), ("6", "C")],
        "record_id string, cluster_id string",
    )
    truth = spark.createDataFrame(
        [("1", "x", "h1"), ("2", "x", "h1"), ("3", "y", "h1"), ("4", "y", "h1"), ("5", "z", None),
         ("6", "z", None), ("7", "q", None)],
        "record_id string, person_id string, household_id string",
    )

    metrics = pairwise_metrics(predicted, truth)

    # predicted pairs: 1-2 1-3 2-3 5-6; true pairs: 1-2 3-4 5-6 (record 7 is not predicted)
    assert (metrics["tp"], metrics["fp"], metrics["fn"]) == (2, 2, 1)
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # x and y share household h1 and records 1-3, 2-3 put them in one cluster
    assert hard_negative_merges(predicted, truth, "household_id") == 2


def test_pairwise_metrics_without_pairs_are_perfect_not_undefined(spark):
    singletons = spark.createDataFrame(
        [("1", "1"), ("2", "2")], "record_id string, cluster_id string"
    )
    truth = spark.createDataFrame([("1", "x"), ("2", "y")], "record_id string, person_id string")
    assert pairwise_metrics(singletons, truth) == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 0, "fp": 0, "fn": 0,
    }


# A father (f1, dated) and his namesake son (s1, dated) at one address: the son's record links to
# the father's undated records f2 and f3; f1 and s1 were never scored as a pair.
FAMILY = [("f1", "1957-02-04"), ("f2", None), ("f3", None), ("s1", "1996-07-23")]
FAMILY_LINKS = [("f1", "f2", 0.99), ("f2", "f3", 0.99), ("f2", "s1", 0.999), ("f3", "s1", 0.96)]


def _dated(spark, rows):
    return spark.createDataFrame(rows, "record_id string, date_of_birth string").selectExpr(
        "record_id", "CAST(date_of_birth AS DATE) AS date_of_birth"
    )


def _links(spark, rows):
    return spark.createDataFrame(rows, "record_id_l string, record_id_r string, match_probability double")


@pytest.mark.parametrize("method", ["driver", "label_propagation", "splink"])
def test_members_of_a_cluster_with_conflicting_dates_of_birth_are_split(spark, method):
    clusters = cluster_records(spark, _dated(spark, FAMILY), _links(spark, FAMILY_LINKS), 0.9, method=method)

    cluster_of = {r["record_id"]: r["cluster_id"] for r in clusters.collect()}
    assert cluster_of["f1"] != cluster_of["s1"]
    # Greedy, strongest links first: s1 took f2 (0.999) before f1 could (0.99); f3 follows.
    assert cluster_of["f2"] == cluster_of["f3"] == cluster_of["s1"]


def test_without_the_check_the_chain_joins_father_and_son(spark):
    config = LinkageConfig(cluster_conflicts=())
    clusters = cluster_records(spark, _dated(spark, FAMILY), _links(spark, FAMILY_LINKS), 0.9, config=config)
    assert {r["cluster_id"] for r in clusters.collect()} == {"f1"}


def test_typos_in_a_date_of_birth_are_not_conflicts(spark):
    # Day and month transposed, a day off (same year); and in a second cluster another year with
    # the same day and month (a typo in the year): all are levels above the comparison's bottom
    # one, so both clusters stay whole.
    records = [("a", "1957-02-04"), ("b", None), ("c", "1957-04-02"), ("d", "1957-02-05"),
               ("g", "1957-02-04"), ("h", None), ("i", "1975-02-04")]
    links = [("a", "b", 0.99), ("b", "c", 0.99), ("b", "d", 0.99), ("g", "h", 0.99), ("h", "i", 0.99)]
    clusters = cluster_records(spark, _dated(spark, records), _links(spark, links), 0.9)
    cluster_of = {r["record_id"]: r["cluster_id"] for r in clusters.collect()}
    assert cluster_of == {"a": "a", "b": "a", "c": "a", "d": "a", "g": "g", "h": "g", "i": "g"}


def test_a_steward_link_overrides_a_date_of_birth_conflict(spark):
    labels = spark.createDataFrame([("s1", "f1", True)], "record_id_l string, record_id_r string, is_match boolean")
    clusters = cluster_records(
        spark, _dated(spark, FAMILY), _links(spark, FAMILY_LINKS), 0.9, labels=labels
    )
    assert {r["cluster_id"] for r in clusters.collect()} == {"f1"}


def test_clusters_above_the_size_limit_are_logged_not_checked(spark, caplog):
    config = LinkageConfig(cluster_conflict_max_records=1 + 1)
    records = FAMILY + [("f4", "1957-02-04")]
    links = FAMILY_LINKS + [("f1", "f4", 0.99)]
    with caplog.at_level("WARNING", logger="scv.linkage.clustering"):
        clusters = cluster_records(spark, _dated(spark, records), _links(spark, links), 0.9, config=config)
    assert {r["cluster_id"] for r in clusters.collect()} == {"f1"}
    assert "1 cluster(s) with more than 2 dated records not checked (largest: 3)" in caplog.text


def test_only_date_of_birth_conflicts_are_supported():
    with pytest.raises(ValueError, match="cluster_conflicts supports"):
        LinkageConfig(cluster_conflicts=("first_name",))


@pytest.mark.parametrize("seed", [1, 2])
def test_the_driver_gives_what_the_spark_path_gives_on_a_random_graph(spark, seed):
    # Random records (some dated, some conflicting years, some typo years), random scored pairs
    # (some conflicts, some below the threshold) and random steward labels: clustering on the
    # driver and by label propagation in Spark must agree on every record's row.
    import random

    rng = random.Random(seed)
    ids = [f"r{i:03d}" for i in range(240)]
    records = []
    for record_id in ids:
        roll = rng.random()
        born = None if roll < 0.4 else f"{rng.choice([1957, 1958, 1996])}-0{rng.randint(1, 3)}-1{rng.randint(0, 2)}"
        records.append((record_id, born))
    pairs, seen = [], set()
    while len(pairs) < 420:
        a, b = sorted(rng.sample(ids[: rng.choice([60, 240])], 2))
        if (a, b) in seen:
            continue
        seen.add((a, b))
        pairs.append((a, b, round(rng.uniform(0.5, 1.0), 3), rng.random() < 0.05))
    labels = [(a, b, rng.random() < 0.5) for a, b, *_ in rng.sample(pairs, 25)]
    silver = _dated(spark, records)
    pair_df = spark.createDataFrame(pairs, "record_id_l string, record_id_r string, match_probability double, conflict boolean")
    label_df = spark.createDataFrame(labels, "record_id_l string, record_id_r string, is_match boolean")

    def rows(method):
        clustered = cluster_records(spark, silver, pair_df, 0.8, method=method, labels=label_df)
        return {r["record_id"]: (r["cluster_id"], r["min_match_probability"], r["max_match_probability"])
                for r in clustered.collect()}

    on_driver, in_spark = rows("driver"), rows("label_propagation")
    assert on_driver == in_spark
    assert len(on_driver) == len(ids)
    sizes = {}
    for cluster_id, *_ in on_driver.values():
        sizes[cluster_id] = sizes.get(cluster_id, 0) + 1
    assert max(sizes.values()) >= 5 and sum(size == 1 for size in sizes.values()) > 10
