"""The benchmark end to end on a small population: the daily flow full then incremental, with the
DAG's parallel branches run side by side, measured and scored (no baselines, no timing targets)."""

from __future__ import annotations

from scv.bench.memory import MemorySampler
from scv.bench.pipeline import LINKAGE_STAGES, STAGES
from scv.bench.runner import bench_size


def test_a_small_benchmark_measures_every_stage_of_a_full_and_an_incremental_run(spark, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("SCV_PII_HMAC_KEY", "bench-test-hmac-key")
    with MemorySampler(spark, interval=0.5) as sampler:
        result = bench_size(spark, settings, 400, tmp_path / "bench", sampler=sampler, baselines=(), incremental=True)

    full, incremental = result["full"], result["incremental"]
    assert "error" not in full and "error" not in incremental, (full.get("error"), incremental.get("error"))
    assert set(full["seconds"]) == set(STAGES)
    assert set(incremental["seconds"]) == set(STAGES) - {"train"}
    for run in (full, incremental):
        # A small day may trip a warning (row-count band), never a critical failure.
        assert set(run["gates"].values()) <= {"passed", "warning"}, run["gates"]
        assert len(run["gates"]) == 8  # five bronze gates, silver, two gold
        # Branches ran side by side: the wall time is at most the stages' sum, and at least the longest.
        assert max(run["seconds"].values()) <= run["total_seconds"] <= sum(run["seconds"].values()) + 0.01
        assert all(seconds > 0 for seconds in run["seconds"].values())
    assert full["link"]["mode"] == "full" and incremental["link"]["mode"] == "incremental"
    assert 0 < incremental["link"]["records_linked_this_run"] < incremental["link"]["records"]
    assert incremental["new_person_records"] > 0
    assert full["link"]["records"] < incremental["link"]["records"] <= full["link"]["records"] + incremental["new_person_records"]
    assert full["accuracy"]["f1"] >= 0.9 and incremental["accuracy"]["f1"] >= 0.9, (full["accuracy"], incremental["accuracy"])
    assert full["comparisons"]["total"] > 0
    assert set(LINKAGE_STAGES) <= set(full["seconds"])
