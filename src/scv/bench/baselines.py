"""The comparison baselines: plain Splink, as its own documentation runs it, on Spark and DuckDB.

Both follow the recipe of Splink's Spark tutorial (``docs/demos/examples/spark/
deduplicate_1k_synthetic``): register the records, build a ``Linker``, estimate the prior from
deterministic rules, u by random sampling, m by one EM session per training rule, predict, then
cluster with ``linker.clustering.cluster_pairwise_predictions_at_threshold``. They use scv's
comparisons, blocking rules, thresholds, sample sizes and seed (``LinkageConfig()`` and
:func:`scv.linkage.build_settings`), so that only the engineering differs: no linkable-record
filter, no comparison budget, no EM on pattern counts, no conflict rule, Spark's default SQL
settings.

Input is the silver person records (all of them, projected to the columns the model reads)
exported to Parquet; output is ``record_id, cluster_id`` as Parquet. Each baseline runs in its
own process (``python -m scv.bench.baselines spark|duckdb IN OUT``) so that its memory and its
Spark settings are its own; the process prints its timings as JSON on its last line.

Dialect notes (DuckDB): scv's custom comparison levels are Spark SQL marked
``base_dialect_str="spark"`` and Splink translates them with sqlglot (``dayofmonth`` ->
``DAYOFMONTH``, ``right``, ``substr``); ``date_of_birth`` is a Parquet DATE, read by both engines
as a date, so no string date formats are involved; Jaro-Winkler is Splink's UDF jar on Spark and
DuckDB's built-in ``jaro_winkler_similarity``; the user-name level's regex is rendered per dialect.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Spark's defaults that scv tunes (spark.sql.shuffle.partitions is 200 unless set): the Spark
# baseline sets nothing but the Splink jar, the checkpoint directory and the driver memory.
DEFAULT_SPARK_SHUFFLE_PARTITIONS = 200


def _train_predict_cluster(linker: Any, config: Any, timings: dict[str, float]) -> Any:
    started = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        list(config.deterministic_rules), recall=config.deterministic_rules_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=config.seed)
    for rule in config.training_blocking_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    timings["train"] = time.perf_counter() - started

    started = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=config.pair_threshold)
    timings["predict"] = time.perf_counter() - started

    started = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=config.match_threshold
    )
    timings["cluster"] = time.perf_counter() - started
    return predictions, clusters


def splink_on_spark(input_path: str, output_path: str, *, driver_memory: str, work_dir: str) -> dict[str, Any]:
    """The tutorial's recipe on a fresh local Spark session with default settings (plus the
    Splink jar, a checkpoint directory and ``driver_memory``, equal to scv's)."""
    from pyspark.sql import SparkSession
    from splink import Linker, SparkAPI
    from splink.backends.spark import similarity_jar_location

    from scv.linkage import LinkageConfig, build_settings

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("scv-bench-splink-spark")
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")  # no effect on speed; keeps ports free on a shared machine
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(os.path.join(work_dir, "splink_spark_checkpoints"))
    from scv.bench.memory import MemorySampler

    config = LinkageConfig()
    timings: dict[str, float] = {}
    with MemorySampler(spark) as sampler:
        token = sampler.watch()
        started = time.perf_counter()
        df = spark.read.parquet(input_path)
        db_api = SparkAPI(spark_session=spark)
        linker = Linker(db_api.register(df), build_settings(config), log_level=logging.WARNING)
        predictions, clusters = _train_predict_cluster(linker, config, timings)
        step = time.perf_counter()
        clusters.as_spark_dataframe().select("record_id", "cluster_id").write.mode("overwrite").parquet(output_path)
        timings["cluster"] += time.perf_counter() - step
        timings["linkage"] = time.perf_counter() - started
        n_pairs = predictions.as_spark_dataframe().count()
        peaks = sampler.release(token)
    result = {
        "engine": "spark",
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "pairs_kept": n_pairs,
        "peak_memory_mb": peaks,
        "spark_conf": {
            "spark.sql.shuffle.partitions": spark.conf.get("spark.sql.shuffle.partitions"),
            "spark.sql.adaptive.enabled": spark.conf.get("spark.sql.adaptive.enabled"),
            "spark.driver.memory": driver_memory,
            "break_lineage_method": db_api.break_lineage_method,
        },
    }
    spark.stop()
    return result


def splink_on_duckdb(input_path: str, output_path: str, *, work_dir: str | None = None) -> dict[str, Any]:
    """The same recipe on DuckDB (in-memory database, Splink's defaults)."""
    import duckdb
    from splink import DuckDBAPI, Linker

    from scv.bench.memory import MemorySampler
    from scv.linkage import LinkageConfig, build_settings

    config = LinkageConfig()
    timings: dict[str, float] = {}
    parquet_glob = os.path.join(input_path, "*.parquet") if os.path.isdir(input_path) else input_path
    with MemorySampler() as sampler:
        token = sampler.watch()
        started = time.perf_counter()
        connection = duckdb.connect()
        connection.execute(f"CREATE TABLE person_records AS SELECT * FROM read_parquet('{parquet_glob}')")
        db_api = DuckDBAPI(connection=connection)
        linker = Linker(db_api.register("person_records"), build_settings(config), log_level=logging.WARNING)
        predictions, clusters = _train_predict_cluster(linker, config, timings)
        step = time.perf_counter()
        connection.execute(
            f"COPY (SELECT record_id, cluster_id FROM {clusters.physical_name}) TO '{output_path}' (FORMAT parquet)"
        )
        timings["cluster"] += time.perf_counter() - step
        timings["linkage"] = time.perf_counter() - started
        n_pairs = connection.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchone()[0]
        peaks = sampler.release(token)
    connection.close()
    return {
        "engine": "duckdb",
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "pairs_kept": int(n_pairs),
        "peak_memory_mb": peaks,
        "duckdb_threads": os.cpu_count(),
    }


def run_in_subprocess(engine: str, input_path: str, output_path: str, *, work_dir: str,
                      driver_memory: str, timeout: float | None = None) -> dict[str, Any]:
    """Run one baseline in a fresh Python process; returns its JSON result (wall time of the
    whole process, JVM start included, as ``process_seconds``)."""
    import subprocess

    command = [sys.executable, "-m", "scv.bench.baselines", engine, input_path, output_path,
               "--work-dir", work_dir, "--driver-memory", driver_memory]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-30:])
        raise RuntimeError(f"baseline {engine} failed (exit {completed.returncode}):\n{tail}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(elapsed, 3)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scv.bench.baselines", description=__doc__.split("\n\n")[0])
    parser.add_argument("engine", choices=("spark", "duckdb"))
    parser.add_argument("input", help="Parquet records (record_id + model columns)")
    parser.add_argument("output", help="Parquet clusters to write (record_id, cluster_id)")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    if args.engine == "spark":
        result = splink_on_spark(args.input, args.output, driver_memory=args.driver_memory, work_dir=args.work_dir)
    else:
        result = splink_on_duckdb(args.input, args.output, work_dir=args.work_dir)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
