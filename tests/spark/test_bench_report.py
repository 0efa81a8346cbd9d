"""The benchmark's logic without timing assertions: stage accounting, ratios, target checks,
report formatting and files. No Spark session is started here."""

from __future__ import annotations

import json

import pytest

from scv.bench import report
from scv.bench.__main__ import parse_sizes
from scv.bench.memory import MemorySampler
from scv.bench.pipeline import STAGES
from scv.bench.timing import StageTimer, instrumented, timed_as


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nested_stage_time_is_counted_once_and_repeated_stages_add_up():
    clock = FakeClock()
    timer = StageTimer(clock=clock)
    with timer.stage("cluster"):
        clock.now += 2
        with timer.stage("predict"):
            clock.now += 5
        clock.now += 3
    with timer.stage("predict"):
        clock.now += 1
    assert timer.seconds == {"predict": 6, "cluster": 5}
    assert timer.inclusive_seconds["cluster"] == 10
    assert timer.total_seconds == clock.now == 11


def test_instrumented_times_calls_as_a_stage_and_restores_the_module():
    import types

    clock = FakeClock()
    timer = StageTimer(clock=clock)
    module = types.SimpleNamespace(__name__="fake_job")

    def predict(x):
        clock.now += 4
        return x * 2

    module.predict = predict
    with instrumented(module, ("predict",), timed_as(timer, "predict")):
        assert module.predict(21) == 42
        assert module.predict is not predict
    assert module.predict is predict
    assert timer.seconds == {"predict": 4}
    with pytest.raises(AttributeError, match="update scv.bench"):
        with instrumented(module, ("renamed",), timed_as(timer, "predict")):
            pass


def test_memory_sampler_without_spark_reports_this_process_tree():
    with MemorySampler(interval=0.05) as sampler:
        token = sampler.watch()
        ballast = bytearray(64 * 1024 * 1024)
        peaks = sampler.release(token)
    del ballast
    assert peaks["process_tree_rss_mb"] > 64
    assert "driver_rss_mb" not in peaks


def test_parse_sizes():
    assert parse_sizes("100000, 10_000,1e6,10000") == [10_000, 100_000, 1_000_000]
    with pytest.raises(Exception):
        parse_sizes("0")


def test_ratio_and_linkage_seconds():
    assert report.ratio(300, 100) == 3.0
    assert report.ratio(1, 0) is None
    assert report.ratio(None, 2) is None
    assert report.linkage_seconds({"train": 10, "predict": 5.5, "cluster": 4.5, "ingest": 99}) == 20


def result(people, *, total=600.0, linkage=(40, 30, 30), spark_linkage=250.0, f1=0.95, spark_f1=0.9, incremental=100.0, rss=3000.0):
    train, predict, cluster = linkage
    seconds = {s: 10.0 for s in STAGES} | {"train": train, "predict": predict, "cluster": cluster}
    peaks = {s: {"driver_rss_mb": rss / 2, "jvm_heap_used_mb": rss / 4} for s in STAGES}
    accuracy = {"precision": 0.97, "recall": 0.93, "f1": f1, "tp": 1, "fp": 0, "fn": 0}
    return {
        "people": people,
        "person_records": people * 5 // 2,
        "started_at": "2026-11-22T15:00:00+00:00",
        "machine": {"cpu_count": 2, "memory_gb": 23.4},
        "full": {
            "seconds": seconds,
            "total_seconds": total,
            "peak_memory_mb": peaks | {"overall": {"driver_rss_mb": rss, "jvm_heap_used_mb": rss / 2}},
            "comparisons": {"total": 123456, "sampled": True},
            "accuracy": accuracy,
        },
        "baselines": {
            "splink_spark": {"seconds": {"linkage": spark_linkage}, "accuracy": {**accuracy, "f1": spark_f1},
                             "peak_memory_mb": {"driver_rss_mb": 2500.0}},
            "splink_duckdb": {"error": "boom"},
        },
        "incremental": {"seconds": seconds, "total_seconds": incremental, "accuracy": accuracy},
    }


def test_targets_met_missed_and_not_run():
    met = [r["met"] for r in report.evaluate_targets([result(100_000)])]
    # 250 s vs 100 s: 2.5x and better F1; 600 s < 15 min; 1M not run; 100/600 < 1/4.
    assert met == [True, True, None, True]
    slow = report.evaluate_targets([result(100_000, spark_linkage=150.0, total=1000.0, incremental=300.0)])
    assert [r["met"] for r in slow] == [False, False, None, False]
    worse_f1 = report.evaluate_targets([result(100_000, spark_f1=0.99)])
    assert worse_f1[0]["met"] is False and "F1 0.9500 vs 0.9900" in worse_f1[0]["measured"]
    big = report.evaluate_targets([result(1_000_000, rss=13 * 1024)])
    assert big[2]["met"] is False and big[0]["met"] is None
    assert "13.0 GB" in big[2]["measured"]


def test_size_table_lists_every_stage_and_the_baselines():
    table = report.size_table(result(10_000))
    for stage in STAGES:
        assert f"| {stage} |" in table
    assert "| plain Splink on Spark | 250.0 s | 2.5x | 0.9000 |" in table
    assert "plain Splink on DuckDB | failed: boom" in table
    assert "(estimated from a sample)" in table
    assert report.fmt_seconds(59.94) == "59.9 s" and report.fmt_seconds(900) == "15.0 min"


def test_write_all_merges_sizes_and_writes_json_chart_readme(tmp_path):
    report.write_all([result(10_000), result(100_000)], tmp_path)
    rerun = result(10_000, total=123.0)
    merged = report.merge_results(report.load_results(tmp_path / "results.json"), [rerun])
    paths = report.write_all(merged, tmp_path, notes="## Findings\nsomething honest")
    document = json.loads((tmp_path / "results.json").read_text())
    assert [r["people"] for r in document["results"]] == [10_000, 100_000]
    assert document["results"][0]["full"]["total_seconds"] == 123.0
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    readme = (tmp_path / "README.md").read_text()
    assert "## 100,000 people" in readme and "something honest" in readme and "| target |" in readme
    assert set(paths) == {"json", "chart", "readme"}


def stopped(people, *, stage="predict", error="ComparisonBudgetExceeded: Blocking rules would generate 79,096,102 comparisons"):
    done = {s: 10.0 for s in STAGES[: STAGES.index(stage) + 1]}
    return {
        "people": people,
        "person_records": people * 5 // 2,
        "started_at": "2026-11-22T19:34:53+00:00",
        "machine": {"cpu_count": 2, "memory_gb": 23.4},
        "full": {
            "seconds": done,
            "total_seconds": sum(done.values()),
            "peak_memory_mb": {s: {"driver_rss_mb": 4096.0} for s in done} | {"overall": {"driver_rss_mb": 6144.0}},
            "failed_stage": stage,
            "error": error,
        },
    }


def test_a_run_stopped_by_an_error_is_reported_as_missed_with_its_stage_and_reason(tmp_path):
    rows = report.evaluate_targets([result(100_000), stopped(1_000_000)])
    one_million = rows[2]
    assert one_million["met"] is False
    assert one_million["measured"].startswith("stopped in predict after")
    assert "6.0 GB" in one_million["measured"] and "79,096,102 comparisons" in one_million["measured"]
    table = report.size_table(stopped(1_000_000))
    assert "run stopped" in table and "| predict |" in table and "| cluster |" not in table
    # The stopped size is kept in the JSON and README but left out of the chart's curves.
    report.write_all([result(100_000), stopped(1_000_000)], tmp_path)
    assert "1,000,000 people (2,500,000 person records): run stopped" in (tmp_path / "README.md").read_text()


def test_the_timer_names_the_stage_an_exception_left():
    timer = StageTimer(clock=iter(range(100)).__next__)
    with pytest.raises(RuntimeError):
        with timer.stage("cluster"):
            with timer.stage("predict"):
                raise RuntimeError("over budget")
    assert timer.failed_stage == "predict"
    assert set(timer.seconds) == {"cluster", "predict"}


def test_stages_running_side_by_side_count_their_wall_time_once():
    """Two threads in "ingest" at once (the DAG's parallel branches): ingest's seconds are the
    union of their intervals, and the total is the wall time, not the sum."""
    import threading

    clock = FakeClock()
    timer = StageTimer(clock=clock)
    entered, leave = {n: threading.Event() for n in "ab"}, {n: threading.Event() for n in "ab"}
    left = {n: threading.Event() for n in "ab"}

    def branch(name, stage):
        with timer.stage(stage):
            entered[name].set()
            leave[name].wait(5)
        left[name].set()

    threads = [threading.Thread(target=branch, args=("a", "ingest")), threading.Thread(target=branch, args=("b", "ingest"))]
    threads[0].start(); entered["a"].wait(5)           # a: ingest from 0
    clock.now = 1; threads[1].start(); entered["b"].wait(5)  # b: ingest from 1
    clock.now = 4; leave["a"].set(); left["a"].wait(5)       # a leaves at 4
    clock.now = 6; leave["b"].set(); left["b"].wait(5)       # b leaves at 6
    for thread in threads:
        thread.join(5)
    clock.now = 7
    with timer.stage("validate"):  # after both: 7..9
        clock.now = 9
    assert timer.seconds == {"ingest": 6, "validate": 2}
    assert timer.inclusive_seconds["ingest"] == 6
    assert timer.total_seconds == 8  # 0..6 and 7..9; the idle second between is not in a stage
