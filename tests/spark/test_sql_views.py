"""The Spark SQL models of include/sql/ on small gold tables: SCD2 history, facts, reruns."""

from __future__ import annotations

import re

import datetime as dt

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from scv import delta_io
from scv.golden.publish import merge_snapshot, with_content_hash
from scv.sql_views import SqlModelError, load_model, load_models, run

D1, D2, D3 = "2026-03-01", "2026-03-02", "2026-03-03"
GOLDEN_SCHEMA = (
    "customer_id string, country string, address_hmac string, has_email boolean, has_phone boolean, "
    "has_postal_address boolean, email_contactable boolean, postal_contactable boolean, email_hmac string, "
    "phone_hmac string, record_count int, source_systems array<string>"
)
EVENT_SCHEMA = (
    "source_system string, event_id string, person_record_id string, event_time timestamp, event_type string, "
    "channel string, product_category string, amount double, quantity int"
)


def golden(address_c1="h-addr-1"):
    return [
        ("C1", "GB", address_c1, True, True, True, True, True, "e1", "p1", 2, ["crm", "webshop"]),
        ("C2", "GB", "h-addr-2", True, False, True, False, True, "e2", None, 1, ["loyalty"]),
    ]


def write_gold(spark, settings, golden_rows):
    staged = with_content_hash(spark.createDataFrame(golden_rows, GOLDEN_SCHEMA))
    merge_snapshot(staged, settings.table_path("gold", "customer_golden"), ["customer_id"])


def write_inputs(spark, settings):
    events = spark.createDataFrame([
        ("pos", "e1", "crm:1", dt.datetime(2026, 2, 27, 10), "purchase", "store", "Garden", 12.5, 1),
        ("pos", "e2", "crm:1", dt.datetime(2026, 3, 2, 9), "purchase", "store", "toys", 20.0, 2),
        ("pos", "e3", "crm:1", dt.datetime(2026, 3, 2, 11), "purchase", "store", "toys", -20.0, 2),  # refund
        ("web_events", "e4", "loyalty:2", dt.datetime(2026, 2, 28, 9), "page_view", "web", "toys", None, None),
        ("pos", "e5", None, dt.datetime(2026, 2, 28, 9), "purchase", "store", "toys", 5.0, 1),  # walk-in
    ], EVENT_SCHEMA)
    xref = spark.createDataFrame([("crm:1", "C1"), ("loyalty:2", "C2")], "record_id string, customer_id string")
    features = spark.createDataFrame(
        [(c, dt.date.fromisoformat(d), 1, 2, 30.0, 3, 0.5, 0.5, 4) for c in ("C1", "C2") for d in (D1, D2, D3)],
        "customer_id string, as_of_date date, purchases_30d long, purchases_365d long, spend_365d double, "
        "days_since_last_purchase int, store_share_365d double, web_share_365d double, page_views_30d long",
    )
    delta_io.overwrite(events, settings.table_path("silver", "events"))
    delta_io.overwrite(xref, settings.table_path("gold", "customer_xref"))
    delta_io.overwrite(features, settings.table_path("gold", "customer_features"))


def dim(spark, settings):
    frame = spark.read.format("delta").load(settings.table_path("gold", "dim_customer"))
    return sorted((r.customer_id, str(r.valid_from), str(r.valid_to), r.is_current, r.address_hmac) for r in frame.collect())


def content(spark, settings, name):
    return sorted(spark.read.format("delta").load(settings.table_path("gold", name)).collect())


def versions(spark, settings):
    return {n: DeltaTable.forPath(spark, settings.table_path("gold", n)).history(1).first().version
            for n in ("dim_customer", "fact_purchase", "customer_360")}


def test_dim_customer_keeps_history_and_reruns_change_nothing(spark, settings):
    write_inputs(spark, settings)
    write_gold(spark, settings, golden())
    run(spark, settings, logical_date=D1, run_id="r1")
    assert dim(spark, settings) == [("C1", D1, "None", True, "h-addr-1"), ("C2", D1, "None", True, "h-addr-2")]

    # A rerun of the same date with the same gold: same content, no new history rows.
    before = {n: content(spark, settings, n) for n in ("dim_customer", "fact_purchase", "customer_360")}
    tables_before = versions(spark, settings)
    summary = run(spark, settings, logical_date=D1, run_id="r1-again")
    assert {n: content(spark, settings, n) for n in before} == before
    assert summary["models"]["fact_purchase"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert summary["models"]["customer_360"] == {"inserted": 0, "updated": 0, "deleted": 0}
    after = versions(spark, settings)
    assert (after["fact_purchase"], after["customer_360"]) == (tables_before["fact_purchase"], tables_before["customer_360"])

    # C1 moves on day 2: the old version is closed on that date, a new current one opens.
    write_gold(spark, settings, golden(address_c1="h-addr-1-new"))
    run(spark, settings, logical_date=D2, run_id="r2")
    expected = [
        ("C1", D1, D2, False, "h-addr-1"),
        ("C1", D2, "None", True, "h-addr-1-new"),
        ("C2", D1, "None", True, "h-addr-2"),
    ]
    assert dim(spark, settings) == expected
    run(spark, settings, logical_date=D2, run_id="r2-again")
    assert dim(spark, settings) == expected

    # Each purchase points at the version valid on its date; one before history began at the first.
    sks = {r.customer_sk: (r.customer_id, str(r.valid_from)) for r in
           spark.read.format("delta").load(settings.table_path("gold", "dim_customer")).collect()}
    facts = {r.event_id: (sks[r.customer_sk], float(r.amount), r.is_refund, r.product_category)
             for r in content(spark, settings, "fact_purchase")}
    assert facts == {
        "e1": (("C1", D1), 12.5, False, "garden"),
        "e2": (("C1", D2), 20.0, False, "toys"),
        "e3": (("C1", D2), -20.0, True, "toys"),
    }

    # C2 disappears (merged into another customer, or erased): its current version is closed.
    write_gold(spark, settings, golden(address_c1="h-addr-1-new")[:1])
    run(spark, settings, logical_date=D3, run_id="r3")
    assert ("C2", D1, D3, False, "h-addr-2") in dim(spark, settings)
    c360 = {r.customer_id: r for r in content(spark, settings, "customer_360")}
    assert set(c360) == {"C1"}
    c1 = c360["C1"]
    # Hand-computed: two purchases (12.50, 20.00) and one refund (-20.00).
    assert (c1.lifetime_purchases, float(c1.lifetime_net_spend)) == (2, 12.5)
    assert (str(c1.first_purchase_date), str(c1.last_purchase_date), str(c1.features_as_of_date)) == ("2026-02-27", "2026-03-02", D3)


def test_a_missing_input_and_a_bad_header_fail_clearly(spark, settings, tmp_path):
    with pytest.raises(SqlModelError, match="gold/customer_golden is not a Delta table"):
        run(spark, settings, logical_date=D1, run_id="r1")
    bad = tmp_path / "x.sql"
    bad.write_text("-- model: x\n-- materialise: table\nSELECT 1 AS a\n")
    with pytest.raises(SqlModelError, match="needs '-- key"):
        load_model(bad)


def test_the_shipped_models_read_no_personal_tables():
    models = load_models("include/sql")
    assert [m.name for m in models] == ["dim_customer", "fact_purchase", "customer_360"]
    for model in models:
        assert not any(table.endswith("_pii") or table == "person_records" for _, table in model.reads), model.name
        for word in ("first_name", "last_name", "full_name", "date_of_birth", "postcode", "address_line1", "email", "phone"):
            # Whole identifiers only: has_phone, email_hmac and email_contactable are fine.
            assert not re.search(rf"(?<!\w){word}(?!\w)", model.sql), (model.name, word)
