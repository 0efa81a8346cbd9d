"""Right to be forgotten, end to end: plant a person and a household member sharing their
landline, run the pipeline once per module (real Spark and Delta), erase the person with the
scv_erasure DAG (dag.test()), and prove by decoding every file that their email, phone and name
are gone everywhere while the household member is untouched; then re-ingest the original files
and show that the suppression list keeps the person out and lets the household member in.

The pre-erasure lakehouse is built once (``pipeline``); tests that only read it run first.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from scv.config import PROJECT_ROOT

RUN_DATE = dt.date(2026, 11, 22)
PEOPLE = 40
HMAC_SECRET = "e2e-erasure-hmac-secret-7f3a9c"
EMAIL = "Zebedee.Quarrington@Larkspur-Mail.co.uk"  # not a placeholder domain (example.net is)
MOBILE = "+44 7911 123456"
LANDLINE = "020 7946 0958"  # the household's landline, on both people's records
FIRST, LAST = "Zebedee", "Quarrington-Vask"
HOUSEHOLD_FIRST, HOUSEHOLD_EMAIL = "Agatha", "agatha.qv@larkspur-mail.co.uk"
ERASED = {"crm:crm-planted-0001", "loyalty:9999000011112222"}
HOUSEHOLD = {"crm:crm-planted-0002", "loyalty:9999000033334444"}
STAGES = ("silver_standardise", "link_records", "build_golden", "publish_gold")


def _append(path: Path, delimiter: str, rows: list[dict]) -> None:
    with path.open(newline="") as handle:
        header = next(csv.reader(handle, delimiter=delimiter))
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, header, delimiter=delimiter)
        for values in rows:
            writer.writerow({**dict.fromkeys(header, ""), **values})


def _plant(landing: Path) -> None:
    address = dict(address1_line1="7 Larkspur Mews", address1_city="London", address1_postalcode="N1 9GU",
                   address1_country="United Kingdom", donotemail="0", modifiedon="2025-06-01T10:00:00Z")
    _append(next((landing / "crm").glob("*.csv")), ",", [
        dict(contactid="crm-planted-0001", firstname=FIRST, lastname=LAST, emailaddress1=EMAIL, mobilephone=MOBILE,
             telephone1=LANDLINE, birthdate="1961-03-14", **address),
        # Same surname, address and landline; own first name, email and date of birth.
        dict(contactid="crm-planted-0002", firstname=HOUSEHOLD_FIRST, lastname=LAST, emailaddress1=HOUSEHOLD_EMAIL,
             telephone1="+44 20 7946 0958", birthdate="1964-08-02", **address),
    ])
    home = dict(street="7 Larkspur Mews", town="LONDON", postcode="N1 9GU", country="United Kingdom",
                last_updated="01/06/2025 10:00")
    _append(next((landing / "loyalty").glob("*.csv")), ";", [
        dict(card_no="9999000011112222", forename=FIRST.upper(), surname=LAST, dob="14/03/1961", phone=LANDLINE,
             email=EMAIL.lower(), email_consent="Y", **home),
        dict(card_no="9999000033334444", forename=HOUSEHOLD_FIRST.upper(), surname=LAST, dob="02/08/1964",
             phone="02079460958", email="", email_consent="N", **home),  # no email of her own here
    ])


def _settings_env(tmp: Path) -> dict[str, str]:
    return {
        "SCV_LANDING_ROOT": str(tmp / "landing"), "SCV_LAKEHOUSE_ROOT": str(tmp / "lakehouse"),
        "SCV_ARTIFACTS_DIR": str(tmp / "artifacts"), "SCV_SPARK_MASTER": "local[2]",
        "SCV_SHUFFLE_PARTITIONS": "2", "SCV_TASK_RETRIES": "0",
        "AIRFLOW_CONN_SCV_PII_HMAC": json.dumps({"conn_type": "generic", "password": HMAC_SECRET}),
    }


def _run_pipeline(spark, settings, stages=STAGES, sources=None):
    from scv.contracts import load_contracts
    from scv.jobs import resolve

    import time
    reports = {}
    t = time.time()
    for source in sources or load_contracts(settings.sources_dir).contracts:
        reports[source] = resolve("bronze_ingest")(spark, settings, source=source, logical_date=str(RUN_DATE), run_id="e2e")
    print("TIMING bronze", time.time() - t, flush=True)
    for stage in stages:
        t = time.time()
        resolve(stage)(spark, settings, logical_date=str(RUN_DATE), run_id="e2e")
        print("TIMING", stage, time.time() - t, flush=True)
    return reports


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory):
    """The pre-erasure lakehouse, built once: landing with the planted household, bronze to gold,
    a quality gate (ops/validation_results, Data Docs) and a column profile."""
    from scv.config import Settings
    from scv.generate import generate_landing
    from scv.jobs import resolve
    from scv.quality.gate import run_gate

    tmp = tmp_path_factory.mktemp("erasure")
    generate_landing(tmp / "landing", people=PEOPLE, seed=11, run_date=RUN_DATE)
    _plant(tmp / "landing")
    shutil.copytree(tmp / "landing", tmp / "original-landing")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _settings_env(tmp).items():
            patch.setenv(name, value)
        patch.delenv("SCV_PII_HMAC_KEY", raising=False)
        settings = Settings.from_env()
        _run_pipeline(spark, settings)
        import time
        t = time.time()
        run_gate(spark, settings, table_path="silver/person_records", suite="silver_person_records")
        print("TIMING gate", time.time() - t, flush=True)
        t = time.time()
        resolve("profile_bronze")(spark, settings, source="crm", logical_date=str(RUN_DATE), run_id="e2e")
        print("TIMING profile", time.time() - t, flush=True)
        yield tmp, settings


@pytest.fixture
def env(pipeline, monkeypatch):
    tmp, settings = pipeline
    for name, value in _settings_env(tmp).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SCV_PII_HMAC_KEY", raising=False)
    return tmp, settings


def _key() -> bytes:
    return HMAC_SECRET.encode()


def _raw_matcher():
    """Our own matcher from the raw identifiers: the landline is shared with the household, so it
    counts only next to the subject's first name; email, mobile and full name count anywhere."""
    from scv.privacy.keyed_hash import keyed_hash
    from scv.privacy.subject import SubjectFingerprint, SubjectMatcher, phone_key

    fingerprint = SubjectFingerprint.from_identifiers(_key(), [EMAIL], [MOBILE, LANDLINE], [FIRST], [LAST])
    return SubjectMatcher(fingerprint.with_shared([keyed_hash(phone_key(LANDLINE), _key())]), _key())


def _xref_ids(spark, settings) -> set[str]:
    xref = spark.read.format("delta").load(settings.table_path("gold", "customer_xref"))
    rows = xref.where(F.col("source_record_id").startswith("crm-planted-") | F.col("source_record_id").startswith("9999000"))
    return {f"{r.source_system}:{r.source_record_id}" for r in rows.collect()}


def _silver_ids(spark, settings) -> set[str]:
    records = spark.read.format("delta").load(settings.table_path("silver", "person_records"))
    return {r.record_id for r in records.where(F.col("record_id").isin(sorted(ERASED | HOUSEHOLD))).collect()}


PERSONAL_STATS_COLUMNS = {
    "first_name", "last_name", "full_name", "email", "phone", "date_of_birth", "address_line1", "city",
    "postcode", "firstname", "lastname", "emailaddress1", "mobilephone", "telephone1", "birthdate",
    "address1_line1", "address1_city", "address1_postalcode", "forename", "surname", "dob", "street",
    "town", "address", "raw_text", "name_tokens",
}


def _personal(column: str) -> bool:
    base = column.lower().rsplit(".", 1)[-1]
    stem = base[:-2] if base.endswith(("_l", "_r")) else base
    return stem in PERSONAL_STATS_COLUMNS or any(w in stem for w in ("email", "phone", "name", "birth", "postcode", "address"))


def test_no_delta_table_keeps_personal_columns_in_its_log_statistics(env):
    """Every Delta table of a run (not a fixed list, so new tables are guarded too): no ``add``
    action's ``stats`` in any ``_delta_log/*.json`` names a personal column."""
    tmp, settings = env
    logs = sorted(Path(settings.lakehouse_root).glob("**/_delta_log"))
    tables = {str(p.parent.relative_to(settings.lakehouse_root)) for p in logs}
    assert {"bronze/crm", "silver/person_records", "gold/customer_golden", "ops/validation_results",
            "ops/ingest_files", "silver/customer_id_history"} <= tables, tables
    offenders: dict[str, set[str]] = {}
    stats_seen = 0
    for log in logs:
        for commit in sorted(log.glob("*.json")):
            for line in commit.read_text().splitlines():
                add = json.loads(line).get("add")
                if not add or not add.get("stats"):
                    continue
                stats_seen += 1
                stats = json.loads(add["stats"])
                columns = set()
                for section in ("minValues", "maxValues", "nullCount"):
                    stack = [("", stats.get(section) or {})]
                    while stack:
                        prefix, node = stack.pop()
                        for name, value in node.items():
                            full = f"{prefix}{name}"
                            stack.append((f"{full}.", value)) if isinstance(value, dict) else columns.add(full)
                bad = {c for c in columns if _personal(c)}
                if bad:
                    offenders.setdefault(str(log.parent.relative_to(settings.lakehouse_root)), set()).update(bad)
    assert stats_seen > 20
    assert offenders == {}, offenders


def test_a_phone_finds_the_person_but_not_the_household_sharing_it(spark, env):
    from scv.privacy.erasure import ErasureRequest, ErasureRequestAmbiguous, find_subject

    _, settings = env
    assert _silver_ids(spark, settings) == ERASED | HOUSEHOLD
    by_email_and_landline = find_subject(spark, settings, ErasureRequest("T-1", email=EMAIL, phone=LANDLINE), _key())
    assert by_email_and_landline.record_ids & (ERASED | HOUSEHOLD) == ERASED
    assert len(by_email_and_landline.fingerprint.shared_hashes) == 1  # the landline, and only it
    by_mobile = find_subject(spark, settings, ErasureRequest("T-2", phone="07911123456"), _key())
    assert by_mobile.record_ids & (ERASED | HOUSEHOLD) == ERASED
    with pytest.raises(ErasureRequestAmbiguous):  # the landline alone names two people
        find_subject(spark, settings, ErasureRequest("T-3", phone="+442079460958"), _key())


def test_erasure_dag_removes_the_person_everywhere_keeps_the_household_and_keeps_them_out(spark, env, capfd):
    from airflow.dag_processing.dagbag import DagBag

    from scv.privacy.verification import scan_roots

    tmp, settings = env
    roots = [settings.lakehouse_root, settings.landing_root, settings.artifacts_dir]
    before = scan_roots(roots, _raw_matcher())[1]
    assert {f.path.split("/lakehouse/")[-1].split("/")[0] for f in before if "/lakehouse/" in f.path} >= {"bronze", "silver", "gold"}
    assert _xref_ids(spark, settings) == ERASED | HOUSEHOLD

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    import time
    t = time.time()
    dag_run = bag.get_dag("scv_erasure").test(
        run_conf={"request_reference": "DSR-2026-0042", "email": EMAIL, "phone": LANDLINE, "customer_id": None}
    )
    print("TIMING dag", time.time() - t, flush=True)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"erase_subject": "success", "verify_erasure": "success"}, states

    # Our own proof, independent of the DAG's: decode every file of lakehouse, landing, artefacts.
    scanned, findings = scan_roots(roots, _raw_matcher())
    assert scanned > 100 and findings == [], findings[:5]
    # The household member sharing the landline, and everyone else, are still there.
    assert _xref_ids(spark, settings) == HOUSEHOLD
    assert spark.read.format("delta").load(settings.table_path("gold", "customer_golden")).count() > 20
    landing_text = "\n".join(p.read_text() for p in Path(settings.landing_root).rglob("*.csv"))
    assert "crm-planted-0002" in landing_text and "9999000033334444" in landing_text

    audit = spark.read.format("delta").load(settings.table_path("privacy", "erasure_audit"))
    rows = {r.event: r for r in audit.where("request_reference = 'DSR-2026-0042'").collect()}
    assert set(rows) == {"received", "completed"}
    done = rows["completed"]
    assert done.verification == "passed" and done.findings == 0 and done.completed_at >= done.received_at
    assert {"bronze/crm", "bronze/loyalty", "silver/person_records", "gold/customer_golden"} <= set(done.tables_touched)
    audit_text = " ".join(str(v) for r in audit.collect() for v in r.asDict().values()).lower()
    for raw in (EMAIL.lower(), "7911", "123456", "7946", FIRST.lower(), LAST.lower()):
        assert raw not in audit_text

    # Re-ingesting the original files (of the sources that held the person) drops exactly the
    # erased person's rows, not the household's.
    shutil.rmtree(settings.landing_root)
    shutil.copytree(tmp / "original-landing", settings.landing_root)
    reports = _run_pipeline(spark, settings, stages=("silver_standardise",), sources=("crm", "loyalty"))
    assert (reports["crm"]["rows_suppressed"], reports["loyalty"]["rows_suppressed"]) == (1, 1)
    for report in reports.values():
        assert report["rows_read"] == report["rows_bronze"] + report["rows_quarantined"] + report["rows_suppressed"]
    lake_findings = scan_roots([settings.lakehouse_root], _raw_matcher())[1]
    assert [f for f in lake_findings if "/_delta_log/" not in f.path and "/bronze/" in f.path] == []
    assert _silver_ids(spark, settings) == HOUSEHOLD

    # The HMAC secret and the subject's identifiers never appear in task output.
    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert "erase_subject" in output
    assert HMAC_SECRET not in output
    for raw in (EMAIL, EMAIL.lower(), MOBILE, LANDLINE):
        assert raw not in output
