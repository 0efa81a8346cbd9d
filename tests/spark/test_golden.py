"""Survivorship, consent and pseudonymisation on hand-made clusters; the golden jobs on Delta.

Each customer below is built so that exactly one record must win an attribute under the rule
being tested; the assertions name that record.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from scv import delta_io
from scv.golden.policy import PERSONAL_ATTRIBUTES, SurvivorshipError, load_definitions, load_policy
from scv.golden.pseudonymise import ANALYTICS_COLUMNS, split_personal
from scv.golden.survivorship import build_golden
from scv.privacy.keyed_hash import keyed_hash

KEY = b"test-golden-hmac-key"
RECORD_SCHEMA = (
    "record_id string, source_system string, source_record_id string, customer_id string, first_name string, "
    "last_name string, email string, phone string, date_of_birth date, address_line1 string, city string, "
    "postcode string, country string, email_opt_in boolean, updated_at timestamp, precedence int"
)
PRECEDENCE = {"crm": 1, "webshop": 2, "loyalty": 3}
DAY = dt.datetime(2026, 1, 1)


def rec(record_id, customer, *, first=None, last=None, email=None, phone=None, dob=None, line1=None, city=None,
        postcode=None, country=None, opt_in=None, days=0):
    source, _, key = record_id.partition(":")
    return (record_id, source, key, customer, first, last, email, phone, dob, line1, city, postcode, country, opt_in,
            DAY + dt.timedelta(days=days), PRECEDENCE[source])


def write_policy(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / f"{body['name']}.yml"
    path.write_text(yaml.safe_dump(body))
    return path


def golden_rows(spark, rows, policy):
    frame = spark.createDataFrame(rows, RECORD_SCHEMA)
    return {r.customer_id: r for r in build_golden(frame, policy).collect()}


def test_each_rule_picks_the_expected_record_and_provenance_names_it(spark, tmp_path):
    policy = load_policy(write_policy(tmp_path, {
        "name": "rules",
        "default": {"rule": "precedence", "tie_breakers": ["most_recent"]},
        "attributes": {
            "first_name": {"rule": "precedence"},
            "last_name": {"rule": "most_recent"},
            "email": {"rule": "most_complete"},
            "date_of_birth": {"rule": "most_frequent", "tie_breakers": ["precedence"]},
            "phone": {"rule": "most_recent"},
        },
        "groups": {"address": {"members": ["address_line1", "city", "postcode", "country"], "rule": "most_recent"}},
    }))
    rows = [
        # C1: the CRM is older but has precedence for first_name; the web shop is newest (last_name);
        # the loyalty record is the most complete (email); the date of birth seen twice wins.
        rec("crm:1", "C1", first="ann", last="lee", dob=dt.date(1980, 1, 1), days=1),
        rec("webshop:1", "C1", first="anne", last="lee-smith", email="a@web.example", dob=dt.date(1981, 1, 1),
            line1="2 new rd", city="york", postcode="YO1 1AA", days=9),
        rec("loyalty:1", "C1", first="annie", last="lee", email="ann@loyal.example", phone="+447700900001",
            dob=dt.date(1981, 1, 1), line1="1 old st", city="leeds", postcode="LS1 1AA", country="GB", days=5),
        # C2: every record ties on every rule: the smallest record id wins, for every attribute.
        rec("webshop:b", "C2", first="bob", last="ray", email="b2@example.com", days=3),
        rec("webshop:a", "C2", first="rob", last="roy", email="b1@example.com", days=3),
    ]
    golden = golden_rows(spark, rows, policy)

    c1 = golden["C1"]
    assert (c1.first_name, c1.provenance["first_name"]) == ("ann", "crm:1")  # precedence
    assert (c1.last_name, c1.provenance["last_name"]) == ("lee-smith", "webshop:1")  # most recent
    assert (c1.email, c1.provenance["email"]) == ("ann@loyal.example", "loyalty:1")  # most complete
    assert c1.date_of_birth == dt.date(1981, 1, 1)  # most frequent (two records), tie -> precedence
    assert c1.provenance["date_of_birth"] == "webshop:1"
    assert (c1.phone, c1.provenance["phone"]) == ("+447700900001", "loyalty:1")  # only non-null value
    # The address is one record's address, never assembled from parts of several.
    assert (c1.address_line1, c1.city, c1.postcode, c1.country) == ("2 new rd", "york", "YO1 1AA", None)
    assert {c1.provenance[a] for a in ("address_line1", "city", "postcode", "country")} == {"webshop:1"}
    assert c1.record_count == 3 and c1.source_systems == ["crm", "loyalty", "webshop"]

    c2 = golden["C2"]
    assert (c2.first_name, c2.last_name, c2.email) == ("rob", "roy", "b1@example.com")
    assert set(c2.provenance.values()) == {"webshop:a"} and c2.golden_source_record_id == "webshop:a"

    # Provenance always names a real record of that customer holding exactly that value.
    by_id = {r[0]: dict(zip([c.split()[0] for c in RECORD_SCHEMA.split(", ")], r)) for r in rows}
    for customer, row in golden.items():
        for attribute, record_id in row.provenance.items():
            assert by_id[record_id]["customer_id"] == customer
            assert by_id[record_id][attribute] == getattr(row, attribute), (customer, attribute)


def test_a_newer_record_with_changed_consent_flips_email_contactable(spark):
    policy = load_policy(Path("include/survivorship/customer_golden.yml"))
    opted_in = [
        rec("crm:1", "C1", first="ann", email="ann@example.com", opt_in=True, days=1),
        rec("webshop:1", "C1", first="ann", opt_in=None, days=2),  # states no consent: ignored
    ]
    analytics, _ = split_personal(build_golden(spark.createDataFrame(opted_in, RECORD_SCHEMA), policy), KEY)
    before = analytics.first()
    assert (before.email_consent, before.email_consent_record_id, before.email_contactable) == (True, "crm:1", True)

    # The customer opts out in the web shop a week later (the CRM record is unchanged).
    opted_out = [*opted_in, rec("webshop:2", "C1", opt_in=False, days=8)]
    analytics, _ = split_personal(build_golden(spark.createDataFrame(opted_out, RECORD_SCHEMA), policy), KEY)
    after = analytics.first()
    assert (after.email_consent, after.email_consent_record_id, after.email_contactable) == (False, "webshop:2", False)
    assert after.has_email  # the address is still known, just not to be used


def test_contactability_needs_a_valid_email_a_full_address_and_no_suppression(spark):
    policy = load_policy(Path("include/survivorship/customer_golden.yml"))
    rows = [
        rec("crm:1", "C1", email="ann@example.com", line1="1 high st", postcode="SW1A 1AA", country="GB", opt_in=True),
        rec("crm:2", "C2", email="not-an-email", line1="2 high st", postcode=None, country="GB", opt_in=True),
        rec("crm:3", "C3", email="cy@example.com", phone="07700 900003", line1="3 high st", postcode="LS1 1AA",
            country="GB", opt_in=True),
    ]
    # C3's phone was erased elsewhere: its keyed hash (last 9 digits) is on the suppression list.
    suppression = spark.createDataFrame([("phone", keyed_hash("700900003", KEY))], "identifier_type string, keyed_hash string")
    analytics, _ = split_personal(build_golden(spark.createDataFrame(rows, RECORD_SCHEMA), policy), KEY, suppression)
    flags = {r.customer_id: (r.email_contactable, r.postal_contactable, r.is_suppressed) for r in analytics.collect()}
    assert flags == {"C1": (True, True, False), "C2": (False, False, False), "C3": (False, False, True)}


def test_analytics_rows_hold_no_personal_values_and_the_pii_rows_join_by_keyed_hash(spark):
    policy = load_policy(Path("include/survivorship/customer_golden.yml"))
    rows = [rec("crm:1", "C1", first="ann", last="lee", email=" Ann.Lee@Example.com", phone="+44 7700 900001",
                dob=dt.date(1984, 2, 29), line1="1 high st", city="london", postcode="SW1A 1AA", country="GB", opt_in=True)]
    analytics, personal = split_personal(build_golden(spark.createDataFrame(rows, RECORD_SCHEMA), policy), KEY)
    assert tuple(analytics.columns) == ANALYTICS_COLUMNS
    assert not set(PERSONAL_ATTRIBUTES) & set(analytics.columns)
    text = str(analytics.collect())
    for value in ("ann", "lee", "Example", "7700", "1984", "high st", "london", "SW1A"):
        assert value.lower() not in text.lower(), value
    pii = personal.first()
    assert (pii.first_name, pii.email, pii.postcode) == ("ann", " Ann.Lee@Example.com", "SW1A 1AA")
    row = analytics.first()
    assert row.email_hmac == pii.email_hmac == keyed_hash("ann.lee@example.com", KEY)
    assert row.phone_hmac == pii.phone_hmac == keyed_hash("700900001", KEY)
    assert row.has_name and row.has_date_of_birth and row.has_postal_address and row.country == "GB"
    # Another key gives other digests (the hashes are keyed, not plain SHA-256).
    other, _ = split_personal(build_golden(spark.createDataFrame(rows, RECORD_SCHEMA), policy), b"another-key")
    assert other.first().email_hmac != row.email_hmac


def test_definitions_are_listed_primary_first_and_may_not_share_tables(tmp_path):
    definitions = load_definitions(Path("include/survivorship"))
    assert [(d.table, d.pii_table) for d in definitions][:1] == [("customer_golden", "customer_pii")]
    assert ("customer_service", "customer_service_pii") in [(d.table, d.pii_table) for d in definitions]
    write_policy(tmp_path, {"name": "a", "table": "same", "default": {"rule": "precedence"}})
    write_policy(tmp_path, {"name": "b", "table": "same", "default": {"rule": "precedence"}})
    with pytest.raises(SurvivorshipError, match="same"):
        load_definitions(tmp_path)


# --- the jobs on Delta: stage, publish, rerun ---------------------------------------------------

def write_silver(spark, settings, rows):
    records = spark.createDataFrame(rows, RECORD_SCHEMA)
    silver = records.drop("customer_id").withColumn("is_linkable", F.lit(True)).withColumn("is_company", F.lit(False))
    assignment = records.select(
        "record_id", "customer_id",
        F.lit(0.99).alias("match_probability_min"), F.lit(0.99).alias("match_probability_max"),
        F.count("*").over(Window.partitionBy("customer_id")).cast("int").alias("cluster_size"),
        F.lit("m1").alias("model_version"),
    )
    delta_io.overwrite(silver, settings.table_path("silver", "person_records"))
    delta_io.overwrite(assignment, settings.table_path("silver", "record_customer"))


CLUSTERS = [
    rec("crm:1", "C1", first="ann", last="lee", email="ann@example.com", line1="1 crm st", city="leeds",
        postcode="LS1 1AA", country="GB", opt_in=True, days=1),
    rec("webshop:1", "C1", first="anne", last="lee", email="ann@example.com", line1="9 web rd", city="york",
        postcode="YO1 1AA", country="GB", opt_in=True, days=5),
    rec("loyalty:2", "C2", first="bob", last="ray", email="bob@example.com", opt_in=False, days=2),
]


def table(spark, settings, layer, name):
    return spark.read.format("delta").load(settings.table_path(layer, name))


def test_jobs_stage_and_publish_every_definition_and_a_rerun_changes_nothing(spark, settings, monkeypatch):
    from scv.jobs import golden as golden_job

    monkeypatch.setenv("SCV_PII_HMAC_KEY", KEY.decode())
    write_silver(spark, settings, CLUSTERS)
    run = {"logical_date": "2026-01-10", "run_id": "r1"}
    staged = golden_job.run(spark, settings, **run)
    assert staged["definitions"]["customer_golden"] == {"customers": 2, "email_contactable": 1, "postal_contactable": 1}
    first = golden_job.publish(spark, settings, **run)
    assert set(first) >= {"customer_xref", "customer_golden", "customer_pii", "customer_service", "customer_service_pii"}

    # Two definitions from the same clusters, each its own table: the marketing view takes the
    # newest address, the service view the CRM's. Provenance says which record supplied it.
    marketing = table(spark, settings, "gold", "customer_golden").where("customer_id = 'C1'").first()
    service = table(spark, settings, "gold", "customer_service").where("customer_id = 'C1'").first()
    assert marketing.provenance["address_line1"] == "webshop:1" and service.provenance["address_line1"] == "crm:1"
    pii = {r.customer_id: r for r in table(spark, settings, "gold", "customer_pii").collect()}
    service_pii = {r.customer_id: r for r in table(spark, settings, "gold", "customer_service_pii").collect()}
    assert (pii["C1"].address_line1, service_pii["C1"].address_line1) == ("9 web rd", "1 crm st")
    assert pii["C1"].email_hmac == marketing.email_hmac
    for name in ("customer_golden", "customer_service"):
        assert not set(PERSONAL_ATTRIBUTES) & set(table(spark, settings, "gold", name).columns), name
    xref = table(spark, settings, "gold", "customer_xref")
    assert {r.record_id for r in xref.where("is_golden_source").collect()} == {marketing.golden_source_record_id, "loyalty:2"}

    # Delta statistics stay off personal columns in the restricted table.
    from delta.tables import DeltaTable

    props = DeltaTable.forPath(spark, settings.table_path("gold", "customer_pii")).detail().first().properties
    assert props["delta.dataSkippingStatsColumns"] == "customer_id"

    published = [n for n, metrics in first.items() if isinstance(metrics, dict)]
    assert len(published) == 5
    versions = {n: DeltaTable.forPath(spark, settings.table_path("gold", n)).history(1).first().version for n in published}
    golden_job.run(spark, settings, logical_date="2026-01-10", run_id="r1-again")
    again = golden_job.publish(spark, settings, logical_date="2026-01-10", run_id="r1-again")
    for name in published:
        assert again[name] == {"inserted": 0, "updated": 0, "deleted": 0}, name
        # Nothing changed, so nothing was committed: same version, no rewritten files.
        assert DeltaTable.forPath(spark, settings.table_path("gold", name)).history(1).first().version == versions[name], name

    # A changed record updates only its customer's rows; a removed customer is deleted.
    write_silver(spark, settings, [r if r[0] != "webshop:1" else r[:5] + ("lee-ray",) + r[6:] for r in CLUSTERS if r[0] != "loyalty:2"])
    golden_job.run(spark, settings, logical_date="2026-01-11", run_id="r2")
    changed = golden_job.publish(spark, settings, logical_date="2026-01-11", run_id="r2")
    assert changed["customer_pii"] == {"inserted": 0, "updated": 1, "deleted": 1}
    # C1's analytics values are the same; only its input fingerprint (a record changed) is new.
    assert changed["customer_golden"] == {"inserted": 0, "updated": 1, "deleted": 1}
    after = table(spark, settings, "gold", "customer_golden").first()
    assert after._input_fingerprint != marketing._input_fingerprint
    business = [c for c in after.asDict() if not c.startswith("_")]
    assert [after[c] for c in business] == [marketing[c] for c in business]
    assert table(spark, settings, "gold", "customer_pii").first().last_name == "lee-ray"
