"""One benchmark run per population size: generate, run the daily flow, measure, compare.

Per size, in its own working folder (landing, lakehouse, artifacts):

1. ``scv.generate`` writes the initial delivery for ``run_date`` (not timed as a stage);
2. the full daily flow (:func:`scv.bench.pipeline.run_daily`, training included) runs timed;
3. comparisons scored are counted (``scv.linkage.count_comparisons``) and gold/customer_xref is
   scored against the ground truth, outside the timings;
4. the baselines run on the same silver records (:mod:`scv.bench.baselines`), each in its own
   process, and are scored the same way;
5. a second delivery (``run_date + 1``, 1% new records) is generated and the daily flow runs
   again without training: the incremental run.

Memory stays bounded whatever the size: nothing but aggregates and small summaries reaches the
Python driver; the data are generated in chunks and streamed to files (``scv.generate``).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from scv.bench.memory import MemorySampler
from scv.bench.pipeline import run_daily
from scv.bench.timing import StageTimer
from scv.config import Settings
from scv.spark import release_finished_query_jobs

log = logging.getLogger(__name__)

BASELINES = ("splink_spark", "splink_duckdb")


def machine_description(spark: SparkSession, settings: Settings) -> dict[str, Any]:
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "java": spark._jvm.java.lang.System.getProperty("java.version"),  # type: ignore[union-attr]
        "spark": spark.version,
        "delta": version("delta-spark"),
        "splink": version("splink"),
        "duckdb": version("duckdb"),
        "spark_master": settings.spark_master,
        "driver_memory": spark.conf.get("spark.driver.memory", settings.driver_memory),
        "shuffle_partitions": int(spark.conf.get("spark.sql.shuffle.partitions")),
    }


def accuracy(spark: SparkSession, settings: Settings, clusters) -> dict[str, float]:
    """Pairwise precision/recall/F1 of ``clusters`` (record_id, cluster_id) vs the ground truth."""
    from scv.linkage import pairwise_metrics

    # A glob of the files, not the folder: Spark treats paths starting with "_" as hidden and
    # would read nothing from "_truth" (and the glob makes it log a harmless stack trace).
    truth = (
        spark.read.option("header", True).csv(f"{settings.landing_root}/_truth/*.csv")
        .select(F.concat_ws(":", "source_system", "source_record_id").alias("record_id"), "person_id")
    )
    scored = clusters.select("record_id").join(truth.select("record_id"), "record_id").limit(1).count()
    if not scored:
        # pairwise_metrics scores only records present in both: with none, it would say 1.0.
        raise ValueError(f"no clustered record is in the ground truth under {settings.landing_root}/_truth")
    metrics = pairwise_metrics(clusters.select("record_id", "cluster_id"), truth)
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in metrics.items()}


def scv_accuracy(spark: SparkSession, settings: Settings) -> dict[str, float]:
    xref = spark.read.format("delta").load(settings.table_path("gold", "customer_xref"))
    return accuracy(spark, settings, xref.select("record_id", F.col("customer_id").alias("cluster_id")))


def comparisons_scored(spark: SparkSession, settings: Settings) -> dict[str, Any]:
    """Comparisons the prediction blocking rules generate on the current silver records
    (exact up to ``LinkageConfig.exact_count_max_records`` linkable records, else estimated)."""
    from scv.linkage import LinkageConfig, count_comparisons

    config = LinkageConfig()
    silver = spark.read.format("delta").load(settings.table_path("silver", "person_records"))
    per_rule = count_comparisons(spark, silver, config)
    linkable = silver.where("coalesce(is_linkable, false) AND NOT coalesce(is_company, false)").count()
    return {
        "total": int(sum(per_rule.values())),
        "per_rule": per_rule,
        "linkable_records": linkable,
        "sampled": config.count_sample_proportion is not None or linkable > config.exact_count_max_records,
    }


def export_baseline_input(spark: SparkSession, settings: Settings, path: str) -> int:
    """All silver person records, with the columns the linkage model reads, as Parquet."""
    from scv.jobs.linkage import LINKAGE_COLUMNS

    silver = spark.read.format("delta").load(settings.table_path("silver", "person_records"))
    columns = ["record_id", "source_system", *[c for c in LINKAGE_COLUMNS if c not in ("is_linkable", "is_company")]]
    silver.select(*columns).write.mode("overwrite").parquet(path)
    return spark.read.parquet(path).count()


def _timed_run(spark, settings, sampler, logical_date: str, *, train: bool, run_id: str) -> dict[str, Any]:
    release_finished_query_jobs(spark)  # what earlier runs in this JVM left behind is not this run's memory
    timer = StageTimer(sampler)
    token = sampler.watch()
    try:
        summaries = run_daily(spark, settings, logical_date, timer, run_id=run_id, train=train)
    except Exception as error:  # e.g. the comparison budget: record how far the run got, and why it stopped
        log.exception("bench run %s stopped", run_id)
        result = timer.as_dict()
        result["peak_memory_mb"]["overall"] = sampler.release(token)
        result["failed_stage"] = timer.failed_stage
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:600]
        return result
    overall = sampler.release(token)
    result = timer.as_dict()
    result["peak_memory_mb"]["overall"] = overall
    result["gates"] = summaries["gates"]
    result["link"] = {k: summaries["link"].get(k) for k in ("mode", "records", "records_linked_this_run", "customers",
                                                           "pairs_stored", "pairs_linked", "seconds")}
    return result


def bench_size(
    spark: SparkSession,
    base: Settings,
    people: int,
    work_root: str | Path,
    *,
    sampler: MemorySampler,
    seed: int = 42,
    run_date: dt.date = dt.date(2026, 11, 22),
    baselines: tuple[str, ...] = BASELINES,
    incremental: bool = True,
    new_record_fraction: float = 0.01,
    driver_memory: str = "4g",
) -> dict[str, Any]:
    """Benchmark one population size; returns its result dictionary (see the module doc)."""
    from scv.generate import generate_landing

    work = Path(work_root) / f"people-{people}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    settings = base.with_overrides(
        landing_root=str(work / "landing"), lakehouse_root=str(work / "lakehouse"), artifacts_dir=str(work / "artifacts")
    )
    result: dict[str, Any] = {
        "people": people,
        "seed": seed,
        "run_date": run_date.isoformat(),
        "started_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": machine_description(spark, settings),
        "memory_method": sampler.method,
    }

    log.info("bench %s people: generating", people)
    generated = generate_landing(settings.landing_root, people, seed=seed, run_date=run_date)
    result["person_records"] = generated.person_records
    result["generate_seconds"] = generated.elapsed_seconds

    log.info("bench %s people: full daily run", people)
    full = _timed_run(spark, settings, sampler, run_date.isoformat(), train=True, run_id=f"bench_full_{people}")
    if "error" in full:  # nothing to score or compare: the size is reported as stopped, with the reason
        result["full"] = full
        return result
    full["comparisons"] = comparisons_scored(spark, settings)
    full["accuracy"] = scv_accuracy(spark, settings)
    result["full"] = full

    result["baselines"] = {}
    if baselines:
        from scv.bench.baselines import run_in_subprocess

        input_path = str(work / "baseline_input.parquet")
        result["baseline_input_records"] = export_baseline_input(spark, settings, input_path)
        for name in baselines:
            engine = name.removeprefix("splink_")
            output_path = str(work / f"{name}_clusters.parquet")
            log.info("bench %s people: baseline %s", people, name)
            try:
                baseline = run_in_subprocess(engine, input_path, output_path, work_dir=str(work / name),
                                             driver_memory=driver_memory)
                baseline["accuracy"] = accuracy(spark, settings, spark.read.parquet(output_path))
            except Exception as error:  # report and go on: one failed baseline must not lose the run
                log.exception("baseline %s failed", name)
                baseline = {"error": str(error).splitlines()[0] if str(error) else type(error).__name__}
            result["baselines"][name] = baseline

    if incremental:
        next_date = run_date + dt.timedelta(days=1)
        log.info("bench %s people: incremental run for %s", people, next_date)
        delivery = generate_landing(settings.landing_root, people, seed=seed, run_date=next_date, day_index=1,
                                    new_record_fraction=new_record_fraction)
        inc = _timed_run(spark, settings, sampler, next_date.isoformat(), train=False, run_id=f"bench_incremental_{people}")
        inc["new_person_records"] = delivery.person_records
        inc["accuracy"] = scv_accuracy(spark, settings)
        result["incremental"] = inc
    return result


def build_bench_session(settings: Settings) -> SparkSession:
    from scv.spark import build_spark_session

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return build_spark_session(settings, app_name="scv-bench")


def run_benchmark(
    sizes: list[int],
    *,
    out_dir: str | Path,
    work_root: str | Path,
    driver_memory: str,
    baselines: tuple[str, ...] = BASELINES,
    incremental: bool = True,
    seed: int = 42,
    write: bool = True,
) -> list[dict[str, Any]]:
    """Run every size, print its table, merge the results into ``out_dir``'s JSON, chart and README."""
    from scv.bench import report

    base = Settings.from_env().with_overrides(driver_memory=driver_memory)
    Path(work_root).mkdir(parents=True, exist_ok=True)
    spark = build_bench_session(base.with_overrides(artifacts_dir=str(Path(work_root) / "artifacts")))
    results = []
    notes_path = Path(out_dir) / "findings.md"
    with MemorySampler(spark) as sampler:
        for people in sizes:
            started = time.perf_counter()
            result = bench_size(spark, base, people, work_root, sampler=sampler, seed=seed, baselines=baselines,
                                incremental=incremental, driver_memory=driver_memory)
            result["bench_wall_seconds"] = round(time.perf_counter() - started, 1)
            results.append(result)
            print(report.size_table(result), flush=True)
            print(flush=True)
            if write:
                merged = report.merge_results(report.load_results(Path(out_dir) / "results.json"), [result])
                notes = notes_path.read_text() if notes_path.is_file() else ""
                paths = report.write_all(merged, out_dir, notes)
                print(f"wrote {paths}", flush=True)
    print(report.targets_table(report.merge_results(report.load_results(Path(out_dir) / "results.json"), results)
                               if write else results), flush=True)
    return results
