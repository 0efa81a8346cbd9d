"""Incremental golden builds on Delta: after any sequence of days, gold equals a full rebuild's.

Two lakehouses see the same silver, record_customer and suppression list every day: one is
built the daily way (incremental, published after each build), the other from scratch
(``full_rebuild``). Every gold table must be identical in all columns, including the input
fingerprint and the content hash.
"""

from __future__ import annotations

import datetime as dt

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from scv import delta_io
from scv.jobs import golden as golden_job
from scv.privacy.keyed_hash import keyed_hash, resolve_hmac_key
from scv.quality import run_gate

KEY = b"test-incremental-hmac-key"
SILVER_SCHEMA = (
    "record_id string, source_system string, source_record_id string, first_name string, last_name string, "
    "email string, phone string, date_of_birth date, address_line1 string, city string, postcode string, "
    "country string, email_opt_in boolean, updated_at timestamp, precedence int, is_linkable boolean, "
    "is_company boolean, _silver_logical_date date"
)
PRECEDENCE = {"crm": 1, "webshop": 2, "loyalty": 3}
DAY = dt.datetime(2026, 1, 1)
GOLD_TABLES = ("customer_xref", "customer_golden", "customer_pii", "customer_service", "customer_service_pii")


def person(record_id, *, first, last, email=None, phone=None, line1=None, postcode=None, opt_in=None, days=0,
           loaded=dt.date(2026, 1, 1)):
    source, _, key = record_id.partition(":")
    return (record_id, source, key, first, last, email, phone, None, line1, "leeds" if line1 else None, postcode,
            "GB", opt_in, DAY + dt.timedelta(days=days), PRECEDENCE[source], True, False, loaded)


ANN_CRM = person("crm:1", first="ann", last="lee", email="ann@example.com", phone="07700 900001",
                 line1="1 crm st", postcode="LS1 1AA", opt_in=True, days=1)
ANN_WEB = person("webshop:1", first="anne", last="lee", email="ann@example.com", line1="9 web rd",
                 postcode="LS9 9AA", opt_in=True, days=5)
BOB = person("loyalty:2", first="bob", last="ray", email="bob@example.com", opt_in=False, days=2)
CY = person("crm:3", first="cy", last="day", email="cy@example.com", phone="07700 900003", line1="3 high st",
            postcode="LS3 3AA", opt_in=True, days=3)
DEE = person("webshop:5", first="dee", last="fox", email="dee@example.com", opt_in=True, days=4)


def write_inputs(spark, settings, records, assignment, suppressed_emails=()):
    """silver/person_records, silver/record_customer (record -> customer) and privacy/suppression."""
    silver = spark.createDataFrame(records, SILVER_SCHEMA)
    assign = spark.createDataFrame(sorted(assignment.items()), "record_id string, customer_id string")
    assign = assign.join(assign.groupBy("customer_id").agg(F.count("*").cast("int").alias("cluster_size")), "customer_id")
    assign = assign.select(
        "record_id", "customer_id", F.lit(0.97).alias("match_probability_min"), F.lit(0.99).alias("match_probability_max"),
        "cluster_size", F.lit("m1").alias("model_version"), F.lit(dt.date(2026, 1, 1)).alias("first_seen_date"),
    )
    delta_io.overwrite(silver, settings.table_path("silver", "person_records"))
    delta_io.overwrite(assign, settings.table_path("silver", "record_customer"))
    key = resolve_hmac_key()  # the job's key (an Airflow connection, if set, wins over SCV_PII_HMAC_KEY)
    listed = [("email", keyed_hash(e, key)) for e in suppressed_emails]
    delta_io.overwrite(spark.createDataFrame(listed, "identifier_type string, keyed_hash string"),
                       settings.table_path("privacy", "suppression"))


def gold_rows(spark, settings, name):
    frame = spark.read.format("delta").load(settings.table_path("gold", name))
    return sorted(tuple(sorted(r.asDict().items())) for r in frame.collect())


def versions(spark, settings):
    return {n: DeltaTable.forPath(spark, settings.table_path("gold", n)).history(1).first().version for n in GOLD_TABLES}


@pytest.fixture
def lakes(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("SCV_PII_HMAC_KEY", KEY.decode())
    rebuilt = settings.with_overrides(lakehouse_root=str(tmp_path / "rebuilt"))
    return settings, rebuilt


def test_incremental_days_give_the_gold_of_a_full_rebuild(spark, lakes):
    daily, rebuilt = lakes

    def day(date, records, assignment, suppressed=(), publish=True):
        # An unpublished day's gold is not compared: the rebuilt lake skips it (a full rebuild
        # does not depend on the days before it).
        for lake in (daily, rebuilt) if publish else (daily,):
            write_inputs(spark, lake, records, assignment, suppressed)
        run = {"logical_date": date, "run_id": f"run-{date}"}
        if publish:
            full = golden_job.run(spark, rebuilt, full_rebuild=True, **run)
            golden_job.publish(spark, rebuilt, **run)
        summary = golden_job.run(spark, daily, **run)
        published = golden_job.publish(spark, daily, **run) if publish else None
        if publish:
            for name in GOLD_TABLES:
                assert gold_rows(spark, daily, name) == gold_rows(spark, rebuilt, name), (date, name)
            assert {k: summary[k] for k in ("customers", "definitions")} == {k: full[k] for k in ("customers", "definitions")}
        return summary, published

    # Day 1: nothing published yet, so the first build is a full one.
    records = [ANN_CRM, ANN_WEB, BOB, CY]
    assignment = {"crm:1": "C1", "webshop:1": "C1", "loyalty:2": "C2", "crm:3": "C3"}
    first, _ = day("2026-01-10", records, assignment)
    assert (first["mode"], first["customers"], first["customers_staged"], first["customers_deleted"]) == ("full", 3, 3, 0)

    # Day 2: a new record joins C1 and a brand-new customer C4 appears; the gate "fails", so
    # nothing is published. Only those two customers are staged.
    ann_loyalty = person("loyalty:1", first="ann", last="lee-ray", email="ann@example.com", days=8)
    records += [ann_loyalty, DEE]
    assignment |= {"loyalty:1": "C1", "webshop:5": "C4"}
    second, _ = day("2026-01-11", records, assignment, publish=False)
    assert (second["mode"], second["customers"], second["customers_staged"], second["customers_deleted"]) == (
        "incremental", 4, 2, 0)
    staged = spark.read.format("delta").load(daily.table_path("staging", "customer_golden"))
    assert {r.customer_id for r in staged.collect()} == {"C1", "C4"}
    xref = spark.read.format("delta").load(daily.table_path("staging", "customer_xref"))
    assert {r.record_id for r in xref.collect()} == {"crm:1", "webshop:1", "loyalty:1", "webshop:5"}
    # The gold gates pass on the staged changes (they are not fed the rows gold keeps).
    for table_path, suite, params in (
        ("staging/customer_xref", "gold_customer_xref", {}),
        ("staging/customer_golden", "gold_customer_golden", {"golden_table": "customer_golden"}),
        ("staging/customer_pii", "gold_customer_pii", {"pii_table": "customer_pii", "golden_path": "staging/customer_golden"}),
    ):
        outcome = run_gate(spark, daily, table_path=table_path, suite=suite, parameters=params, build_docs=False, record=False)
        assert outcome.status == "passed", outcome.report()

    # Day 3: C3 merges into C2 (the older id survives), C1's CRM record changes email and phone.
    # Day 2's unpublished changes are found again: gold still differs from them.
    records = [person("crm:1", first="ann", last="lee", email="ann.lee@example.com", phone="07700 900011",
                      line1="1 crm st", postcode="LS1 1AA", opt_in=True, days=9) if r is ANN_CRM else r for r in records]
    assignment |= {"crm:3": "C2"}
    third, published = day("2026-01-12", records, assignment)
    assert (third["mode"], third["customers"], third["customers_staged"], third["customers_deleted"]) == (
        "incremental", 3, 3, 1)
    assert published["customer_golden"]["deleted"] == 1 and published["customer_golden"]["inserted"] == 1
    merged = {r.record_id: r.customer_id for r in spark.read.format("delta").load(daily.table_path("gold", "customer_xref")).collect()}
    assert merged["crm:3"] == "C2" and "C3" not in merged.values()

    # Day 4: C4's email goes on the suppression list; nothing else changes.
    fourth, published = day("2026-01-13", records, assignment, suppressed=["dee@example.com"])
    assert (fourth["customers_staged"], fourth["customers_deleted"]) == (1, 0)
    dee = spark.read.format("delta").load(daily.table_path("gold", "customer_golden")).where("customer_id = 'C4'").first()
    assert dee.is_suppressed and not dee.email_contactable
    assert published["customer_golden"] == {"inserted": 0, "updated": 1, "deleted": 0}

    # Day 5: C1 is erased (its rows removed from silver and record_customer).
    records = [r for r in records if assignment[r[0]] != "C1"]
    assignment = {k: v for k, v in assignment.items() if v != "C1"}
    fifth, published = day("2026-01-14", records, assignment, suppressed=["dee@example.com"])
    assert (fifth["customers"], fifth["customers_staged"], fifth["customers_deleted"]) == (2, 0, 1)
    assert published["customer_xref"]["deleted"] == 3 and published["customer_pii"]["deleted"] == 1
    assert fifth["definitions"]["customer_golden"] == {"customers": 2, "email_contactable": 1, "postal_contactable": 1}

    # A rerun of the same date stages nothing and commits nothing.
    before = versions(spark, daily)
    rerun = golden_job.run(spark, daily, logical_date="2026-01-14", run_id="again")
    assert (rerun["mode"], rerun["customers_staged"], rerun["customers_deleted"]) == ("incremental", 0, 0)
    again = golden_job.publish(spark, daily, logical_date="2026-01-14", run_id="again")
    assert all(again[n] == {"inserted": 0, "updated": 0, "deleted": 0} for n in GOLD_TABLES)
    assert versions(spark, daily) == before

    # Forcing a full rebuild (Airflow renders the flag as text) restages everyone; gold is unchanged.
    forced = golden_job.run(spark, daily, logical_date="2026-01-14", run_id="forced", full_rebuild="True")
    assert (forced["mode"], forced["customers_staged"]) == ("full", 2)
    golden_job.publish(spark, daily, logical_date="2026-01-14", run_id="forced")
    assert versions(spark, daily) == before


def test_a_gold_row_lost_outside_the_pipeline_is_restaged(spark, lakes):
    daily, _ = lakes
    write_inputs(spark, daily, [ANN_CRM, BOB], {"crm:1": "C1", "loyalty:2": "C2"})
    run = {"logical_date": "2026-01-10", "run_id": "r1"}
    golden_job.run(spark, daily, **run)
    golden_job.publish(spark, daily, **run)
    expected = gold_rows(spark, daily, "customer_service_pii")
    DeltaTable.forPath(spark, daily.table_path("gold", "customer_service_pii")).delete("customer_id = 'C2'")
    # A gold table from before deletion vectors: publishing turns them on.
    spark.sql(f"ALTER TABLE delta.`{daily.table_path('gold', 'customer_xref')}` "
              "SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'false')")

    healed = golden_job.run(spark, daily, logical_date="2026-01-11", run_id="r2")
    assert (healed["mode"], healed["customers_staged"]) == ("incremental", 1)
    published = golden_job.publish(spark, daily, logical_date="2026-01-11", run_id="r2")
    assert published["customer_service_pii"] == {"inserted": 1, "updated": 0, "deleted": 0}
    assert published["customer_golden"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert gold_rows(spark, daily, "customer_service_pii") == expected
    xref = DeltaTable.forPath(spark, daily.table_path("gold", "customer_xref")).detail().first()
    assert xref.properties["delta.enableDeletionVectors"] == "true"


def test_a_changed_layout_or_definition_restages_everyone(spark, lakes, tmp_path):
    import shutil

    daily, _ = lakes
    write_inputs(spark, daily, [ANN_CRM, ANN_WEB, BOB], {"crm:1": "C1", "webshop:1": "C1", "loyalty:2": "C2"})
    run = {"logical_date": "2026-01-10", "run_id": "r1"}
    golden_job.run(spark, daily, **run)
    golden_job.publish(spark, daily, **run)

    # The service definition now takes the newest address: every customer's fingerprint changes.
    include = tmp_path / "include"
    shutil.copytree(daily.include_dir, include)
    definition = include / "survivorship" / "customer_service.yml"
    definition.write_text(definition.read_text().replace("    rule: precedence\n    tie_breakers: [most_complete, most_recent]",
                                                          "    rule: most_recent\n    tie_breakers: [most_complete, precedence]"))
    changed = daily.with_overrides(include_dir=str(include))
    summary = golden_job.run(spark, changed, logical_date="2026-01-11", run_id="r2")
    assert (summary["mode"], summary["customers_staged"]) == ("incremental", 2)
    published = golden_job.publish(spark, changed, logical_date="2026-01-11", run_id="r2")
    service = spark.read.format("delta").load(daily.table_path("gold", "customer_service")).where("customer_id = 'C1'").first()
    assert service.provenance["address_line1"] == "webshop:1"
    assert published["customer_service_pii"]["updated"] == 2

    # A gold table in another layout (here: without the fingerprint) makes the build a full one.
    path = daily.table_path("gold", "customer_pii")
    spark.read.format("delta").load(path).drop("_input_fingerprint").write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true").save(path)
    summary = golden_job.run(spark, changed, logical_date="2026-01-12", run_id="r3")
    assert (summary["mode"], summary["customers_staged"]) == ("full", 2)
    published = golden_job.publish(spark, changed, logical_date="2026-01-12", run_id="r3")
    assert published["customer_pii"].get("replaced_schema") == 1
    assert "_input_fingerprint" in spark.read.format("delta").load(path).columns


def test_publishing_changes_marks_replaced_rows_with_deletion_vectors(spark, tmp_path):
    """A daily publish updates a few rows spread over every file of a gold table: with deletion
    vectors (on for every gold table) the MERGE writes those rows only, not the files' other rows."""
    from scv.golden.publish import merge_changes, with_content_hash

    path = str(tmp_path / "gold_table")
    rows = with_content_hash(spark.createDataFrame([(f"C{i}", f"value {i}") for i in range(50)], "customer_id string, value string"))
    for properties in (golden_job.XREF_PROPERTIES, golden_job.GOLDEN_PROPERTIES, golden_job.PII_PROPERTIES):
        assert properties["delta.enableDeletionVectors"] == "true"
    delta_io.overwrite(rows.coalesce(1), path, properties=delta_io.DELETION_VECTORS)
    changed = with_content_hash(spark.createDataFrame([("C7", "new value"), ("C99", "new customer")], "customer_id string, value string"))
    deletes = spark.createDataFrame([("C3",)], "customer_id string")

    assert merge_changes(changed, deletes, path, ["customer_id"]) == {"inserted": 1, "updated": 1, "deleted": 1}
    metrics = DeltaTable.forPath(spark, path).history(1).first().operationMetrics
    assert int(metrics["numTargetDeletionVectorsAdded"]) == 1, metrics
    assert (int(metrics["numTargetFilesRemoved"]), int(metrics["numTargetRowsCopied"])) == (0, 0), metrics
    table = {r.customer_id: r.value for r in spark.read.format("delta").load(path).collect()}
    assert len(table) == 50 and table["C7"] == "new value" and table["C99"] == "new customer" and "C3" not in table


def cache_is_empty(spark) -> bool:
    return spark._jsparkSession.sharedState().cacheManager().isEmpty()


def test_a_build_reports_its_steps_and_a_failed_one_leaves_nothing_cached(spark, lakes, monkeypatch):
    daily, _ = lakes
    write_inputs(spark, daily, [ANN_CRM, ANN_WEB, BOB], {"crm:1": "C1", "webshop:1": "C1", "loyalty:2": "C2"})
    spark.catalog.clearCache()
    golden_job.run(spark, daily, logical_date="2026-01-10", run_id="r1")
    golden_job.publish(spark, daily, logical_date="2026-01-10", run_id="r1")
    write_inputs(spark, daily, [ANN_CRM, ANN_WEB, BOB, CY], {"crm:1": "C1", "webshop:1": "C1", "loyalty:2": "C2", "crm:3": "C3"})

    summary = golden_job.run(spark, daily, logical_date="2026-01-11", run_id="r2")
    assert (summary["mode"], summary["customers_staged"]) == ("incremental", 1)
    assert set(summary["seconds"]) == {"fingerprint", "compare", "deletes", "stage", "count"}
    assert all(seconds > 0 for seconds in summary["seconds"].values())
    assert cache_is_empty(spark)

    # A build failing half-way (here: in survivorship, after the inputs, fingerprints, the
    # published gold and the affected customers were cached) releases what it cached.
    def broken(records, policy):
        raise RuntimeError("survivorship failed")

    monkeypatch.setattr(golden_job, "build_golden", broken)
    with pytest.raises(RuntimeError, match="survivorship failed"):
        golden_job.run(spark, daily, logical_date="2026-01-11", run_id="r3")
    assert cache_is_empty(spark)
