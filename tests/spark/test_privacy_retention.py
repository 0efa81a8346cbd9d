"""Retention purges on real Delta tables.

A table policy: dry-run deletes nothing; a purge leaves no row older than the cutoff, reports
counts, removes the old files, is idempotent and is audited.

The inactive-customers policy (the project's own, from include/privacy/retention.yml), on a small
lakehouse whose bronze and silver come from the real ingest and silver jobs (hand-written landing
files: crm delivered twice, loyalty, pos) and whose link, gold and staging tables are hand-made:
one customer whose records and purchases are all older than six years goes from every layer
(bronze by lineage, incl. an earlier delivered version), and stays gone when silver is rebuilt;
a customer with one old and one recent record, and one whose only recent activity is a
purchase, keep all their rows; a dry run changes no table; a rerun deletes nothing; each run is
one audit row without personal data, appended to an audit table created before the new columns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import os

import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable

from scv.config import PROJECT_ROOT
from scv.privacy.retention import (
    AUDIT_SCHEMA,
    RetentionPolicy,
    RetentionPolicyError,
    load_policies,
    purge,
)

TODAY = dt.date(2026, 11, 22)


def test_dry_run_then_purge(spark, settings):
    path = settings.table_path("bronze", "clicks")
    rows = [(i, dt.datetime(2025, 1, 1) + dt.timedelta(days=30 * i)) for i in range(24)]
    spark.createDataFrame(rows, "id int, seen_at timestamp").write.format("delta").save(path)
    policy = RetentionPolicy("clicks", "bronze/clicks", "seen_at", "13 months", vacuum_retain_hours=0)
    cutoff = policy.cutoff(TODAY)
    old = sum(1 for _, seen in rows if seen < cutoff)
    assert cutoff == dt.datetime(2025, 10, 22) and 0 < old < len(rows)

    dry = purge(spark, settings, policy, TODAY, "run-1", dry_run=True)
    assert (dry.rows_matched, dry.rows_deleted) == (old, 0)
    assert spark.read.format("delta").load(path).count() == len(rows)

    done = purge(spark, settings, policy, TODAY, "run-2")
    assert (done.rows_matched, done.rows_deleted) == (old, old)
    table = spark.read.format("delta").load(path)
    assert table.count() == len(rows) - old and table.where(f"seen_at < '{cutoff}'").count() == 0
    on_disk = [r for f in glob.glob(f"{path}/*.parquet") for r in pq.read_table(f).to_pylist()]
    assert min(r["seen_at"] for r in on_disk) >= cutoff  # VACUUM removed the files with old rows

    again = purge(spark, settings, policy, TODAY, "run-3")
    assert (again.rows_matched, again.rows_deleted) == (0, 0)
    audit = spark.read.format("delta").load(settings.table_path("privacy", "retention_audit"))
    assert sorted((r.run_id, r.dry_run, r.rows_deleted) for r in audit.collect()) == [
        ("run-1", True, 0), ("run-2", False, old), ("run-3", False, 0)
    ]


def test_policy_file_validates_the_customer_kind(tmp_path):
    project = {p.name: p for p in load_policies(PROJECT_ROOT / "include" / "privacy" / "retention.yml")}
    inactive = project["inactive_customers"]
    assert inactive.kind == "inactive_customers" and inactive.keep == "6 years"
    assert inactive.activity == ("silver/person_records.updated_at", "silver/events.event_time")
    assert {p.kind for n, p in project.items() if n != "inactive_customers"} == {"table"}
    for body, message in [
        ("kind: inactive_customers\n    keep: 6 years", "missing activity"),
        ("kind: inactive_customers\n    keep: 6 years\n    activity: [person_records.updated_at]", "activity must be"),
        ("kind: inactive_customers\n    keep: 6 years\n    activity: [silver/events.event_time]\n    table: gold/x",
         "unknown key(s) table"),
        ("kind: people\n    keep: 6 years", "kind must be one of"),
    ]:
        path = tmp_path / "retention.yml"
        path.write_text(f"policies:\n  - name: p\n    {body}\n")
        with pytest.raises(RetentionPolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_policies(path)


# --- inactive customers ------------------------------------------------------------------------

OLD_NAME = "Oldfield-Quillan"  # the inactive person's surname: must be in no data file afterwards
ACTIVE_NAME = "Activa-Brightwater"
LANDING = {
    "crm/crm_20261121.csv": [
        "contactid,firstname,lastname,emailaddress1,mobilephone,modifiedon",
        f"c-old,Ada,{OLD_NAME},ada.oq@larkspur-mail.co.uk,+44 7700 900001,2018-04-01T09:00:00Z",
        f"c-act,Bea,{ACTIVE_NAME},bea.ab@larkspur-mail.co.uk,+44 7700 900002,2018-01-01T09:00:00Z",
        "c-solo,Sol,Unlinked-Solberg,sol.us@larkspur-mail.co.uk,+44 7700 900003,2017-05-05T09:00:00Z",
    ],
    "crm/crm_20261122.csv": [  # a later version of c-old (still old), and a new customer
        "contactid,firstname,lastname,emailaddress1,mobilephone,modifiedon",
        f"c-old,Ada,{OLD_NAME},ada.oq@larkspur-mail.co.uk,+44 7700 900001,2019-03-01T09:00:00Z",
        "c-new,Cy,Newcombe-Ray,cy.nr@larkspur-mail.co.uk,+44 7700 900004,2026-10-01T09:00:00Z",
    ],
    "loyalty/loyalty_20261122.csv": [
        "card_no;forename;surname;email;last_updated",
        f"1111;ADA;{OLD_NAME};ada.oq@larkspur-mail.co.uk;01/02/2019 10:00",
        f"2222;BEA;{ACTIVE_NAME};bea.ab@larkspur-mail.co.uk;01/06/2026 10:00",  # recent: Bea is active
        "3333;DEE;Shopper-Dunmore;dee.sd@larkspur-mail.co.uk;01/01/2018 10:00",  # old record, recent purchase
    ],
    "pos/pos_20261122.csv": [
        "transaction_id,card_no,store_id,transaction_ts,product_category,quantity,amount",
        "t-old,1111,s1,2019-05-01T10:00:00,garden,1,10.0",
        "t-act,2222,s1,2019-06-01T10:00:00,garden,1,11.0",  # Bea's old purchase: kept with her
        "t-dee,3333,s1,2026-10-01T10:00:00,garden,1,12.0",
        "t-walkin,,s1,2018-01-01T10:00:00,garden,1,13.0",  # no person: not this policy's business
    ],
}
CUSTOMERS = {  # customer id -> record ids (silver/record_customer, the cross-references)
    "C-OLD": ["crm:c-old", "loyalty:1111"],
    "C-ACT": ["crm:c-act", "loyalty:2222"],
    "C-DEE": ["loyalty:3333"],
    "C-NEW": ["crm:c-new"],
}  # crm:c-solo is linked to no customer yet: a unit of its own
GONE_RECORDS = {"crm:c-old", "loyalty:1111", "crm:c-solo"}
KEPT_RECORDS = {"crm:c-act", "loyalty:2222", "loyalty:3333", "crm:c-new"}


def _build_lakehouse(spark, settings) -> None:
    from scv import delta_io
    from scv.jobs import resolve

    for name, lines in LANDING.items():
        path = os.path.join(settings.landing_root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
    for source, day in [("crm", "2026-11-21"), ("crm", "2026-11-22"), ("loyalty", "2026-11-22"), ("pos", "2026-11-22")]:
        resolve("bronze_ingest")(spark, settings, source=source, logical_date=day, run_id="t")
    resolve("silver_standardise")(spark, settings, logical_date="2026-11-22", run_id="t")

    def write(table: str, rows: list, schema: str, properties: dict | None = None) -> None:
        frame = spark.createDataFrame(rows, schema)
        path = settings.table_path(*table.split("/"))
        delta_io.ensure_table(spark, path, frame.schema, properties=properties)
        frame.write.format("delta").mode("append").save(path)

    links = [(r, c) for c, records in CUSTOMERS.items() for r in records]
    names = {"C-OLD": ("Ada", OLD_NAME), "C-ACT": ("Bea", ACTIVE_NAME), "C-DEE": ("Dee", "Shopper-Dunmore"),
             "C-NEW": ("Cy", "Newcombe-Ray")}
    write("silver/record_customer", [(r, c, len(CUSTOMERS[c])) for r, c in links],
          "record_id string, customer_id string, cluster_size int")
    xref = [(r.split(":")[0], r.split(":")[1], r, c) for r, c in links]
    for table in ("gold/customer_xref", "staging/customer_xref"):
        write(table, xref, "source_system string, source_record_id string, record_id string, customer_id string")
    write("gold/customer_golden", [(c, f"hash-{c}") for c in CUSTOMERS], "customer_id string, email_hash string")
    write("gold/customer_pii", [(c, *names[c]) for c in CUSTOMERS], "customer_id string, first_name string, last_name string",
          properties={"delta.enableDeletionVectors": "true"})  # a DELETE only marks rows: REORG must rewrite
    write("gold/customer_features", [(c, TODAY, 1) for c in CUSTOMERS], "customer_id string, as_of_date date, purchases int")
    write("silver/customer_id_history", [("created", c, None) for c in CUSTOMERS] + [("merged", "C-OLDER", "C-OLD")],
          "event string, customer_id string, other_customer_id string")
    write("silver/match_pairs", [("crm:c-old", "loyalty:1111", 0.99), ("crm:c-act", "loyalty:2222", 0.98),
                                  ("crm:c-act", "crm:c-old", 0.2)], "record_id_l string, record_id_r string, match_probability double")
    # An audit table written before the kind/customers/records/rows_by_table columns existed.
    old_schema = type(AUDIT_SCHEMA)(AUDIT_SCHEMA.fields[:16])
    started = dt.datetime(2026, 11, 1)
    write("privacy/retention_audit", [("web_events_raw", "bronze/web_events", "event_ts", started, False, True, 0, 0, False,
                                       168, 1, 1, "old-run", dt.date(2026, 11, 1), started, started)], old_schema)


def _tables(settings) -> list[str]:
    from scv.privacy.erasure import lakehouse_tables

    return [t for t in lakehouse_tables(settings) if not t.startswith("privacy/")]


def _versions(spark, settings) -> dict[str, int]:
    from scv.privacy.retention import current_version

    return {t: current_version(spark, settings.table_path(*t.split("/"))) for t in _tables(settings)}


def _column(spark, settings, table: str, column: str) -> set:
    return {r[0] for r in spark.read.format("delta").load(settings.table_path(*table.split("/"))).select(column).collect()}


def _data_files_mentioning(settings, text: str) -> list[str]:
    """Data files (not the Delta log) of the lakehouse whose decoded rows contain ``text``."""
    found = []
    for path in glob.glob(f"{settings.lakehouse_root}/**/*.parquet", recursive=True):
        if "/_delta_log/" not in path and text.lower() in str(pq.read_table(path).to_pylist()).lower():
            found.append(os.path.relpath(path, settings.lakehouse_root))
    return found


def test_inactive_customers_go_from_every_layer_and_active_ones_keep_everything(spark, settings):
    _build_lakehouse(spark, settings)
    assert _column(spark, settings, "silver/person_records", "record_id") == GONE_RECORDS | KEPT_RECORDS
    assert _data_files_mentioning(settings, OLD_NAME)  # bronze, silver and gold hold the person now
    policy = next(p for p in load_policies(PROJECT_ROOT / "include" / "privacy" / "retention.yml") if p.name == "inactive_customers")
    policy = dataclasses.replace(policy, vacuum_retain_hours=0)  # files gone now, not in 7 days
    expected = {
        "bronze/crm": 3,  # both delivered versions of c-old, and c-solo
        "bronze/loyalty": 1, "bronze/pos": 1,  # card 1111 and its purchase (by the pos person reference)
        "silver/person_records": 3, "silver/events": 1, "silver/record_customer": 2, "silver/match_pairs": 2,
        "silver/customer_id_history": 2,  # C-OLD created, and C-OLDER merged into C-OLD
        "gold/customer_xref": 2, "staging/customer_xref": 2, "gold/customer_golden": 1, "gold/customer_pii": 1,
        "gold/customer_features": 1,
    }

    before = _versions(spark, settings)
    dry = purge(spark, settings, policy, TODAY, "run-dry", dry_run=True)
    assert (dry.kind, dry.customers_matched, dry.records_matched) == ("inactive_customers", 1, 3)
    assert dry.rows_by_table == expected
    assert (dry.rows_matched, dry.rows_deleted, dry.files_purged) == (sum(expected.values()), 0, False)
    assert _versions(spark, settings) == before  # no commit anywhere, not even a VACUUM

    done = purge(spark, settings, policy, TODAY, "run-1")
    assert (done.customers_matched, done.records_matched, done.rows_by_table) == (1, 3, expected)
    assert done.rows_deleted == done.rows_matched == sum(expected.values())
    assert done.files_purged  # gold/customer_pii has deletion vectors: REORG PURGE ran
    # The inactive customer is gone from every layer; everyone else keeps every row, old ones too.
    assert _column(spark, settings, "silver/person_records", "record_id") == KEPT_RECORDS
    assert _column(spark, settings, "bronze/crm", "contactid") == {"c-act", "c-new"}
    assert spark.read.format("delta").load(settings.table_path("bronze", "crm")).count() == 2
    assert _column(spark, settings, "bronze/loyalty", "card_no") == {"2222", "3333"}
    assert _column(spark, settings, "bronze/pos", "transaction_id") == {"t-act", "t-dee", "t-walkin"}
    assert _column(spark, settings, "silver/events", "event_id") == {"t-act", "t-dee", "t-walkin"}
    for table in ("silver/record_customer", "gold/customer_xref", "staging/customer_xref"):
        assert _column(spark, settings, table, "record_id") == KEPT_RECORDS, table
    for table in ("gold/customer_golden", "gold/customer_pii", "gold/customer_features"):
        assert _column(spark, settings, table, "customer_id") == {"C-ACT", "C-DEE", "C-NEW"}, table
    assert _column(spark, settings, "silver/customer_id_history", "customer_id") == {"C-ACT", "C-DEE", "C-NEW"}
    assert _column(spark, settings, "silver/match_pairs", "record_id_l") == {"crm:c-act"}
    # No data file holds the person any more (REORG rewrote, VACUUM removed the old files).
    assert _data_files_mentioning(settings, OLD_NAME) == []
    assert _data_files_mentioning(settings, "ada.oq@") == []
    assert _data_files_mentioning(settings, ACTIVE_NAME)
    # Statements in the table history name ids and lineage, never a name or an email.
    history = " ".join(
        str(r.operationParameters) for t in expected
        for r in DeltaTable.forPath(spark, settings.table_path(*t.split("/"))).history().collect()
    ).lower()
    assert "c-old" in history and OLD_NAME.lower() not in history and "larkspur" not in history

    # The next daily run rebuilds silver from bronze: the person does not come back.
    from scv.jobs import resolve

    resolve("silver_standardise")(spark, settings, logical_date="2026-11-23", run_id="t2")
    assert _column(spark, settings, "silver/person_records", "record_id") == KEPT_RECORDS
    assert _column(spark, settings, "silver/events", "event_id") == {"t-act", "t-dee", "t-walkin"}

    again = purge(spark, settings, policy, TODAY, "run-2")
    assert (again.customers_matched, again.records_matched, again.rows_matched, again.rows_deleted) == (0, 0, 0, 0)
    assert again.rows_by_table == {}

    audit = spark.read.format("delta").load(settings.table_path("privacy", "retention_audit"))
    rows = {r.run_id: r for r in audit.collect()}
    assert set(rows) == {"old-run", "run-dry", "run-1", "run-2"}
    assert rows["old-run"].kind is None and rows["old-run"].rows_by_table is None  # older row, new columns NULL
    summary = {
        run: (r.policy, r.kind, r.dry_run, r.customers_matched, r.records_matched, r.rows_matched, r.rows_deleted)
        for run, r in rows.items() if run != "old-run"
    }
    total = sum(expected.values())
    assert summary == {
        "run-dry": ("inactive_customers", "inactive_customers", True, 1, 3, total, 0),
        "run-1": ("inactive_customers", "inactive_customers", False, 1, 3, total, total),
        "run-2": ("inactive_customers", "inactive_customers", False, 0, 0, 0, 0),
    }
    assert rows["run-1"].rows_by_table == expected and rows["run-1"].table == "silver/person_records"
    audit_text = " ".join(str(v) for r in audit.collect() for v in r.asDict().values()).lower()
    for value in ("c-old", "c-solo", "loyalty:", "oldfield", "larkspur"):  # no id, name or email
        assert value not in audit_text, value
