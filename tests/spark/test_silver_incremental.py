"""Incremental ``silver_standardise`` on real Spark and Delta: after any sequence of deliveries
(new, changed, unchanged and older re-deliveries, a backfilled earlier date, bronze rows deleted)
silver equals a full rebuild from the same bronze, in every column but ``_silver_logical_date``,
which marks exactly the rows each run wrote."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from delta.tables import DeltaTable

from scv import delta_io
from scv.jobs import resolve
from scv.jobs.silver import BRONZE_COMMITS_PROPERTY, INPUTS_FINGERPRINT_PROPERTY, SILVER_LOGICAL_DATE
from scv.quality.gate import RunInfo, run_gate

D0, D1, D2, D3, D4 = (dt.date(2026, 11, d) for d in (18, 19, 20, 21, 22))

GYM = {
    "name": "gym",
    "format": "csv",
    "path": "gym/*.csv",
    "options": {"delimiter": "|", "header": True},
    "primary_key": "member_no",
    "updated_at": "to_timestamp(changed, 'yyyy-MM-dd')",
    "precedence": 4,
    "kind": "person",
    "default_country": "GB",
    "raw_columns": ["member_no", "given", "family", "mail", "mobile", "changed"],
    "required_columns": ["member_no", "family"],
    "columns": {"first_name": "given", "last_name": "family", "email": "mail", "phone": "mobile"},
}
VISITS = {
    "name": "visits",
    "format": "csv",
    "path": "visits/*.csv",
    "options": {"delimiter": "|", "header": True},
    "primary_key": "visit_id",
    "kind": "event",
    "person_ref": {"source": "gym", "key": "member_no"},
    "event_time": "to_timestamp(visited, 'yyyy-MM-dd')",
    "raw_columns": ["visit_id", "member_no", "visited", "spend"],
    "required_columns": ["visit_id", "visited"],
    "measures": {"amount": "cast(spend as double)"},
    "attributes": {"event_type": "'visit'", "channel": "'club'"},
}
# Personal columns: never in the Delta log's per-file statistics.
PERSONAL = {"first_name", "last_name", "first_name_canonical", "first_name_phonetic", "last_name_phonetic",
            "email", "phone", "date_of_birth", "address_line1", "city", "postcode"}


@pytest.fixture
def gym(settings, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "gym.yml").write_text(yaml.safe_dump(GYM))
    (sources / "visits.yml").write_text(yaml.safe_dump(VISITS))
    return settings.with_overrides(sources_dir=str(sources))


def deliver(spark, settings, day: dt.date, members: list[str], visits: list[str]) -> None:
    """Land one day's files of both sources and ingest them into bronze."""
    for source, header, rows in (("gym", "member_no|given|family|mail|mobile|changed", members),
                                 ("visits", "visit_id|member_no|visited|spend", visits)):
        folder = Path(settings.landing_root) / source
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{source}_{day:%Y%m%d}.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        resolve("bronze_ingest")(spark, settings, source=source, logical_date=day.isoformat(), run_id=f"ingest-{day}")


def silver(spark, settings, day: dt.date, **kwargs) -> dict:
    return resolve("silver_standardise")(spark, settings, logical_date=day.isoformat(), run_id=f"silver-{day}", **kwargs)


def table(spark, settings, name: str):
    return spark.read.format("delta").load(settings.table_path("silver", name))


def rows(spark, settings, name: str, drop=(SILVER_LOGICAL_DATE,)) -> list[dict]:
    """The table's content, sorted by key, without the run stamp."""
    key = "record_id" if name == "person_records" else "event_id"
    return sorted(({k: v for k, v in r.asDict().items() if k not in drop} for r in table(spark, settings, name).collect()),
                  key=lambda r: r[key])


def stamps(spark, settings) -> dict[str, dt.date]:
    return {r.record_id: r[SILVER_LOGICAL_DATE] for r in table(spark, settings, "person_records").collect()}


def version(spark, settings, name: str) -> int:
    return DeltaTable.forPath(spark, settings.table_path("silver", name)).history(1).first().version


def full_rebuild_of_same_bronze(spark, settings, tmp_path: Path, day: dt.date) -> dict[str, list[dict]]:
    """Both silver tables as a full rebuild from a copy of today's bronze builds them."""
    lakehouse = tmp_path / f"full-{day}-{len(list(tmp_path.glob('full-*')))}"
    shutil.copytree(Path(settings.lakehouse_root) / "bronze", lakehouse / "bronze")
    full = settings.with_overrides(lakehouse_root=str(lakehouse))
    summary = silver(spark, full, day)
    assert summary["mode"] == "full" and summary["full_rebuild_reason"] == "no table yet"
    return {name: rows(spark, full, name) for name in ("person_records", "events")}


def assert_equals_full_rebuild(spark, settings, tmp_path, day) -> None:
    full = full_rebuild_of_same_bronze(spark, settings, tmp_path, day)
    for name in ("person_records", "events"):
        assert rows(spark, settings, name) == full[name], name


def test_incremental_silver_equals_a_full_rebuild_after_every_delivery(spark, gym, tmp_path):
    settings = gym
    deliver(spark, settings, D1, ["M1|Ann|Lee|ann@x.com|07911123456|2026-01-01", "M2|Bob|Ray|bob@x.com||2026-01-01",
                                  "M3|Cy|Ng|cy@x.com||2026-01-01"],
            ["V1|M1|2026-11-19|10.00", "V2|M2|2026-11-19|5.00"])
    first = silver(spark, settings, D1)
    assert (first["mode"], first["records_written"], first["records_deleted"], first["events"]) == ("full", 3, 0, 2)
    assert first["standardisation"]["records"] == 3 and first["standardisation_scope"] == "table"
    assert (first["records_gone_check"], first["events_gone_check"]) == ("full rebuild", "full rebuild")
    assert stamps(spark, settings) == {"gym:M1": D1, "gym:M2": D1, "gym:M3": D1}
    assert table(spark, settings, "person_records").where("record_id = 'gym:M1'").first().phone == "+447911123456"

    # M1 changed (later updated_at), M3 re-delivered unchanged, M4 new; V1 corrected, V3 new.
    deliver(spark, settings, D2, ["M1|Ann|Lee-Smith|ann@x.com|07911123456|2026-02-01", "M3|Cy|Ng|cy@x.com||2026-01-01",
                                  "M4|Dee|Fox|dee@x.com||2026-02-01"],
            ["V1|M1|2026-11-19|12.00", "V3|M4|2026-11-20|7.50"])
    second = silver(spark, settings, D2)
    assert (second["mode"], second["records_delivered"], second["records_written"], second["records_deleted"]) == (
        "incremental", 3, 2, 0)
    assert (second["events_mode"], second["events_written"], second["events_deleted"], second["events"]) == (
        "incremental", 2, 0, 3)
    assert second["standardisation"]["records"] == 2 and second["standardisation_scope"] == "rows_written"
    # Bronze only gained rows (a new date): silver did not look for keys gone from it.
    assert (second["records_gone_check"], second["events_gone_check"]) == (None, None)
    assert stamps(spark, settings) == {"gym:M1": D2, "gym:M2": D1, "gym:M3": D1, "gym:M4": D2}
    assert table(spark, settings, "events").where("event_id = 'V1'").first().amount == 12.0
    assert_equals_full_rebuild(spark, settings, tmp_path, D2)

    # An older version of M2 arrives later: the latest (D1's) version stays.
    deliver(spark, settings, D3, ["M2|Bob|Old|bob@x.com||2025-06-01", "M5|Eve|Hart|eve@x.com||2026-03-01"],
            ["V4|M5|2026-11-21|3.00"])
    third = silver(spark, settings, D3)
    assert (third["records_delivered"], third["records_written"]) == (2, 1)
    assert (third["records_gone_check"], third["events_gone_check"]) == (None, None)
    assert table(spark, settings, "person_records").where("record_id = 'gym:M2'").first().last_name != "old"
    assert stamps(spark, settings)["gym:M5"] == D3 and stamps(spark, settings)["gym:M2"] == D1
    assert_equals_full_rebuild(spark, settings, tmp_path, D3)

    # Backfill of an earlier date after later ones: M1's newest version wins, M4's older one
    # does not, M6 is new.
    deliver(spark, settings, D0, ["M1|Ann|Lee-Jones|ann@x.com|07911123456|2026-04-01", "M4|Dee|Fax|dee@x.com||2026-01-15",
                                  "M6|Fay|Lu|fay@x.com||2026-01-01"],
            ["V5|M6|2026-11-18|1.00"])
    backfill = silver(spark, settings, D0)
    assert (backfill["mode"], backfill["records_delivered"], backfill["records_written"]) == ("incremental", 3, 2)
    assert (backfill["records_gone_check"], backfill["events_gone_check"]) == (None, None)
    people = {r.record_id: r for r in table(spark, settings, "person_records").collect()}
    assert "jones" in people["gym:M1"].last_name and "fax" not in people["gym:M4"].last_name
    assert stamps(spark, settings) == {"gym:M1": D0, "gym:M2": D1, "gym:M3": D1, "gym:M4": D2, "gym:M5": D3, "gym:M6": D0}
    assert_equals_full_rebuild(spark, settings, tmp_path, D0)

    # Erasure / retention delete bronze rows: the next run deletes them from silver.
    DeltaTable.forPath(spark, settings.table_path("bronze", "gym")).delete("member_no = 'M3'")
    DeltaTable.forPath(spark, settings.table_path("bronze", "visits")).delete("visit_id = 'V2'")
    deliver(spark, settings, D4, ["M7|Gus|Moe|gus@x.com||2026-05-01"], ["V6|M7|2026-11-22|2.00"])
    fourth = silver(spark, settings, D4)
    assert (fourth["records_written"], fourth["records_deleted"]) == (1, 1)
    assert "bronze/gym: commit" in fourth["records_gone_check"] and "(DELETE) may have removed rows" in fourth["records_gone_check"]
    assert "bronze/visits: commit" in fourth["events_gone_check"] and "(DELETE)" in fourth["events_gone_check"]
    assert (fourth["events_written"], fourth["events_deleted"], fourth["events"]) == (1, 1, 5)
    assert "gym:M3" not in stamps(spark, settings)
    assert_equals_full_rebuild(spark, settings, tmp_path, D4)

    # The silver gate validates only the rows a run wrote.
    outcome = run_gate(spark, settings, table_path="silver/person_records", suite="silver_person_records",
                       row_filter=f"{SILVER_LOGICAL_DATE} = '{D4}'", run=RunInfo(run_id="gate-d4"), build_docs=False)
    assert outcome.success, outcome.report()
    assert table(spark, settings, "person_records").where(f"{SILVER_LOGICAL_DATE} = '{D4}'").count() == 1


def test_a_re_ingested_date_with_fewer_rows_deletes_them_from_silver(spark, gym, tmp_path):
    settings = gym
    deliver(spark, settings, D1, ["M1|Ann|Lee|ann@x.com||2026-01-01", "M2|Bob|Ray|bob@x.com||2026-01-01"],
            ["V1|M1|2026-11-19|10.00", "V2|M2|2026-11-19|5.00"])
    silver(spark, settings, D1)
    deliver(spark, settings, D2, ["M3|Cy|Ng|cy@x.com||2026-01-01"], ["V3|M3|2026-11-20|4.00"])
    assert silver(spark, settings, D2)["records_gone_check"] is None

    # D1's files are delivered again without M2 and V2, and ingested again (replacing D1's rows).
    deliver(spark, settings, D1, ["M1|Ann|Lee|ann@x.com||2026-01-01"], ["V1|M1|2026-11-19|10.00"])
    after = silver(spark, settings, D2)
    assert after["records_gone_check"].startswith("bronze/gym: commit ")
    assert after["records_gone_check"].endswith("(WRITE) may have removed rows")
    assert after["events_gone_check"].startswith("bronze/visits: commit ")
    assert (after["records_deleted"], after["events_deleted"], after["events"]) == (1, 1, 2)
    assert set(stamps(spark, settings)) == {"gym:M1", "gym:M3"}
    assert_equals_full_rebuild(spark, settings, tmp_path, D2)

    # The commits read are recorded: the next new date does not look again.
    deliver(spark, settings, D3, ["M4|Dee|Fox|dee@x.com||2026-01-01"], ["V4|M4|2026-11-21|1.00"])
    assert silver(spark, settings, D3)["records_gone_check"] is None

    # A table without the record (written before it existed) looks, and records it.
    path = settings.table_path("silver", "person_records")
    spark.sql(f"ALTER TABLE delta.`{path}` UNSET TBLPROPERTIES ('{BRONZE_COMMITS_PROPERTY}')")
    deliver(spark, settings, D4, ["M5|Eve|Hart|eve@x.com||2026-01-01"], ["V5|M5|2026-11-22|1.00"])
    unrecorded = silver(spark, settings, D4)
    assert unrecorded["records_gone_check"] == "no bronze commits recorded by the table yet"
    assert unrecorded["events_gone_check"] is None
    recorded = json.loads(DeltaTable.forPath(spark, path).detail().first().properties[BRONZE_COMMITS_PROPERTY])
    assert set(recorded) == {"gym"} and recorded["gym"][0] == version_of_bronze(spark, settings, "gym")
    assert_equals_full_rebuild(spark, settings, tmp_path, D4)


def version_of_bronze(spark, settings, source: str) -> int:
    return DeltaTable.forPath(spark, settings.table_path("bronze", source)).history(1).first().version


def test_a_rerun_of_a_date_commits_nothing_and_a_full_rebuild_gives_the_same_content(spark, gym):
    settings = gym
    deliver(spark, settings, D1, ["M1|Ann|Lee|ann@x.com||2026-01-01", "M2|Bob|Ray|bob@x.com||2026-01-01"],
            ["V1|M1|2026-11-19|10.00"])
    silver(spark, settings, D1)
    deliver(spark, settings, D2, ["M1|Ann|Lee-Smith|ann@x.com||2026-02-01", "M3|Cy|Ng|cy@x.com||2026-01-01"],
            ["V2|M3|2026-11-20|4.00"])
    silver(spark, settings, D2)
    before = {name: (version(spark, settings, name), rows(spark, settings, name, drop=())) for name in ("person_records", "events")}

    rerun = silver(spark, settings, D2, full_rebuild="False")
    assert (rerun["mode"], rerun["records_delivered"], rerun["records_written"], rerun["records_deleted"]) == (
        "incremental", 2, 0, 0)
    assert (rerun["events_written"], rerun["events_deleted"]) == (0, 0)
    assert {name: (version(spark, settings, name), rows(spark, settings, name, drop=())) for name in before} == before

    rebuilt = silver(spark, settings, D2, full_rebuild="True")
    assert (rebuilt["mode"], rebuilt["full_rebuild_reason"], rebuilt["records_written"]) == ("full", "requested", 3)
    assert rebuilt["events_mode"] == "full"
    for name in ("person_records", "events"):
        assert rows(spark, settings, name) == [{k: v for k, v in r.items() if k != SILVER_LOGICAL_DATE}
                                               for r in before[name][1]], name
    assert set(stamps(spark, settings).values()) == {D2}
    assert silver(spark, settings, D2)["mode"] == "incremental"


def test_an_old_layout_or_a_changed_contract_forces_a_full_rebuild(spark, gym):
    settings = gym
    deliver(spark, settings, D1, ["M1|Ann|Lee|ann@x.com||2026-01-01"], ["V1|M1|2026-11-19|10.00"])
    silver(spark, settings, D1)
    path = settings.table_path("silver", "person_records")
    # The table as the job wrote it before it had the run stamp (and its properties then).
    written = table(spark, settings, "person_records").drop(SILVER_LOGICAL_DATE)
    old_layout = spark.createDataFrame(written.collect(), written.schema)
    shutil.rmtree(path)
    delta_io.ensure_table(spark, path, old_layout.schema,
                          properties=delta_io.stats_columns_property(["record_id", "source_system", "updated_at"]))
    old_layout.write.format("delta").mode("append").save(path)

    deliver(spark, settings, D2, ["M2|Bob|Ray|bob@x.com||2026-01-01"], ["V2|M2|2026-11-20|1.00"])
    upgraded = silver(spark, settings, D2)
    assert (upgraded["mode"], upgraded["full_rebuild_reason"]) == ("full", "table columns differ from the job's")
    assert upgraded["events_mode"] == "incremental"
    assert stamps(spark, settings) == {"gym:M1": D2, "gym:M2": D2}
    properties = DeltaTable.forPath(spark, path).detail().first().properties
    assert properties["delta.dataSkippingStatsColumns"].split(",")[-1] == SILVER_LOGICAL_DATE
    assert properties["delta.enableDeletionVectors"] == "true"

    changed = {**GYM, "columns": {**GYM["columns"], "first_name": "upper(given) || 'x'"}}
    (Path(settings.sources_dir) / "gym.yml").write_text(yaml.safe_dump(changed))
    deliver(spark, settings, D3, ["M3|Cy|Ng|cy@x.com||2026-01-01"], ["V3|M3|2026-11-21|1.00"])
    rebuilt = silver(spark, settings, D3)
    assert (rebuilt["mode"], rebuilt["full_rebuild_reason"]) == ("full", "contracts, reference data or standardisation code changed")
    assert rebuilt["events_mode"] == "incremental"  # the event contract did not change
    assert {r.first_name for r in table(spark, settings, "person_records").collect()} == {"annx", "bobx", "cyx"}
    assert silver(spark, settings, D3)["mode"] == "incremental"


def _stats_columns(table_path: str) -> list[set[str]]:
    """The columns with min/max statistics of every file added to the table, from its Delta log."""
    found = []
    for commit in sorted(glob.glob(os.path.join(table_path, "_delta_log", "*.json"))):
        for line in Path(commit).read_text().splitlines():
            add = json.loads(line).get("add")
            if add and add.get("stats"):
                found.append(set(json.loads(add["stats"]).get("minValues", {})))
    return found


def test_personal_columns_never_get_statistics_and_the_run_stamp_does(spark, gym):
    settings = gym
    deliver(spark, settings, D1, ["M1|Ann|Lee|ann@x.com|07911123456|2026-01-01"], ["V1|M1|2026-11-19|10.00"])
    silver(spark, settings, D1)
    deliver(spark, settings, D2, ["M1|Ann|Lee-Smith|ann@x.com|07911123456|2026-02-01", "M2|Bob|Ray|bob@x.com||2026-01-01"],
            ["V2|M2|2026-11-20|1.00"])
    assert silver(spark, settings, D2)["records_written"] == 2
    path = settings.table_path("silver", "person_records")
    properties = DeltaTable.forPath(spark, path).detail().first().properties
    assert properties["delta.enableDeletionVectors"] == "true" and INPUTS_FINGERPRINT_PROPERTY in properties
    per_file = _stats_columns(path)
    assert len(per_file) >= 2  # the full write and the MERGE's files
    for columns in per_file:
        assert not columns & PERSONAL, columns
        assert SILVER_LOGICAL_DATE in columns
    for columns in _stats_columns(settings.table_path("silver", "events")):
        assert not columns & {"person_record_id", "amount"}, columns
