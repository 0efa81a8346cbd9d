"""Benchmark results: ratios, target checks, the printed table, JSON, chart and README.

Everything here is pure formatting over the result dictionaries :mod:`scv.bench.runner`
produces (one per population size), so it is tested without Spark.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scv.bench.pipeline import LINKAGE_STAGES, STAGES

# Targets of issue 10 (2-core, 24 GB machine).
TARGET_LINKAGE_SPEEDUP = 2.0
TARGET_LINKAGE_PEOPLE = 100_000
TARGET_DAG_SECONDS = 15 * 60
TARGET_DAG_PEOPLE = 100_000
TARGET_DRIVER_MB = 12 * 1024
TARGET_DRIVER_PEOPLE = 1_000_000
TARGET_INCREMENTAL_SHARE = 0.25


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` rounded to 2 decimals; ``None`` when either is missing or
    the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 2)


def linkage_seconds(stage_seconds: dict[str, float]) -> float:
    """The linkage stage: train + predict + cluster."""
    return round(sum(stage_seconds.get(stage, 0.0) for stage in LINKAGE_STAGES), 3)


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 600:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"


def fmt_number(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def failed(result: dict[str, Any]) -> bool:
    """Did the size's full run stop before the end (``error`` recorded by the runner)?"""
    return "error" in result["full"]


def stopped_text(result: dict[str, Any]) -> str:
    full = result["full"]
    peak = full["peak_memory_mb"].get("overall", {}).get("driver_rss_mb")
    return (
        f"stopped in {full.get('failed_stage') or 'an unknown stage'} after {fmt_seconds(full['total_seconds'])}"
        + (f" (driver RSS peak {peak / 1024:.1f} GB)" if peak else "")
        + f": {full['error'][:200]}"
    )


def comparisons_summary(result: dict[str, Any]) -> dict[str, Any]:
    """Headline figures of one size: linkage time ours vs each baseline, speed-ups, F1."""
    ours = linkage_seconds(result["full"]["seconds"])
    summary: dict[str, Any] = {"scv_linkage_seconds": ours, "scv_f1": result["full"]["accuracy"]["f1"]}
    for name, baseline in (result.get("baselines") or {}).items():
        if "error" in baseline:
            summary[name] = {"error": baseline["error"]}
            continue
        seconds = baseline["seconds"]["linkage"]
        summary[name] = {
            "linkage_seconds": seconds,
            "f1": baseline["accuracy"]["f1"],
            # > 1: scv is faster by that factor.
            "speedup_of_scv": ratio(seconds, ours),
            "scv_time_ratio": ratio(ours, seconds),
        }
    return summary


def evaluate_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target of issue 10: the measured value, whether it is met (``None`` when the
    size it applies to was not run) and why."""
    by_people = {r["people"]: r for r in results}
    rows = []

    r = by_people.get(TARGET_LINKAGE_PEOPLE)
    if r is not None and failed(r):
        rows.append({"target": "linkage >= 2x faster than plain Splink-on-Spark at 100k, F1 >= baseline",
                     "measured": stopped_text(r), "met": False})
    elif r is None or "splink_spark" not in (r.get("baselines") or {}) or "error" in r["baselines"]["splink_spark"]:
        rows.append({"target": "linkage >= 2x faster than plain Splink-on-Spark at 100k, F1 >= baseline",
                     "measured": "not run", "met": None})
    else:
        s = comparisons_summary(r)
        speedup, f1, f1_base = s["splink_spark"]["speedup_of_scv"], s["scv_f1"], s["splink_spark"]["f1"]
        rows.append({
            "target": "linkage >= 2x faster than plain Splink-on-Spark at 100k, F1 >= baseline",
            "measured": f"{speedup}x faster; F1 {f1:.4f} vs {f1_base:.4f}",
            "met": bool(speedup is not None and speedup >= TARGET_LINKAGE_SPEEDUP and f1 >= f1_base),
        })

    r = by_people.get(TARGET_DAG_PEOPLE)
    rows.append({
        "target": "whole daily DAG for 100k people < 15 min",
        "measured": "not run" if r is None else stopped_text(r) if failed(r) else fmt_seconds(r["full"]["total_seconds"]),
        "met": None if r is None else not failed(r) and r["full"]["total_seconds"] < TARGET_DAG_SECONDS,
    })

    r = by_people.get(TARGET_DRIVER_PEOPLE)
    peak = None if r is None else r["full"]["peak_memory_mb"].get("overall", {}).get("driver_rss_mb")
    rows.append({
        "target": "1M people completes, driver < 12 GB",
        "measured": "not run" if r is None else stopped_text(r) if failed(r)
        else f"driver RSS peak {peak / 1024:.1f} GB" if peak else "no sample",
        "met": None if r is None else False if failed(r) else None if peak is None else peak < TARGET_DRIVER_MB,
    })

    for r in results:
        if r.get("incremental"):
            share = ratio(r["incremental"]["total_seconds"], r["full"]["total_seconds"])
            rows.append({
                "target": f"incremental 1% run < 1/4 of the full run ({r['people']:,} people)",
                "measured": f"{share} of the full run ({fmt_seconds(r['incremental']['total_seconds'])})",
                "met": share is not None and share < TARGET_INCREMENTAL_SHARE,
            })
    return rows


def _met(value: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not run"}[value]


def size_table(result: dict[str, Any]) -> str:
    """The per-size table: wall time and driver memory per stage, full and incremental runs."""
    full, incremental = result["full"], result.get("incremental")
    if failed(result):
        lines = [f"## {result['people']:,} people ({result['person_records']:,} person records): run stopped", "",
                 f"The full run {stopped_text(result)}", "",
                 "| stage (completed or stopped) | wall time | driver RSS peak | JVM heap peak |", "| --- | ---: | ---: | ---: |"]
        for stage in STAGES:
            if stage in full["seconds"]:
                peak = full["peak_memory_mb"].get(stage, {})
                lines.append(f"| {stage} | {fmt_seconds(full['seconds'][stage])} | "
                             f"{fmt_number(peak.get('driver_rss_mb'), 0)} MB | {fmt_number(peak.get('jvm_heap_used_mb'), 0)} MB |")
        return "\n".join(lines)
    lines = [
        f"## {result['people']:,} people ({result['person_records']:,} person records, "
        f"{result['full']['comparisons']['total']:,} comparisons scored"
        f"{' (estimated from a sample)' if result['full']['comparisons'].get('sampled') else ''})",
        "",
        "| stage | full run | driver RSS peak | JVM heap peak | incremental run (+1%) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for stage in STAGES:
        peak = full["peak_memory_mb"].get(stage, {}) if isinstance(full["peak_memory_mb"].get(stage), dict) else {}
        inc = incremental["seconds"].get(stage) if incremental else None
        lines.append(
            f"| {stage} | {fmt_seconds(full['seconds'].get(stage))} | "
            f"{fmt_number(peak.get('driver_rss_mb'), 0)} MB | {fmt_number(peak.get('jvm_heap_used_mb'), 0)} MB | "
            f"{fmt_seconds(inc) if incremental else '-'} |"
        )
    overall = full["peak_memory_mb"].get("overall", {})
    lines.append(
        f"| **total** | **{fmt_seconds(full['total_seconds'])}** | {fmt_number(overall.get('driver_rss_mb'), 0)} MB | "
        f"{fmt_number(overall.get('jvm_heap_used_mb'), 0)} MB | "
        f"{fmt_seconds(incremental['total_seconds']) if incremental else '-'} |"
    )
    acc = full["accuracy"]
    lines += [
        "",
        f"Accuracy of gold/customer_xref (pairwise): precision {acc['precision']:.4f}, recall {acc['recall']:.4f}, "
        f"F1 {acc['f1']:.4f}."
        + (f" After the incremental run: F1 {incremental['accuracy']['f1']:.4f}." if incremental else ""),
        "",
        "| linkage (train + predict + cluster) | seconds | scv speed-up | F1 | driver/process peak |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| scv | {fmt_seconds(linkage_seconds(full['seconds']))} | 1.00x | {acc['f1']:.4f} | "
        f"{fmt_number(overall.get('driver_rss_mb'), 0)} MB |",
    ]
    summary = comparisons_summary(result)
    for name, label in (("splink_spark", "plain Splink on Spark"), ("splink_duckdb", "plain Splink on DuckDB")):
        if name not in summary:
            continue
        if "error" in summary[name]:
            lines.append(f"| {label} | failed: {summary[name]['error'][:80]} | | | |")
            continue
        peaks = result["baselines"][name]["peak_memory_mb"]
        peak = peaks.get("driver_rss_mb") or peaks.get("process_tree_rss_mb")
        lines.append(
            f"| {label} | {fmt_seconds(summary[name]['linkage_seconds'])} | {summary[name]['speedup_of_scv']}x | "
            f"{summary[name]['f1']:.4f} | {fmt_number(peak, 0)} MB |"
        )
    return "\n".join(lines)


def targets_table(results: list[dict[str, Any]]) -> str:
    lines = ["| target | measured | status |", "| --- | --- | --- |"]
    for row in evaluate_targets(results):
        lines.append(f"| {row['target']} | {row['measured']} | {_met(row['met'])} |")
    return "\n".join(lines)


def merge_results(existing: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results by population size, a new run of a size replacing the old one, sorted by size."""
    by_people = {r["people"]: r for r in existing}
    by_people.update({r["people"]: r for r in new})
    return [by_people[p] for p in sorted(by_people)]


def load_results(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    return json.loads(path.read_text())["results"]


def write_json(results: list[dict[str, Any]], path: str | Path) -> None:
    document = {
        "about": "scv benchmark (make bench): see docs/benchmarks/README.md",
        "targets": evaluate_targets(results),
        "results": results,
    }
    Path(path).write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def write_chart(results: list[dict[str, Any]], path: str | Path) -> None:
    """Time against population size per stage (log-log), plus the baselines' linkage time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [r for r in results if not failed(r)]  # a stopped run has no comparable total
    people = [r["people"] for r in results]
    figure, (stages_ax, linkage_ax) = plt.subplots(1, 2, figsize=(13, 5))
    for stage in STAGES:
        stages_ax.plot(people, [max(r["full"]["seconds"].get(stage, 0.0), 0.01) for r in results], marker="o", label=stage)
    stages_ax.plot(people, [r["full"]["total_seconds"] for r in results], marker="s", color="black", linewidth=2, label="total")
    stages_ax.set(xscale="log", yscale="log", xlabel="people", ylabel="wall seconds", title="scv_daily stages (full run)")
    stages_ax.legend(fontsize=8)
    linkage_ax.plot(people, [linkage_seconds(r["full"]["seconds"]) for r in results], marker="o", label="scv linkage")
    for name, label in (("splink_spark", "plain Splink on Spark"), ("splink_duckdb", "plain Splink on DuckDB")):
        points = [(r["people"], r["baselines"][name]["seconds"]["linkage"]) for r in results
                  if name in (r.get("baselines") or {}) and "seconds" in r["baselines"][name]]
        if points:
            linkage_ax.plot(*zip(*points), marker="o", label=label)
    incremental = [(r["people"], r["incremental"]["total_seconds"]) for r in results if r.get("incremental")]
    if incremental:
        linkage_ax.plot(*zip(*incremental), marker="^", linestyle="--", label="scv incremental run (whole DAG)")
    linkage_ax.set(xscale="log", yscale="log", xlabel="people", ylabel="wall seconds",
                   title="linkage (train + predict + cluster) vs baselines")
    linkage_ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine_lines(machine: dict[str, Any]) -> str:
    return (
        f"{machine.get('cpu_count')} CPUs ({machine.get('cpu_model', '?')}), "
        f"{machine.get('memory_gb')} GB RAM, load average at start {machine.get('load_average')}; "
        f"Python {machine.get('python')}, Java {machine.get('java')}, Spark {machine.get('spark')}, "
        f"Delta {machine.get('delta')}, Splink {machine.get('splink')}, DuckDB {machine.get('duckdb')}; "
        f"driver memory {machine.get('driver_memory')}, shuffle partitions {machine.get('shuffle_partitions')}"
    )


def readme_markdown(results: list[dict[str, Any]], notes: str = "") -> str:
    parts = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m scv.bench`); do not edit by hand: the tables below are "
        "rewritten from `results.json` on every run (a size run again replaces its previous result). "
        "Chart: `chart.png` (wall time against population size per stage, and linkage against the baselines).",
        "",
        "![time against size](chart.png)",
        "",
        "## Targets (issue 10)",
        "",
        targets_table(results),
        "",
    ]
    if notes:
        parts += [notes.strip(), ""]
    parts += [
        "## Method",
        "",
        "- Data: `scv.generate` (seed 42), one initial delivery; then a second delivery for the next date adding "
        "1% new records (the incremental run).",
        "- scv: the daily DAG's job functions (`scv.jobs`) and gates (`scv.quality.run_gate`) in DAG order in one "
        "local Spark session (`scv.bench.pipeline`). `validate` is every gate (bronze, silver, gold) together; "
        "`predict` is the time inside `predict_pairs`/`predict_incremental`; `cluster` is the rest of "
        "`link_records` (clustering, persistent ids, the linkage tables' Delta writes); `review` is `steward_review` "
        "(review queue and dashboards; in the DAG beside the golden build, so not on its critical path, and "
        "not part of linkage). The stages run one after "
        "another: Airflow would run the bronze tasks of different sources in parallel and adds scheduling time.",
        "- Memory: psutil RSS of the driver JVM (local mode: driver and executors are one JVM) sampled every "
        "0.25 s, and the JVM's own heap use (`MemoryMXBean` through py4j).",
        "- Baselines: Splink's Spark tutorial recipe (prior, u sampling, EM per training rule, predict, "
        "`cluster_pairwise_predictions_at_threshold`) with scv's comparisons, blocking rules, thresholds, "
        "sample sizes and seed, each in a fresh process; Spark with default settings (200 shuffle partitions, "
        "AQE on as Spark 4 defaults) except the same driver memory as scv; DuckDB in memory. Input: all silver "
        "person records exported to Parquet. Their times exclude process and JVM start.",
        "- Accuracy: pairwise precision/recall/F1 of the clusters against the generator's ground truth "
        "(`scv.linkage.pairwise_metrics`).",
        "",
    ]
    for result in results:
        parts += [size_table(result), "", f"Machine: {machine_lines(result['machine'])}. Run at {result.get('started_at')}.", ""]
    return "\n".join(parts)


def write_all(results: list[dict[str, Any]], out_dir: str | Path, notes: str = "") -> dict[str, str]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "chart": out / "chart.png", "readme": out / "README.md"}
    write_json(results, paths["json"])
    write_chart(results, paths["chart"])
    paths["readme"].write_text(readme_markdown(results, notes))
    return {k: os.fspath(v) for k, v in paths.items()}
