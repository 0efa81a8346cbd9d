"""The features job on Delta: idempotent per date, other dates untouched, groups added by YAML."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from pyspark.sql import functions as F

from scv import delta_io
from scv.jobs import features as features_job

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
EVENT_SCHEMA = (
    "source_system string, event_id string, person_record_id string, event_time timestamp, event_type string, "
    "channel string, product_category string, amount double, quantity int"
)


def write_inputs(spark, settings):
    events = spark.createDataFrame(
        [
            ("pos", "e1", "loyalty:1", dt.datetime(2026, 2, 27, 10), "purchase", "store", "garden", 12.5, 1),
            ("pos", "e2", "loyalty:1", dt.datetime(2026, 3, 1, 10), "purchase", "store", "toys", 20.0, 1),
            ("web_events", "e3", "webshop:2", dt.datetime(2026, 2, 28, 9), "page_view", "web", "toys", None, None),
        ],
        EVENT_SCHEMA,
    )
    xref = spark.createDataFrame(
        [("loyalty:1", "c1"), ("webshop:2", "c2"), ("crm:3", "c3")], "record_id string, customer_id string"
    )
    delta_io.overwrite(events, settings.table_path("silver", "events"))
    delta_io.overwrite(xref, settings.table_path("gold", "customer_xref"))


def write_groups(settings, groups):
    folder = Path(settings.include_dir)
    (folder / "propensity").mkdir(parents=True, exist_ok=True)
    (folder / "propensity" / "product_groups.yml").write_text(yaml.safe_dump({"groups": groups}))


def read(spark, settings):
    return spark.read.format("delta").load(settings.table_path("gold", "customer_features"))


def test_reruns_replace_only_their_date_and_new_groups_add_columns(spark, settings, tmp_path):
    settings = settings.with_overrides(include_dir=str(tmp_path / "include"))
    write_inputs(spark, settings)
    write_groups(settings, [{"name": "garden", "categories": ["garden"]}])

    first = features_job.run(spark, settings, logical_date=D1.isoformat(), run_id="r1")
    assert first["customers"] == 3 and first["customers_with_purchases"] == 1
    snapshot_d1 = sorted(read(spark, settings).collect())
    features_job.run(spark, settings, logical_date=D1.isoformat(), run_id="r1-again")
    assert sorted(read(spark, settings).collect()) == snapshot_d1

    # A campaign adds a group: the next run adds its columns; earlier dates read them as null.
    write_groups(settings, [{"name": "garden", "categories": ["garden"]}, {"name": "toys", "categories": ["toys"]}])
    features_job.run(spark, settings, logical_date=D2.isoformat(), run_id="r2")
    table = read(spark, settings)
    assert "toys_purchases_30d" in table.columns
    assert table.groupBy("as_of_date").count().orderBy("as_of_date").collect() == [(D1, 3), (D2, 3)]
    d2 = {r.customer_id: r for r in table.where(F.col("as_of_date") == F.lit(D2)).collect()}
    assert d2["c1"].toys_purchases_30d == 1 and d2["c2"].toys_page_views_30d == 1
    d1_after = table.where(F.col("as_of_date") == F.lit(D1)).drop("toys_purchases_30d")
    assert d1_after.where(F.col("toys_page_views_30d").isNotNull()).count() == 0
    assert sorted(d1_after.select(*[c for c in snapshot_d1[0].asDict()]).collect()) == snapshot_d1
