"""Validation gates on real Delta tables: pass, fail, warn, record, document, mask."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os

import pytest

from scv.quality import RunInfo, load_suite, record_outcome, run_gate, validation_results_path, volume_band
from scv.quality.gate import expectations_dir
from scv.quality.outcome import ExpectationOutcome, ValidationOutcome
from scv.quality.suites import VolumeSpec

CRM_COLUMNS = (
    "contactid firstname lastname companyname emailaddress1 mobilephone telephone1 birthdate address1_line1 "
    "address1_city address1_postalcode address1_country donotemail modifiedon _run_id _logical_date"
).split()
DAY_1, DAY_2 = "2024-01-05", "2024-01-06"


def crm_row(contactid, first="Ann", last="Lee", email="ann.lee@example.com", dob="1984-02-29",
            donotemail="0", modified="2024-01-05T09:30:00Z", day=DAY_1):
    return (contactid, first, last, None, email, "+447700900001", None, dob, "1 High St", "London", "SW1A 1AA",
            "GB", donotemail, modified, f"scheduled__{day}", day)


def good_crm_rows(day=DAY_1, n=6):
    return [crm_row(f"c{day[-1]}{i}", first=f"Name{i}", email=f"person{i}@example.com", day=day) for i in range(n)]


def write_crm(spark, settings, rows, mode="overwrite"):
    schema = ", ".join(f"{c} string" for c in CRM_COLUMNS)
    spark.createDataFrame(rows, schema).write.format("delta").mode(mode).save(settings.table_path("bronze", "crm"))


def gate_crm(spark, settings, day=DAY_1, **kwargs):
    return run_gate(
        spark, settings, table_path="bronze/crm", suite="bronze_crm", row_filter=f"_logical_date = '{day}'",
        run=RunInfo(run_id=f"scheduled__{day}", dag_id="scv_daily", task_id="gate_bronze_crm", try_number=1),
        **kwargs,
    )


def test_good_batch_passes_is_recorded_and_documented(spark, settings):
    write_crm(spark, settings, good_crm_rows())

    outcome = gate_crm(spark, settings)

    assert outcome.success and outcome.status == "passed", outcome.report()
    assert not outcome.critical_failures and not outcome.warning_failures
    suite = load_suite("bronze_crm", expectations_dir(settings))
    assert [r.name for r in outcome.results] == [e.name for e in suite.expectations]
    assert os.path.isfile(outcome.data_docs_path)
    assert outcome.data_docs_path.startswith(os.path.join(settings.artifacts_dir, "data_docs", "scheduled__2024-01-05"))

    ops = spark.read.format("delta").load(validation_results_path(settings))
    assert ops.count() == len(suite.expectations)
    row = ops.where("expectation = 'row_count_band'").first()
    assert (row.run_id, row.dag_id, row.task_id, row.table, row.suite, row.severity, row.success, row.observed_value) == (
        "scheduled__2024-01-05", "scv_daily", "gate_bronze_crm", "bronze/crm", "bronze_crm", "warning", True, "6")
    assert ops.where("expectation = 'pk_not_null'").first().unexpected_count == 0


def test_null_primary_keys_fail_the_critical_gate_only_in_their_batch(spark, settings):
    bad = good_crm_rows(DAY_2)
    bad[1] = crm_row(None, day=DAY_2)
    bad[3] = crm_row(None, email="other@example.com", day=DAY_2)
    write_crm(spark, settings, good_crm_rows(DAY_1) + bad)

    failed = gate_crm(spark, settings, day=DAY_2, build_docs=False)
    assert not failed.success and failed.status == "failed"
    assert [f.name for f in failed.critical_failures] == ["pk_not_null"]
    assert failed.critical_failures[0].unexpected_count == 2
    assert failed.summary()["critical_failures"][0]["unexpected_count"] == 2

    # The other delivery date is a different batch: its gate is not affected.
    assert gate_crm(spark, settings, day=DAY_1, build_docs=False, record=False).success


def test_warning_only_failures_pass_with_a_warning(spark, settings):
    rows = good_crm_rows()
    rows[2] = crm_row("c12", donotemail="maybe")
    write_crm(spark, settings, rows)

    outcome = gate_crm(spark, settings, build_docs=False, record=False)

    assert outcome.success and outcome.status == "warning"
    assert [f.name for f in outcome.warning_failures] == ["donotemail_flag"]
    assert outcome.warning_failures[0].sample == ("maybe",)  # declared public in the suite


def test_unparseable_timestamps_and_missing_columns_fail_with_their_severity(spark, settings):
    rows = good_crm_rows()
    rows[0] = crm_row("c10", modified="05/01/2024 09:30", dob="29/02/1984")
    schema = ", ".join(f"{c} string" for c in CRM_COLUMNS)
    frame = spark.createDataFrame(rows, schema).drop("lastname")
    frame.write.format("delta").save(settings.table_path("bronze", "crm"))

    outcome = gate_crm(spark, settings, build_docs=False, record=False)

    assert {f.name for f in outcome.critical_failures} == {"has_lastname", "modifiedon_parseable"}
    assert {f.name for f in outcome.warning_failures} == {"birthdate_parseable"}


SILVER_SCHEMA = (
    "record_id string, source_system string, source_record_id string, first_name string, last_name string, "
    "email string, phone string, date_of_birth date, address_line1 string, city string, postcode string, "
    "country string, email_opt_in boolean"
)
RAW_BAD_EMAIL = "frederick.bloggs@invalid"
RAW_BAD_PHONE = "07700900123"
RAW_BAD_DOB = dt.date(1850, 7, 14)
RAW_GOOD_EMAIL_OF_FAILING_ROW = "wilhelmina.carter@example.org"


def silver_rows():
    def rec(i, **over):
        base = dict(record_id=f"crm:{i}", source_system="crm", source_record_id=str(i), first_name="ann",
                    last_name="lee", email=f"ann{i}@example.com", phone="+447700900001",
                    date_of_birth=dt.date(1984, 2, 29), address_line1="1 high st", city="london",
                    postcode="SW1A 1AA", country="GB", email_opt_in=True)
        base.update(over)
        return tuple(base.values())

    return [
        rec(1),
        rec(2, email=RAW_BAD_EMAIL),
        rec(3, phone=RAW_BAD_PHONE, email=RAW_GOOD_EMAIL_OF_FAILING_ROW),
        rec(4, date_of_birth=RAW_BAD_DOB),
        rec(5, postcode="NOT A CODE", first_name="test"),
    ]


def test_data_docs_and_everything_else_carry_no_raw_personal_data(spark, settings, caplog):
    spark.createDataFrame(silver_rows(), SILVER_SCHEMA).write.format("delta").save(
        settings.table_path("silver", "person_records"))

    with caplog.at_level(logging.INFO):
        outcome = run_gate(spark, settings, table_path="silver/person_records", suite="silver_person_records",
                           run=RunInfo(run_id="manual__2024-01-05T10:00:00+00:00"))

    assert {f.name for f in outcome.critical_failures} == {"email_format", "phone_e164", "dob_plausible"}
    assert {f.name for f in outcome.warning_failures} == {"postcode_format_gb", "first_name_no_placeholder"}
    by_name = {r.name: r for r in outcome.results}
    assert by_name["email_format"].sample == ("f***@***",)
    assert by_name["phone_e164"].sample == ("*********23",)
    assert by_name["dob_plausible"].sample == ("1850-**-**",)
    assert by_name["first_name_no_placeholder"].sample[0].startswith("t***#")

    raw_values = [RAW_BAD_EMAIL, "frederick", RAW_BAD_PHONE, RAW_BAD_DOB.isoformat(), "NOT A CODE",
                  RAW_GOOD_EMAIL_OF_FAILING_ROW, "wilhelmina"]
    docs_root = os.path.dirname(outcome.data_docs_path)
    html_files = []
    for folder, _, files in os.walk(docs_root):
        html_files += [os.path.join(folder, f) for f in files if f.endswith(".html")]
    assert any("validations" in f for f in html_files), html_files
    for path in html_files:
        text = open(path, encoding="utf-8").read()
        for raw in raw_values:
            assert raw not in text, f"{raw!r} found in {path}"
    validation_page = next(open(f, encoding="utf-8").read() for f in html_files if "validations" in f)
    assert "f***@***" in validation_page  # the masked sample is what the report shows

    ops = spark.read.format("delta").load(validation_results_path(settings)).toPandas().to_json()
    published = [outcome.report(), json.dumps(outcome.summary()), repr(outcome), ops, caplog.text]
    for text in published:
        for raw in raw_values:
            assert raw not in text


def _history_outcome(run_id: str, rows: int, when: dt.datetime) -> ValidationOutcome:
    band = ExpectationOutcome(name="row_count_band", expectation_type="expect_table_row_count_to_be_between",
                              severity="warning", success=True, observed_value=str(rows))
    return ValidationOutcome(suite="bronze_crm", table="bronze/crm", run_id=run_id, results=(band,),
                             validated_at=when)


def test_row_count_band_comes_from_recent_runs(spark, settings):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    for i, rows in enumerate([100, 120, 80, 5000]):
        when = start + dt.timedelta(days=i)
        record_outcome(spark, settings, _history_outcome(f"scheduled__2024-01-0{i + 1}", rows, when))
    # A retry of an old run records a later attempt: only the latest attempt of a run counts.
    record_outcome(spark, settings, _history_outcome("scheduled__2024-01-04", 110, start + dt.timedelta(days=4)))
    write_crm(spark, settings, good_crm_rows())

    outcome = gate_crm(spark, settings, build_docs=False)

    # history 100, 120, 80, 110 -> median 105 -> band [52, 158]; 6 rows is a volume anomaly
    assert outcome.parameters["volume_min"] == "52" and outcome.parameters["volume_max"] == "158"
    assert outcome.success and [f.name for f in outcome.warning_failures] == ["row_count_band"]
    assert outcome.warning_failures[0].observed_value == "6"


def test_volume_band_needs_history():
    spec = VolumeSpec(window=5, tolerance=0.2, min_history=3)
    assert volume_band([], spec) == (1, None)
    assert volume_band([100, 100], spec) == (1, None)
    assert volume_band([100, 90, 110], spec) == (80, 120)


# --- gold (the daily DAG validates the staged snapshots before publishing them) ---------------

XREF_SCHEMA = "source_system string, source_record_id string, record_id string, customer_id string, cluster_size int"
GOLDEN_SCHEMA = (
    "customer_id string, first_name string, last_name string, email string, phone string, date_of_birth date, "
    "address_line1 string, city string, postcode string, country string, email_opt_in boolean, "
    "provenance map<string,string>, record_count int, email_consent boolean, email_consent_record_id string"
)
ATTRIBUTES = ("first_name", "last_name", "email", "phone", "date_of_birth", "address_line1", "city", "postcode",
              "country", "email_opt_in")
GATE_HMAC_KEY = b"gate-test-key"


def _silver_for_gold():
    return [
        silver_rows()[0],  # crm:1 ann lee
        ("crm:2", "crm", "2", "bob", "ray", "bob@example.com", "+447700900002", dt.date(1970, 1, 1),
         "2 high st", "leeds", "LS1 1AA", "GB", True),
        ("webshop:a2", "webshop", "a2", "robert", "ray", "bob@example.com", None, None,
         "2 high st", "leeds", "LS1 1AA", "GB", False),
    ]


def _xref(*assignments):
    return [(r.split(":")[0], r.split(":")[1], r, c, sum(1 for _, o in assignments if o == c)) for r, c in assignments]


def _golden(customer_id, values, provenance, record_count, consent_record=None):
    consent = {"crm:1": True, "crm:2": True, "webshop:a2": False}.get(consent_record)
    return (customer_id, *[values[a] for a in ATTRIBUTES], provenance, record_count, consent, consent_record)


ANN = dict(first_name="ann", last_name="lee", email="ann1@example.com", phone="+447700900001",
           date_of_birth=dt.date(1984, 2, 29), address_line1="1 high st", city="london", postcode="SW1A 1AA",
           country="GB", email_opt_in=True)
BOB = dict(first_name="robert", last_name="ray", email="bob@example.com", phone="+447700900002",
           date_of_birth=dt.date(1970, 1, 1), address_line1="2 high st", city="leeds", postcode="LS1 1AA",
           country="GB", email_opt_in=True)
GOOD_XREF = _xref(("crm:1", "C1"), ("crm:2", "C2"), ("webshop:a2", "C2"))
GOOD_GOLDEN = [
    _golden("C1", ANN, {a: "crm:1" for a in ATTRIBUTES}, 1, "crm:1"),
    _golden("C2", BOB, {**{a: "crm:2" for a in ATTRIBUTES}, "first_name": "webshop:a2"}, 2, "webshop:a2"),
]


def write_gold(spark, settings, xref, golden):
    """Silver and the staged xref as given; the golden rows split into the pseudonymised
    analytics table and the personal table exactly as the build_golden job does."""
    from pyspark.sql import functions as F

    from scv.golden.publish import with_content_hash
    from scv.golden.pseudonymise import split_personal

    for rows, schema, path in (
        (_silver_for_gold(), SILVER_SCHEMA, settings.table_path("silver", "person_records")),
        (xref, XREF_SCHEMA, settings.table_path("staging", "customer_xref")),
    ):
        spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite").save(path)
    # Linkage's assignment: the staged xref's (a record the xref leaves out has none).
    spark.createDataFrame(xref, XREF_SCHEMA).select("record_id", "customer_id").write.format("delta").mode(
        "overwrite").save(settings.table_path("silver", "record_customer"))
    full = (
        spark.createDataFrame(golden, GOLDEN_SCHEMA)
        .withColumn("golden_source_record_id", F.element_at(F.map_values("provenance"), 1))
        .withColumn("source_systems", F.array(F.lit("crm")))
        .withColumn("last_updated_at", F.lit(None).cast("timestamp"))
        .withColumn("email_consent_at", F.lit(None).cast("timestamp"))
    )
    analytics, personal = split_personal(full, GATE_HMAC_KEY)
    for frame, name in ((analytics, "customer_golden"), (personal, "customer_pii")):
        staged = frame.withColumn("_input_fingerprint", F.sha2(F.col("customer_id"), 256))
        with_content_hash(staged).write.format("delta").mode("overwrite").save(settings.table_path("staging", name))


def gate_gold(spark, settings, name, **kwargs):
    return run_gate(spark, settings, table_path=f"staging/{name}", suite=f"gold_{name}", build_docs=False,
                    record=False, **kwargs)


def test_gold_suites_pass_on_consistent_tables(spark, settings):
    write_gold(spark, settings, GOOD_XREF, GOOD_GOLDEN)
    for name in ("customer_xref", "customer_golden", "customer_pii"):
        outcome = gate_gold(spark, settings, name)
        assert outcome.status == "passed", outcome.report()
        assert outcome.table == f"gold/{name}"


def test_gold_suites_catch_over_merge_unassigned_records_and_untraceable_values(spark, settings):
    xref = _xref(("crm:1", "C2"), ("crm:2", "C2"))  # webshop:a2 unassigned; C2 has 2 records
    golden = [_golden("C2", {**BOB, "first_name": "ann", "email": "someone.else@example.com"},
                      {**{a: "crm:2" for a in ATTRIBUTES}, "first_name": "crm:1", "last_name": "webshop:a2"}, 2,
                      "crm:2")]
    write_gold(spark, settings, xref, golden)

    xref_outcome = gate_gold(spark, settings, "customer_xref", parameters={"max_cluster_size": 1})
    assert {f.name: f.unexpected_count for f in xref_outcome.critical_failures} == {
        "every_silver_record_assigned": 1, "cluster_size_max": 1}

    # last_name names a record of another customer (the analytics table's provenance check)...
    golden_outcome = gate_gold(spark, settings, "customer_golden")
    assert {f.name: f.unexpected_count for f in golden_outcome.critical_failures} == {"provenance_is_own_record": 1}
    # ...and the personal table holds an email that is nobody's value.
    pii_outcome = gate_gold(spark, settings, "customer_pii")
    assert {f.name: f.unexpected_count for f in pii_outcome.critical_failures} == {"values_come_from_provenance": 1}
    assert "someone.else" not in pii_outcome.report()


def test_gold_suite_rejects_a_personal_column_in_the_analytics_table(spark, settings):
    write_gold(spark, settings, GOOD_XREF, GOOD_GOLDEN)
    path = settings.table_path("staging", "customer_golden")
    leaked = spark.read.format("delta").load(path).join(
        spark.read.format("delta").load(settings.table_path("staging", "customer_pii")).select("customer_id", "email"),
        "customer_id")
    leaked.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
    outcome = gate_gold(spark, settings, "customer_golden")
    assert "pseudonymised_columns_only" in {f.name for f in outcome.critical_failures}
    assert "ann1@example.com" not in outcome.report()


def test_missing_table_is_reported_with_its_path(spark, settings):
    from scv.quality import TableNotFound

    with pytest.raises(TableNotFound, match="bronze/nowhere"):
        run_gate(spark, settings, table_path="bronze/nowhere", suite="bronze_crm")
