"""Propensity training, the promotion gate and scoring on generated data (1500 people).

One generated landing zone and one MLflow store serve the module: the training set for the
``grocery`` group is built once, then three models are registered in order (a crippled
baseline, the real model, the crippled baseline again) so that the gate is seen promoting a
better model and keeping the champion against a worse one.

AUC floor: with seed 11 the generator gives ~2.5 linked purchases per customer over 18 months;
grocery's 30-day hold-out AUC measured 0.71-0.74 over seeds 1, 2, 3, 11 (average precision
2.6-3.3 x the positive rate), the crippled model 0.49-0.51. The floor is 0.65 and 2 x lift.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from pyspark.sql import functions as F

from scv import delta_io
from scv.config import Settings
from scv.propensity import MissingChampionError, ModelSpec, build_training_data, config_path, load_config, train_group

AS_OF = dt.date(2026, 11, 22)
PEOPLE, SEED = 1500, 11
GROUP = "grocery"
AUC_FLOOR = 0.65
AP_LIFT_FLOOR = 2.0
# One feature that says nothing about grocery: a model that can only guess.
CRIPPLED = ModelSpec(features=("sports_add_to_cart_30d",), max_iter=10)


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    from scv.generate import generate_landing
    from scv.propensity.sample import sample_events, sample_xref

    root = tmp_path_factory.mktemp("propensity")
    generate_landing(root / "landing", people=PEOPLE, seed=SEED, run_date=AS_OF)
    settings = Settings.from_env().with_overrides(
        landing_root=str(root / "landing"),
        lakehouse_root=str(root / "lakehouse"),
        artifacts_dir=str(root / "artifacts"),
        spark_master="local[2]",
        shuffle_partitions=2,
    )
    delta_io.overwrite(sample_events(spark, settings.landing_root), settings.table_path("silver", "events"))
    delta_io.overwrite(sample_xref(spark, settings.landing_root), settings.table_path("gold", "customer_xref"))
    with pytest.MonkeyPatch.context() as patch:
        # Never write to a developer's own tracking server from the tests.
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        yield settings


@pytest.fixture(scope="module")
def trained(spark, lake):
    config = load_config(config_path(lake.include_dir))
    events = spark.read.format("delta").load(lake.table_path("silver", "events"))
    xref = spark.read.format("delta").load(lake.table_path("gold", "customer_xref"))
    timings = {}
    started = time.monotonic()
    data = build_training_data(events, xref, AS_OF, GROUP, config)
    timings["training_set"] = time.monotonic() - started
    results = {}
    for step, spec in (("crippled_first", CRIPPLED), ("real", None), ("crippled_again", CRIPPLED)):
        started = time.monotonic()
        results[step] = train_group(events, xref, AS_OF, GROUP, config, lake, model_spec=spec, data=data, airflow_run_id=f"test-{step}")
        timings[step] = time.monotonic() - started
    data.unpersist()
    print("\npropensity timings (s):", {k: round(v, 1) for k, v in timings.items()}, {k: r.seconds for k, r in results.items()})
    print("real model:", results["real"].as_dict())
    return config, results


def registry_client(settings):
    from mlflow import MlflowClient

    from scv.propensity.registry import tracking_uri

    return MlflowClient(tracking_uri=tracking_uri(settings), registry_uri=tracking_uri(settings))


def test_the_model_beats_the_auc_floor_on_the_later_holdout(trained):
    _, results = trained
    real = results["real"]
    assert real.holdout_cutoff == "2026-10-23" and max(real.train_cutoffs) < real.holdout_cutoff
    assert real.holdout.positives >= 20
    assert real.holdout.auc >= AUC_FLOOR, real.as_dict()
    assert real.holdout.average_precision >= AP_LIFT_FLOOR * real.holdout.positive_rate, real.as_dict()
    # Logistic regression on log features is close to calibrated: mean score near the base rate.
    assert real.holdout.expected_calibration_error < 0.05
    assert sum(b.rows for b in real.holdout.bins) == real.holdout.rows


def test_the_gate_promotes_a_better_model_and_keeps_the_champion_against_a_worse_one(trained, lake):
    config, results = trained
    first, real, again = results["crippled_first"], results["real"], results["crippled_again"]
    assert first.promoted and first.alias == "champion" and "no champion yet" in first.reason
    assert real.promoted and real.champion_version == first.version and "beats champion" in real.reason
    assert not again.promoted and again.alias == "challenger"
    assert f"does not beat champion v{real.version}" in again.reason and "margin" in again.reason
    assert again.champion_holdout_auc == pytest.approx(real.holdout.auc)  # evaluated on the same hold-out

    client = registry_client(lake)
    name = config.model_name(GROUP)
    assert str(client.get_model_version_by_alias(name, "champion").version) == real.version
    assert str(client.get_model_version_by_alias(name, "challenger").version) == again.version
    assert str(client.get_model_version_by_alias(name, "previous_champion").version) == first.version
    version = client.get_model_version(name, again.version)
    assert version.tags["scv.decision"] == "challenger" and version.tags["scv.reason"] == again.reason
    run = client.get_run(real.mlflow_run_id)
    assert run.data.metrics["holdout_auc"] == pytest.approx(real.holdout.auc)
    assert {"holdout_average_precision", "holdout_brier", "holdout_ece", "champion_holdout_auc"} <= set(run.data.metrics)
    assert run.data.params["group"] == GROUP and run.data.tags["scv.decision"] == "champion"


def test_scoring_uses_the_champion_covers_every_customer_and_reruns_identically(spark, trained, lake):
    from scv.jobs import features as features_job
    from scv.jobs import propensity as propensity_job

    config, results = trained
    features_job.run(spark, lake, logical_date=AS_OF.isoformat(), run_id="features")
    summary = propensity_job.score(spark, lake, as_of_date=AS_OF.isoformat(), run_id="score-1", group=GROUP)
    assert summary["model_version"] == results["real"].version

    scores_path = lake.table_path("gold", "propensity_scores")
    scores = spark.read.format("delta").load(scores_path)
    customers = spark.read.format("delta").load(lake.table_path("gold", "customer_xref")).select("customer_id").distinct()
    assert scores.count() == customers.count() == summary["scored"]
    assert scores.join(customers, "customer_id", "left_anti").count() == 0
    assert scores.where((F.col("score") <= 0) | (F.col("score") >= 1) | F.col("score").isNull()).count() == 0
    assert {tuple(r) for r in scores.select("product_group", "model_name", "model_version", "as_of_date").distinct().collect()} == {
        (GROUP, "scv_propensity_grocery", results["real"].version, AS_OF)
    }

    def content():
        return sorted(spark.read.format("delta").load(scores_path).drop("scored_at").collect())

    before = content()
    propensity_job.score(spark, lake, as_of_date=AS_OF.isoformat(), run_id="score-2", group=GROUP)
    assert content() == before

    # Moving the alias moves scoring: the crippled first version now scores everyone the same-ish.
    client = registry_client(lake)
    client.set_registered_model_alias(config.model_name(GROUP), "champion", results["crippled_first"].version)
    try:
        moved = propensity_job.score(spark, lake, as_of_date="", run_id="score-3", group=GROUP)
    finally:
        client.set_registered_model_alias(config.model_name(GROUP), "champion", results["real"].version)
    assert moved["model_version"] == results["crippled_first"].version and moved["as_of_date"] == AS_OF.isoformat()
    assert spark.read.format("delta").load(scores_path).count() == len(before)


def test_a_group_without_champion_fails_with_a_clear_message(spark, trained, lake):
    from scv.jobs import features as features_job
    from scv.jobs import propensity as propensity_job

    features_job.run(spark, lake, logical_date=AS_OF.isoformat(), run_id="features")
    with pytest.raises(MissingChampionError, match=r"'toys' has no champion.*scv_propensity_toys.*scv_propensity_retrain"):
        propensity_job.score(spark, lake, as_of_date=AS_OF.isoformat(), run_id="score", group="toys")
