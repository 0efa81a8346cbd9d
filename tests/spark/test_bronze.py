"""Bronze ingestion on real Spark and Delta: quarantine, counts, idempotency, backfills."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from scv.contracts import load_contracts
from scv.ingest.bronze import (
    MALFORMED_CSV_ROW,
    MALFORMED_JSON,
    MISSING_REQUIRED_COLUMNS,
    SourceFilesMissing,
    bronze_path,
    ingest_source,
    manifest_path,
    quarantine_path,
)

D1, D2, D3, D4 = (dt.date(2026, 11, d) for d in (19, 20, 21, 22))

GYM = {
    "name": "gym",
    "description": "Gym memberships, onboarded by YAML alone",
    "format": "csv",
    "path": "gym/*.csv",
    "options": {"delimiter": "|", "header": True},
    "primary_key": "member_no",
    "updated_at": "to_timestamp(changed, 'yyyy-MM-dd')",
    "precedence": 4,
    "kind": "person",
    "raw_columns": ["member_no", "given", "family", "mail", "changed"],
    "required_columns": ["member_no", "family"],
    "columns": {"first_name": "given", "last_name": "family", "email": "lower(mail)"},
}


def gym_file(landing: Path, day: dt.date, rows: list[str], header: str = "member_no|given|family|mail|changed") -> Path:
    folder = landing / "gym"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"gym_members_{day:%Y%m%d}.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def gym(settings, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "gym.yml").write_text(yaml.safe_dump(GYM))
    settings = settings.with_overrides(sources_dir=str(sources))
    return settings, load_contracts(sources).get("gym")


def table(spark, path):
    return spark.read.format("delta").load(path)


def content_hash(df, drop=("_ingested_at", "_run_id")):
    """Order-independent hash of a table's content, ignoring per-run metadata."""
    columns = sorted(c for c in df.columns if c not in drop)
    row = df.select(F.sha2(F.to_json(F.struct(*columns)), 256).alias("h")).agg(
        F.count("*").alias("n"), F.sort_array(F.collect_list("h")).alias("hs")
    ).first()
    return row.n, hash(tuple(row.hs))


def test_new_source_by_yaml_alone_with_malformed_rows_quarantined(spark, gym):
    settings, contract = gym
    landing = Path(settings.landing_root)
    gym_file(landing, D1, ["M1|Ann|Lee|ANN@X.COM|2026-01-01", "M2|Bob|broken", "M3|Cy|Ng|cy@x.com|2026-02-01|extra"])
    report = ingest_source(spark, settings, contract, D1, "run-1")

    assert (report.rows_read, report.rows_bronze, report.rows_quarantined) == (3, 1, 2)
    bronze = table(spark, bronze_path(settings, "gym"))
    assert [r.member_no for r in bronze.collect()] == ["M1"]
    assert {"_source_file", "_line_number", "_ingested_at", "_run_id", "_logical_date", "_row_hash"} <= set(bronze.columns)
    assert bronze.first()._line_number == 2
    quarantined = table(spark, quarantine_path(settings)).orderBy("line_number").collect()
    assert [(q.line_number, q.reason_code) for q in quarantined] == [(3, MALFORMED_CSV_ROW), (4, MALFORMED_CSV_ROW)]
    assert quarantined[0].raw_text == "M2|Bob|broken"
    assert "expected 5 fields" in quarantined[0].reason_detail
    manifest = table(spark, manifest_path(settings)).first()
    assert (manifest.rows_read, manifest.rows_bronze, manifest.rows_quarantined, manifest.status) == (3, 1, 2, "ingested")


def test_broken_json_lines_are_quarantined_and_counts_add_up(spark, settings):
    contract = load_contracts(settings.sources_dir).get("webshop")
    folder = Path(settings.landing_root) / "webshop"
    folder.mkdir(parents=True)
    good = {"account_id": "W1", "full_name": "Ann Lee", "email": "a@x.com", "updated_at": "2026-01-01T00:00:00Z",
            "address": {"line1": "1 Road", "city": "Leeds", "postcode": "LS1 1AA", "country_code": "GB"}}
    lines = [json.dumps(good), '{"account_id": "W2", "full_name": ', "[1, 2, 3]", json.dumps({**good, "account_id": "W3", "loyalty_tier": "gold"})]
    (folder / "webshop_accounts_20261122.jsonl").write_text("\n".join(lines) + "\n")
    report = ingest_source(spark, settings, contract, D4, "run-1")
    assert (report.rows_read, report.rows_bronze, report.rows_quarantined) == (4, 2, 2)
    assert report.quarantine_reasons == {MALFORMED_JSON: 2}
    assert report.new_columns == ["loyalty_tier"]  # schema drift is kept and reported
    bronze = table(spark, bronze_path(settings, "webshop"))
    assert bronze.where("account_id = 'W1'").first().address.city == "Leeds"


def test_file_missing_a_required_column_is_quarantined_whole_and_the_rest_continues(spark, gym):
    settings, contract = gym
    landing = Path(settings.landing_root)
    gym_file(landing, D1, ["M1|Ann|Lee|a@x.com|2026-01-01"])
    bad = landing / "gym" / "gym_extra_20261119.csv"
    bad.write_text("member_no|given|mail\nM9|Zed|z@x.com\nM8|Yan|y@x.com\n")
    report = ingest_source(spark, settings, contract, D1, "run-1")
    statuses = {Path(f.file_path).name: f.status for f in report.files}
    assert statuses == {"gym_members_20261119.csv": "ingested", "gym_extra_20261119.csv": "quarantined_file"}
    assert (report.rows_read, report.rows_bronze, report.rows_quarantined) == (3, 1, 2)
    reasons = table(spark, quarantine_path(settings)).select("reason_code", "reason_detail").distinct().collect()
    assert reasons[0].reason_code == MISSING_REQUIRED_COLUMNS and "family" in reasons[0].reason_detail


def test_rerunning_a_date_leaves_identical_tables(spark, gym):
    settings, contract = gym
    gym_file(Path(settings.landing_root), D1, ["M1|Ann|Lee|a@x.com|2026-01-01", "M2|bad"])
    ingest_source(spark, settings, contract, D1, "run-1")
    first = [content_hash(table(spark, p)) for p in (bronze_path(settings, "gym"), quarantine_path(settings))]
    ingest_source(spark, settings, contract, D1, "run-2")
    second = [content_hash(table(spark, p)) for p in (bronze_path(settings, "gym"), quarantine_path(settings))]
    assert first == second
    assert first[0][0] == 1 and first[1][0] == 1


def test_a_corrected_file_ingested_again_for_its_date_replaces_the_first_one(spark, gym):
    """In one Spark session (a benchmark, a shared cluster): a cached read of the first file left
    behind would make Spark read the corrected file as it was."""
    settings, contract = gym
    gym_file(Path(settings.landing_root), D1, ["M1|Ann|Lee|a@x.com|2026-01-01", "M2|Bob|Ray|b@x.com|2026-01-01"])
    ingest_source(spark, settings, contract, D1, "run-1")

    gym_file(Path(settings.landing_root), D1, ["M1|Ann|Lee-Smith|a@x.com|2026-02-01"])
    report = ingest_source(spark, settings, contract, D1, "run-2")
    assert (report.rows_read, report.rows_bronze) == (1, 1)
    assert [(r.member_no, r.family) for r in table(spark, bronze_path(settings, "gym")).collect()] == [("M1", "Lee-Smith")]


def test_backfilling_earlier_dates_after_a_later_one_writes_all_of_them(spark, gym):
    settings, contract = gym
    landing = Path(settings.landing_root)
    for i, day in enumerate((D1, D2, D3, D4)):
        gym_file(landing, day, [f"M{i}|Name{i}|Fam{i}|m{i}@x.com|2026-01-0{i + 1}"])
    ingest_source(spark, settings, contract, D4, "scheduled-d4")
    for day in (D1, D2, D3):
        ingest_source(spark, settings, contract, day, f"backfill-{day}")
    per_date = {r._logical_date: r.n for r in table(spark, bronze_path(settings, "gym")).groupBy("_logical_date").agg(F.count("*").alias("n")).collect()}
    assert per_date == {D1: 1, D2: 1, D3: 1, D4: 1}


def test_redropped_file_is_not_ingested_again(spark, gym):
    settings, contract = gym
    landing = Path(settings.landing_root)
    first = gym_file(landing, D1, ["M1|Ann|Lee|a@x.com|2026-01-01"])
    ingest_source(spark, settings, contract, D1, "run-1")
    shutil.copy(first, landing / "gym" / "gym_members_20261120.csv")  # same bytes, a later date
    report = ingest_source(spark, settings, contract, D2, "run-2")
    assert [f.status for f in report.files] == ["duplicate"]
    assert report.rows_bronze == 0
    assert table(spark, bronze_path(settings, "gym")).count() == 1


def test_missing_files_fail_naming_source_and_path_and_write_nothing(spark, gym):
    settings, contract = gym
    with pytest.raises(SourceFilesMissing) as raised:
        ingest_source(spark, settings, contract, D1, "run-1")
    assert "source 'gym'" in str(raised.value)
    assert f"{settings.landing_root}/gym/*.csv" in str(raised.value)
    assert not Path(bronze_path(settings, "gym")).exists()


def test_an_empty_delivery_is_recorded_not_reported_missing(spark, gym):
    """A zero-byte file (nothing new today) is a delivery: the run succeeds with zero rows, the
    manifest records it, and a second empty file on another date is not taken as a duplicate."""
    settings, contract = gym
    folder = Path(settings.landing_root) / "gym"
    folder.mkdir(parents=True)
    (folder / "gym_members_20261119.csv").write_bytes(b"")
    (folder / "gym_members_20261120.csv").write_bytes(b"")
    (folder / ".gym_members_20261119.csv.tmp").write_text("member_no|given\nM9|Half-written\n")

    first = ingest_source(spark, settings, contract, D1, "run-1")
    second = ingest_source(spark, settings, contract, D2, "run-2")
    assert [(f.status, f.rows_read, f.detail) for f in first.files] == [("ingested", 0, "empty file")]
    assert [f.status for f in second.files] == ["ingested"]
    manifest = table(spark, manifest_path(settings)).where("source_system = 'gym'")
    assert sorted((r.logical_date, r.status, r.file_size) for r in manifest.collect()) == [
        (D1, "ingested", 0), (D2, "ingested", 0)
    ]
