"""Right to be forgotten, end to end: plant a person, run the pipeline, erase them with the
scv_erasure DAG (dag.test(), real Spark and Delta), and prove by decoding every file that their
email, phone and name are gone everywhere; then re-ingest their original files and show that
the suppression list keeps them out."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from scv.config import PROJECT_ROOT

RUN_DATE = dt.date(2026, 11, 22)
PEOPLE = 120
HMAC_SECRET = "e2e-erasure-hmac-secret-7f3a9c"
EMAIL = "Zebedee.Quarrington@Example.net"
PHONE_CRM = "+44 7911 123456"
PHONE_LOYALTY = "07911 123456"
FIRST, LAST = "Zebedee", "Quarrington-Vask"
STAGES = ("silver_standardise", "link_records", "build_golden", "publish_gold")


def _plant(landing: Path) -> None:
    crm = next((landing / "crm").glob("*.csv"))
    with crm.open(newline="") as handle:
        header = next(csv.reader(handle))
    row = dict.fromkeys(header, "")
    row.update(contactid="crm-planted-0001", firstname=FIRST, lastname=LAST, emailaddress1=EMAIL,
               mobilephone=PHONE_CRM, birthdate="1961-03-14", address1_line1="7 Larkspur Mews",
               address1_city="London", address1_postalcode="N1 9GU", address1_country="United Kingdom",
               donotemail="0", modifiedon="2025-06-01T10:00:00Z")
    with crm.open("a", newline="") as handle:
        csv.DictWriter(handle, header).writerow(row)
    loyalty = next((landing / "loyalty").glob("*.csv"))
    with loyalty.open(newline="") as handle:
        header = next(csv.reader(handle, delimiter=";"))
    row = dict.fromkeys(header, "")
    row.update(card_no="9999000011112222", forename=FIRST.upper(), surname=LAST, dob="14/03/1961",
               phone=PHONE_LOYALTY, email=EMAIL.lower(), street="7 Larkspur Mews", town="LONDON",
               postcode="N1 9GU", country="United Kingdom", email_consent="Y", last_updated="01/06/2025 10:00")
    with loyalty.open("a", newline="") as handle:
        csv.DictWriter(handle, header, delimiter=";").writerow(row)


@pytest.fixture
def lakehouse(monkeypatch, tmp_path):
    from scv.generate import generate_landing

    landing = tmp_path / "landing"
    generate_landing(landing, people=PEOPLE, seed=11, run_date=RUN_DATE)
    _plant(landing)
    shutil.copytree(landing, tmp_path / "original-landing")
    for name, value in {
        "SCV_LANDING_ROOT": str(landing), "SCV_LAKEHOUSE_ROOT": str(tmp_path / "lakehouse"),
        "SCV_ARTIFACTS_DIR": str(tmp_path / "artifacts"), "SCV_SPARK_MASTER": "local[2]",
        "SCV_SHUFFLE_PARTITIONS": "2", "SCV_TASK_RETRIES": "0",
        "AIRFLOW_CONN_SCV_PII_HMAC": f'{{"conn_type": "generic", "password": "{HMAC_SECRET}"}}',
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SCV_PII_HMAC_KEY", raising=False)
    return tmp_path


def _run_pipeline(spark):
    from scv.config import Settings
    from scv.contracts import load_contracts
    from scv.jobs import resolve

    settings = Settings.from_env()
    reports = {}
    for source in load_contracts(settings.sources_dir).contracts:
        reports[source] = resolve("bronze_ingest")(spark, settings, source=source, logical_date=str(RUN_DATE), run_id="e2e")
    for stage in STAGES:
        resolve(stage)(spark, settings, logical_date=str(RUN_DATE), run_id="e2e")
    return settings, reports


def _raw_matcher():
    from scv.privacy.subject import SubjectFingerprint, SubjectMatcher

    key = HMAC_SECRET.encode()
    fingerprint = SubjectFingerprint.from_identifiers(key, [EMAIL], [PHONE_CRM], [FIRST], [LAST])
    return SubjectMatcher(fingerprint, key)


PLANTED_IDS = ["crm-planted-0001", "9999000011112222"]


def _customer_rows(spark, settings):
    """Gold records of the planted person (their crm and loyalty records)."""
    xref = spark.read.format("delta").load(settings.table_path("gold", "customer_xref"))
    return xref.where(F.col("source_record_id").isin(PLANTED_IDS)).count()


def test_erasure_dag_removes_the_person_everywhere_and_keeps_them_out(spark, lakehouse, capfd):
    from airflow.dag_processing.dagbag import DagBag

    from scv.privacy.verification import scan_roots

    settings, _ = _run_pipeline(spark)
    roots = [settings.lakehouse_root, settings.landing_root, settings.artifacts_dir]
    before = scan_roots(roots, _raw_matcher())[1]
    assert _customer_rows(spark, settings) == 2
    assert {f.path.split("/lakehouse/")[-1].split("/")[0] for f in before if "/lakehouse/" in f.path} >= {"bronze", "silver", "gold"}

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    dag_run = bag.get_dag("scv_erasure").test(
        run_conf={"request_reference": "DSR-2026-0042", "email": EMAIL, "phone": PHONE_LOYALTY, "customer_id": None}
    )
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"erase_subject": "success", "verify_erasure": "success"}, states

    # Our own proof, independent of the DAG's: decode every file of lakehouse, landing, artefacts.
    scanned, findings = scan_roots(roots, _raw_matcher())
    assert scanned > 100 and findings == [], findings[:5]
    # Everyone else is still there.
    assert spark.read.format("delta").load(settings.table_path("gold", "customer_golden")).count() > 50

    audit = spark.read.format("delta").load(settings.table_path("privacy", "erasure_audit"))
    rows = {r.event: r for r in audit.where("request_reference = 'DSR-2026-0042'").collect()}
    assert set(rows) == {"received", "completed"}
    done = rows["completed"]
    assert done.verification == "passed" and done.findings == 0 and done.completed_at >= done.received_at
    assert {"bronze/crm", "bronze/loyalty", "silver/person_records", "gold/customer_golden"} <= set(done.tables_touched)
    audit_text = " ".join(str(v) for r in audit.collect() for v in r.asDict().values()).lower()
    for raw in (EMAIL.lower(), "7911", "123456", FIRST.lower(), LAST.lower()):
        assert raw not in audit_text

    # Re-ingesting the original files does not bring the person back.
    shutil.rmtree(settings.landing_root)
    shutil.copytree(lakehouse / "original-landing", settings.landing_root)
    _, reports = _run_pipeline(spark)
    assert reports["crm"]["rows_suppressed"] >= 1 and reports["loyalty"]["rows_suppressed"] >= 1
    for report in reports.values():
        assert report["rows_read"] == report["rows_bronze"] + report["rows_quarantined"] + report["rows_suppressed"]
    lake_findings = scan_roots([settings.lakehouse_root], _raw_matcher())[1]
    assert [f for f in lake_findings if "/_delta_log/" not in f.path and "/bronze/" in f.path] == []
    assert _customer_rows(spark, settings) == 0

    # The HMAC secret and the subject's email never appear in task output.
    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert "erase_subject" in output
    assert HMAC_SECRET not in output
    assert EMAIL not in output and EMAIL.lower() not in output
