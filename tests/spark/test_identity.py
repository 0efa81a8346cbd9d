"""Persistent customer ids: new, unchanged, joined, merged and split clusters."""

from __future__ import annotations

import datetime as dt
import random
from functools import partial

import pytest

from scv import identity

D0, D1 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


@pytest.fixture(params=["driver", "spark"])
def assign_customer_ids(request):
    """Every rule holds on both implementations."""
    return partial(identity.assign_customer_ids, method=request.param)


def clusters(spark, mapping: dict[str, str]):
    return spark.createDataFrame(sorted(mapping.items()), "record_id string, cluster_id string")


def ids(assignment) -> dict[str, str]:
    return {r.record_id: r.customer_id for r in assignment.collect()}


def history(frame) -> set[tuple]:
    return {(r.event, r.customer_id, r.other_customer_id, r.records) for r in frame.collect()}


def first_run(spark, mapping, assign_customer_ids):
    assignment, events = assign_customer_ids(clusters(spark, mapping), None, D0)
    return assignment, events


def test_first_run_creates_one_id_per_cluster_deterministically(spark, assign_customer_ids):
    mapping = {"a:1": "x", "b:1": "x", "c:1": "y"}
    assignment, events = first_run(spark, mapping, assign_customer_ids)
    first = ids(assignment)
    assert first["a:1"] == first["b:1"] != first["c:1"]
    assert ids(first_run(spark, mapping, assign_customer_ids)[0]) == first  # reruns give the same ids
    assert {e[0] for e in history(events)} == {"created"}
    assert {r.customer_first_seen for r in assignment.collect()} == {D0}
    assert {r.record_id: r.cluster_size for r in assignment.collect()} == {"a:1": 2, "b:1": 2, "c:1": 1}


def test_ids_survive_new_cluster_labels_and_new_records_join_existing_customers(spark, assign_customer_ids):
    previous, _ = first_run(spark, assign_customer_ids=assign_customer_ids, mapping={"a:1": "x", "b:1": "x", "c:1": "y"})
    old = ids(previous)
    # Clustering labels are arbitrary from run to run; a new record joins a:1's customer.
    assignment, events = assign_customer_ids(clusters(spark, {"a:1": "k", "b:1": "k", "d:9": "k", "c:1": "m"}), previous, D1)
    new = ids(assignment)
    assert new["a:1"] == new["b:1"] == new["d:9"] == old["a:1"]
    assert new["c:1"] == old["c:1"]
    assert history(events) == set()
    first_seen = {r.record_id: r.customer_first_seen for r in assignment.collect()}
    assert first_seen["d:9"] == D0  # joined an existing customer: keeps its first-seen date


def test_merge_keeps_the_older_id_and_records_the_merge(spark, assign_customer_ids):
    older, _ = assign_customer_ids(clusters(spark, {"a:1": "x"}), None, D0)
    newer_clusters = clusters(spark, {"a:1": "x", "b:1": "y"})
    previous, _ = assign_customer_ids(newer_clusters, older, D1)  # b:1 first seen on D1
    before = ids(previous)
    assignment, events = assign_customer_ids(clusters(spark, {"a:1": "z", "b:1": "z"}), previous, dt.date(2026, 11, 3))
    after = ids(assignment)
    assert after["a:1"] == after["b:1"] == before["a:1"]
    assert history(events) == {("merged", before["b:1"], before["a:1"], 1)}


def test_split_leaves_the_id_with_the_larger_part(spark, assign_customer_ids):
    previous, _ = first_run(spark, assign_customer_ids=assign_customer_ids, mapping={"a:1": "x", "a:2": "x", "b:1": "x"})
    old_id = ids(previous)["a:1"]
    assignment, events = assign_customer_ids(clusters(spark, {"a:1": "p", "a:2": "p", "b:1": "q"}), previous, D1)
    after = ids(assignment)
    assert after["a:1"] == after["a:2"] == old_id
    assert after["b:1"] != old_id
    assert history(events) == {("created", after["b:1"], None, 1), ("split", old_id, after["b:1"], 1)}


def test_driver_and_spark_give_the_same_ids_and_history_through_merges_and_splits(spark):
    rng = random.Random(7)
    records = [f"s:{i:04d}" for i in range(600)]
    mapping = {r: f"k{rng.randrange(150)}" for r in records[:500]}
    previous, _ = identity.assign_customer_ids(clusters(spark, mapping), None, D0, method="spark")
    # The next run: new records, and clusters re-cut so that customers merge and split.
    mapping = {r: f"m{rng.randrange(120)}" for r in records}
    outcomes = {
        method: identity.assign_customer_ids(clusters(spark, mapping), previous, D1, method=method)
        for method in ("driver", "spark")
    }
    rows = {m: sorted(tuple(r) for r in a.select("record_id", "cluster_id", "customer_id", "customer_first_seen", "cluster_size").collect())
            for m, (a, _) in outcomes.items()}
    events = {m: sorted(tuple(r) for r in h.select("event", "customer_id", "other_customer_id", "records").collect())
              for m, (_, h) in outcomes.items()}
    assert rows["driver"] == rows["spark"]
    assert events["driver"] == events["spark"]
    assert {e[0] for e in events["driver"]} == {"created", "merged", "split"}
    assert len(rows["driver"]) == 600


def test_auto_falls_back_to_spark_above_the_driver_limit(spark, monkeypatch):
    mapping = {"a:1": "x", "b:1": "x", "c:1": "y"}
    in_driver = []
    real = identity._assign_in_driver
    monkeypatch.setattr(identity, "_assign_in_driver", lambda *args: in_driver.append(real(*args)) or in_driver[-1])
    above, _ = identity.assign_customer_ids(clusters(spark, mapping), None, D0, driver_max_records=2)
    assert in_driver == [None]  # three records, limit two: Spark assigned them
    at_limit, _ = identity.assign_customer_ids(clusters(spark, mapping), None, D0, driver_max_records=3)
    assert in_driver[-1] is not None
    assert ids(above) == ids(at_limit)


def test_unknown_method_is_named(spark):
    with pytest.raises(ValueError, match="'fastest'"):
        identity.assign_customer_ids(clusters(spark, {"a:1": "x"}), None, D0, method="fastest")


def test_a_part_split_off_with_the_customers_founding_record_gets_a_new_id(spark, assign_customer_ids):
    # The customer's id was derived from a:1; a:1 now splits off alone, the larger part keeps the id.
    previous, _ = first_run(spark, assign_customer_ids=assign_customer_ids, mapping={"a:1": "x", "b:1": "x", "c:1": "x"})
    old_id = ids(previous)["a:1"]
    assignment, events = assign_customer_ids(clusters(spark, {"a:1": "p", "b:1": "q", "c:1": "q"}), previous, D1)
    after = ids(assignment)
    assert after["b:1"] == after["c:1"] == old_id
    assert after["a:1"] != old_id
    assert history(events) == {("created", after["a:1"], None, 1), ("split", old_id, after["a:1"], 1)}
    rerun, _ = assign_customer_ids(clusters(spark, {"a:1": "p", "b:1": "q", "c:1": "q"}), previous, D1)
    assert ids(rerun) == after  # still deterministic


def test_a_new_cluster_never_takes_an_id_given_out_before(spark, assign_customer_ids):
    # a:1 founded a customer (its id derived from a:1), then joined customer B. That founding id
    # lives on outside this run's previous assignment (merged away, or a customer an incremental
    # run leaves out of scope). Now a:1 splits off from B alone.
    founded, _ = first_run(spark, mapping={"a:1": "x"}, assign_customer_ids=assign_customer_ids)
    founded_id = ids(founded)["a:1"]
    previous = spark.createDataFrame([(r, "C-B", D0) for r in ("a:1", "b:1", "b:2")], identity.PREVIOUS_SCHEMA)
    split = clusters(spark, {"a:1": "p", "b:1": "q", "b:2": "q"})

    unaware, _ = assign_customer_ids(split, previous, D1)
    assert ids(unaware)["a:1"] == founded_id  # previous alone cannot know the id was given out

    issued = spark.createDataFrame([("C-B",), (founded_id,)], "customer_id string")
    assignment, events = assign_customer_ids(split, previous, D1, issued=issued)
    after = ids(assignment)
    assert after["b:1"] == after["b:2"] == "C-B"
    assert after["a:1"] not in (founded_id, "C-B")
    assert history(events) == {("created", after["a:1"], None, 1), ("split", "C-B", after["a:1"], 1)}
    rerun, _ = assign_customer_ids(split, previous, D1, issued=issued)
    assert ids(rerun) == after
