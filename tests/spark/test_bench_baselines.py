"""The DuckDB baseline on a couple of hundred generated records: it runs Splink's recipe with
scv's comparisons on DuckDB (Spark SQL levels translated) and finds most true pairs."""

from __future__ import annotations

import datetime as dt

from scv.bench.baselines import splink_on_duckdb
from scv.bench.runner import accuracy, export_baseline_input
from scv.contracts import load_contracts
from scv.generate import generate_landing
from scv.jobs import resolve


def test_duckdb_baseline_returns_clusters_with_a_sane_f1(spark, settings, tmp_path):
    run_date = dt.date(2026, 11, 22)
    generated = generate_landing(settings.landing_root, 90, seed=7, run_date=run_date, workers=1)
    run = {"logical_date": run_date.isoformat(), "run_id": "test_bench"}
    for contract in load_contracts(settings.sources_dir).persons():
        resolve("bronze_ingest")(spark, settings, source=contract.name, **run)
    resolve("silver_standardise")(spark, settings, **run)

    input_path = str(tmp_path / "baseline_input.parquet")
    records = export_baseline_input(spark, settings, input_path)
    assert records == generated.person_records

    output_path = str(tmp_path / "clusters.parquet")
    result = splink_on_duckdb(input_path, output_path)
    assert result["engine"] == "duckdb"
    assert set(result["seconds"]) == {"train", "predict", "cluster", "linkage"}
    assert result["pairs_kept"] > 0

    clusters = spark.read.parquet(output_path)
    assert clusters.count() == records
    metrics = accuracy(spark, settings, clusters)
    assert metrics["tp"] > 0
    assert 0.5 < metrics["f1"] <= 1.0
