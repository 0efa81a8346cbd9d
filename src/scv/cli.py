"""The ``scv`` command: sample data, run summaries and accuracy figures.

    scv generate --people 2000 --seed 42 --run-date 2026-11-22
    scv summary --run-date 2026-11-22
    scv label crm:123 webshop:456 match --by alice      # a steward's decision on a pair
    scv approve-model 20261122T... --by alice           # daily runs predict with this version
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from scv.config import Settings


def _generate(args: argparse.Namespace) -> int:
    from scv.generate import generate_landing

    settings = Settings.from_env()
    summary = generate_landing(
        args.landing or settings.landing_root,
        people=args.people,
        seed=args.seed,
        run_date=dt.date.fromisoformat(args.run_date),
        day_index=args.day_index,
    )
    print(json.dumps(summary.as_dict(), indent=2, default=str))
    return 0


def truth_frame(spark, settings: Settings):
    """The generator's ground truth (source_system, source_record_id, person_id, ...)."""
    from pyspark.sql import functions as F

    truth = spark.read.option("header", True).csv(f"{settings.landing_root}/_truth/*.csv")
    return truth.withColumn("record_id", F.concat_ws(":", "source_system", "source_record_id"))


def run_summary(spark, settings: Settings) -> dict:
    """Counts per layer and pairwise precision/recall/F1 of gold/customer_xref vs the truth."""
    from pyspark.sql import functions as F

    from scv.linkage.evaluation import pairwise_metrics

    def load(layer: str, name: str):
        return spark.read.format("delta").load(settings.table_path(layer, name))

    manifest = load("ops", "ingest_files")
    per_source = {
        r.source_system: {"rows_read": r.rows_read, "rows_bronze": r.rows_bronze, "rows_quarantined": r.rows_quarantined}
        for r in manifest.groupBy("source_system")
        .agg(F.sum("rows_read").alias("rows_read"), F.sum("rows_bronze").alias("rows_bronze"), F.sum("rows_quarantined").alias("rows_quarantined"))
        .collect()
    }
    xref = load("gold", "customer_xref")
    golden = load("gold", "customer_golden")
    summary = {
        "sources": per_source,
        "silver_person_records": load("silver", "person_records").count(),
        "silver_events": load("silver", "events").count(),
        "xref_records": xref.count(),
        "customers": golden.count(),
        "multi_record_customers": golden.where("record_count > 1").count(),
    }
    truth = truth_frame(spark, settings)
    person_truth = truth.select("record_id", "person_id")
    predicted = xref.select("record_id", F.col("customer_id").alias("cluster_id"))
    summary["pairwise"] = pairwise_metrics(predicted, person_truth)
    return summary


def _summary(args: argparse.Namespace) -> int:
    from scv.spark import build_spark_session

    settings = Settings.from_env()
    spark = build_spark_session(settings, app_name="scv-summary")
    summary = run_summary(spark, settings)
    if args.wall_seconds is not None:
        summary["dag_wall_seconds"] = args.wall_seconds
    summary["run_date"] = args.run_date
    print("\n=== scv_daily run summary ===")
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _label(args: argparse.Namespace) -> int:
    from scv.spark import build_spark_session
    from scv.steward import label_pair

    settings = Settings.from_env()
    spark = build_spark_session(settings, app_name="scv-label")
    label_pair(spark, settings, args.record_a, args.record_b, args.decision, labelled_by=args.by, note=args.note)
    print(f"recorded {args.decision} for {args.record_a} / {args.record_b}; the next link run honours it")
    return 0


def _approve_model(args: argparse.Namespace) -> int:
    from scv.jobs.linkage import approve, model_dir

    settings = Settings.from_env()
    approve(settings, args.version, approved_by=args.by)
    print(f"approved linkage model {args.version} ({model_dir(settings) / args.version})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scv", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a deterministic sample landing zone")
    generate.add_argument("--people", type=int, default=2000)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--run-date", default="2026-11-22")
    generate.add_argument("--day-index", type=int, default=0)
    generate.add_argument("--landing", default=None, help="landing root (default: SCV_LANDING_ROOT)")
    generate.set_defaults(func=_generate)

    summary = commands.add_parser("summary", help="counts and accuracy of the lakehouse's gold tables")
    summary.add_argument("--run-date", default=None)
    summary.add_argument("--wall-seconds", type=int, default=None)
    summary.set_defaults(func=_summary)

    label = commands.add_parser("label", help="record a steward's decision on a pair of records")
    label.add_argument("record_a")
    label.add_argument("record_b")
    label.add_argument("decision", choices=["match", "non_match"])
    label.add_argument("--by", required=True, help="who decided")
    label.add_argument("--note", default=None)
    label.set_defaults(func=_label)

    approve_model = commands.add_parser("approve-model", help="approve a trained linkage model version")
    approve_model.add_argument("version")
    approve_model.add_argument("--by", required=True, help="who approved")
    approve_model.set_defaults(func=_approve_model)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
