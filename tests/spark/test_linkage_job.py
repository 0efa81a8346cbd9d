"""The daily link job across dates: bootstrap, incremental, full re-link, steward labels,
review queue and dashboards, on a small synthetic silver table (real Delta, real Splink).

The runs build on each other (one model is trained, by the first run's bootstrap), so they are
steps of one test module sharing one lakehouse, in order.
"""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F
from test_linkage import _silver_row, synthetic_records

from scv import delta_io
from scv.jobs import linkage as link_job
from scv.steward import label_inbox

DAY_1, DAY_2 = "2026-11-20", "2026-11-21"
NEW_PERSON = _silver_row("webshop:new-1", "araminta", "quillfeather", "a.quill@example.org",
                         "+447700900555", None, "9 heron way", "cardiff", "CF10 3AT")


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    from scv.config import Settings

    root = tmp_path_factory.mktemp("linkjob")
    settings = Settings.from_env().with_overrides(
        landing_root=str(root / "landing"),
        lakehouse_root=str(root / "lakehouse"),
        artifacts_dir=str(root / "artifacts"),
    )
    rows, truth = synthetic_records(n_people=120, seed=11)
    silver = spark.createDataFrame(rows)
    return settings, silver, {t["record_id"]: t["person_id"] for t in truth}


def _write_silver(spark, settings, df):
    delta_io.overwrite(df, settings.table_path("silver", "person_records"))


def _ids(spark, settings):
    table = spark.read.format("delta").load(settings.table_path("silver", "record_customer"))
    return {r.record_id: r.customer_id for r in table.select("record_id", "customer_id").collect()}


def _run(spark, settings, date, **kwargs):
    return link_job.run(spark, settings, logical_date=date, run_id=f"test-{date}", **kwargs)


def _assignment_rows(spark, settings):
    """record_customer as tuples: customer, first seen, size, record hash, min/max probability."""
    table = spark.read.format("delta").load(settings.table_path("silver", "record_customer"))
    return {
        r.record_id: (r.customer_id, r.customer_first_seen, r.cluster_size, r.record_hash,
                      None if r.match_probability_min is None else round(r.match_probability_min, 9),
                      None if r.match_probability_max is None else round(r.match_probability_max, 9))
        for r in table.collect()
    }


def _review(spark, settings, date, **kwargs):
    return link_job.review(spark, settings, logical_date=date, run_id=f"test-{date}", **kwargs)


@pytest.fixture(scope="module")
def day_1(spark, lake):
    settings, silver, _ = lake
    _write_silver(spark, settings, silver)
    summary = _run(spark, settings, DAY_1)
    return summary, _ids(spark, settings), _review(spark, settings, DAY_1)


def test_first_run_bootstraps_an_approved_model_and_links_everything(spark, lake, day_1):
    settings, silver, truth = lake
    summary, ids, _ = day_1
    assert summary["mode"] == "full"
    approved = json.loads(link_job.approved_model_path(settings).read_text())
    assert summary["model_version"] == approved["version"]
    assert (link_job.model_dir(settings) / approved["version"] / "match_weights.html").is_file()
    assert set(ids) == {r.record_id for r in silver.select("record_id").collect()}
    # Mostly right already (the accuracy floors are asserted in test_linkage.py).
    same = sum(1 for a in ids for b in ids if a < b and truth[a] == truth[b] and ids[a] == ids[b])
    assert same > 0
    table = spark.read.format("delta").load(settings.table_path("silver", "record_customer"))
    assert table.select("model_version").distinct().collect() == [(approved["version"],)]


def test_dashboards_are_written_under_one_folder_per_run(lake, day_1):
    settings, _, _ = lake
    link_summary, _, review_summary = day_1
    folder = link_job.dashboards_dir(settings.artifacts_dir, DAY_1)
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["cluster_studio.html", "comparison_viewer.html"]
    assert review_summary["dashboards"] == sorted(str(folder / f) for f in files)
    assert review_summary["model_version"] == link_summary["model_version"]
    assert "<html" in (folder / "comparison_viewer.html").read_text()[:2000].lower()


@pytest.fixture(scope="module")
def day_2(spark, lake, day_1):
    settings, silver, _ = lake
    # One brand-new person, one new record of an existing person, one changed record.
    existing = silver.where("record_id = 'crm:1'").first().asDict()
    duplicate = {**existing, "record_id": "loyalty:dup-1", "source_system": "loyalty",
                 "source_record_id": "dup-1", "phone": None}
    changed_id = silver.where("record_id != 'crm:1' AND is_linkable").orderBy("record_id").first()
    changed = silver.where(F.col("record_id") == changed_id.record_id).withColumn(
        "address_line1", F.lit("1 new road")
    )
    spark_rows = spark.createDataFrame([NEW_PERSON, duplicate], silver.schema)
    day_2_silver = (
        silver.where(F.col("record_id") != changed_id.record_id).unionByName(changed)
        .unionByName(spark_rows)
    )
    _write_silver(spark, settings, day_2_silver)
    summary = _run(spark, settings, DAY_2)
    return summary, _ids(spark, settings), changed_id.record_id, _assignment_rows(spark, settings)


def test_second_date_links_only_new_and_changed_records_and_keeps_ids(lake, day_1, day_2):
    _, ids_1, _ = day_1
    summary, ids_2, changed, _ = day_2
    assert summary["mode"] == "incremental"
    assert summary["records_linked_this_run"] == 3
    # Only the customers the three records can reach are clustered again, not everyone.
    assert 3 <= summary["records_reclustered"] < len(ids_2) / 2
    assert summary["records"] == len(ids_2)
    assert ids_2["loyalty:dup-1"] == ids_2["crm:1"] == ids_1["crm:1"]
    assert ids_2["webshop:new-1"] not in ids_1.values()
    touched = {ids_1["crm:1"], ids_1[changed]}
    for record, customer in ids_1.items():
        if customer not in touched:
            assert ids_2[record] == customer, record


def test_full_relink_gives_the_same_ids(spark, lake, day_2):
    settings, _, _ = lake
    _, ids_2, _, incremental_rows = day_2
    summary = _run(spark, settings, DAY_2, full_relink="true")
    assert summary["mode"] == "full"
    assert _ids(spark, settings) == ids_2
    # Sizes and first-seen dates too: the incremental run's untouched rows are exactly what
    # clustering everything again gives. Probabilities only nearly: a full run re-scores every
    # pair with today's term frequencies, an incremental one keeps yesterday's scores.
    full_rows = _assignment_rows(spark, settings)
    assert {k: v[:4] for k, v in full_rows.items()} == {k: v[:4] for k, v in incremental_rows.items()}
    for record, row in full_rows.items():
        for full_p, incremental_p in zip(row[4:], incremental_rows[record][4:]):
            assert (full_p is None) == (incremental_p is None), record
            assert full_p is None or abs(full_p - incremental_p) < 0.01, record


def test_steward_labels_force_split_and_link_and_are_reported(spark, lake, day_2):
    settings, _, _ = lake
    _, ids, _, _ = day_2
    together = sorted(r for r in ids if ids[r] == ids["crm:1"])
    assert len(together) >= 2
    apart_a, apart_b = "webshop:new-1", "crm:1"
    inbox = label_inbox(settings)
    import pathlib

    pathlib.Path(inbox).mkdir(parents=True, exist_ok=True)
    pathlib.Path(inbox, "review-1.csv").write_text(
        "record_id_a,record_id_b,decision,labelled_by\n"
        f"{together[0]},{together[1]},non_match,ann\n"
        f"{apart_a},{apart_b},match,ann\n"
    )
    summary = _run(spark, settings, DAY_2, full_relink="true")
    review_summary = _review(spark, settings, DAY_2, dashboard_records="0")
    assert review_summary["dashboards"] == []
    after = _ids(spark, settings)
    assert after[together[0]] != after[together[1]]
    assert after[apart_a] == after[apart_b]
    agreement = summary["agreement_with_labels"]
    assert agreement["labels"] == 2 and agreement["fp"] + agreement["fn"] >= 1

    queue = spark.read.format("delta").load(settings.table_path("silver", "review_queue"))
    assert queue.count() == review_summary["review_queue"]
    assert {"first_name_l", "first_name_r", "mw_first_name", "gamma_first_name"} <= set(queue.columns)
    labelled = {tuple(sorted(p)) for p in [(together[0], together[1]), (apart_a, apart_b)]}
    assert not {(r.record_id_l, r.record_id_r) for r in queue.collect()} & labelled


def test_issued_ids_are_the_whole_previous_assignment_and_earlier_history_but_not_the_rerun_dates(spark, tmp_path):
    import datetime as dt

    from scv.config import Settings

    settings = Settings.from_env().with_overrides(lakehouse_root=str(tmp_path / "lakehouse"))
    day_1, day_2 = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
    previous = spark.createDataFrame([("crm:1", "C-KEPT"), ("crm:2", "C-OUT-OF-SCOPE")], "record_id string, customer_id string")
    assert link_job.issued_customer_ids(spark, settings, None, day_2) is None  # first run: nothing given out

    history = spark.createDataFrame(
        [("created", "C-MERGED-AWAY", None, day_1), ("merged", "C-MERGED-AWAY", "C-KEPT", day_1),
         ("split", "C-KEPT", "C-SPLIT-OFF", day_1), ("created", "C-TODAYS-OWN", None, day_2)],
        "event string, customer_id string, other_customer_id string, logical_date date",
    )
    delta_io.overwrite(history, settings.table_path("silver", "customer_id_history"))
    issued = {r.customer_id for r in link_job.issued_customer_ids(spark, settings, previous, day_2).collect()}
    # A rerun of day 2 must not count day 2's own ids, or it would give different ones.
    assert issued == {"C-KEPT", "C-OUT-OF-SCOPE", "C-MERGED-AWAY", "C-SPLIT-OFF"}
