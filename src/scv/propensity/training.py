"""Train, evaluate, register and (maybe) promote one product group's propensity model.

:func:`train_group` is the whole weekly step for one group:

1. build the point-in-time training and hold-out sets (:mod:`scv.propensity.dataset`);
2. fit the group's Spark MLlib pipeline (:mod:`scv.propensity.model`) on the training cutoffs;
3. evaluate it on the later hold-out cutoff: AUC, average precision, Brier score, reliability
   bins (:mod:`scv.propensity.metrics`);
4. evaluate the current ``champion`` on the *same* hold-out;
5. log parameters, metrics, the evaluation and the Spark model to MLflow and register a new
   version of ``<prefix><group>``;
6. promote it to ``champion`` only if its hold-out AUC beats the champion's by more than the
   margin (:func:`decide_promotion`); otherwise it becomes ``challenger``. The reason is in the
   result, on the MLflow run and on the model version.

Rerunning a week registers another version; as an identical model cannot beat itself by a
positive margin, a rerun never changes the champion.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql.utils import AnalysisException

from scv.config import Settings
from scv.propensity import registry
from scv.propensity.config import ModelSpec, PropensityConfig
from scv.propensity.dataset import TrainingData, build_training_data
from scv.propensity.metrics import Evaluation, evaluate, ranking_metrics
from scv.propensity.model import build_pipeline, score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    champion_version: str | None = None
    champion_auc: float | None = None


def decide_promotion(
    candidate_auc: float,
    champion_auc: float | None,
    margin: float,
    champion_version: str | None = None,
    champion_problem: str | None = None,
) -> PromotionDecision:
    """Promote iff the candidate's hold-out AUC exceeds the champion's by more than ``margin``.

    No champion, or a champion that cannot score the current features (``champion_problem``),
    means the candidate is promoted; an undefined candidate AUC never is.
    """
    if candidate_auc is None or math.isnan(candidate_auc):
        return PromotionDecision(False, "hold-out AUC is undefined (one class only): not promoted", champion_version, champion_auc)
    if champion_version is None:
        return PromotionDecision(True, f"no champion yet: promoted with hold-out AUC {candidate_auc:.4f}")
    if champion_problem is not None:
        return PromotionDecision(
            True, f"champion v{champion_version} cannot score the current features ({champion_problem}): promoted", champion_version
        )
    assert champion_auc is not None
    gain = candidate_auc - champion_auc
    if gain > margin:
        return PromotionDecision(
            True,
            f"hold-out AUC {candidate_auc:.4f} beats champion v{champion_version} ({champion_auc:.4f}) by {gain:+.4f} > margin {margin:.4f}",
            champion_version,
            champion_auc,
        )
    return PromotionDecision(
        False,
        f"hold-out AUC {candidate_auc:.4f} does not beat champion v{champion_version} ({champion_auc:.4f}) by more than "
        f"margin {margin:.4f} (difference {gain:+.4f}): kept as challenger",
        champion_version,
        champion_auc,
    )


@dataclass
class TrainingResult:
    group: str
    model_name: str
    version: str
    alias: str
    promoted: bool
    reason: str
    holdout: Evaluation
    train_auc: float
    champion_version: str | None
    champion_holdout_auc: float | None
    mlflow_run_id: str
    holdout_cutoff: str
    train_cutoffs: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """A small JSON-serialisable summary (no reliability bins)."""
        return {
            "group": self.group,
            "model_name": self.model_name,
            "version": self.version,
            "alias": self.alias,
            "promoted": self.promoted,
            "reason": self.reason,
            "holdout_auc": round(self.holdout.auc, 4),
            "holdout_average_precision": round(self.holdout.average_precision, 4),
            "holdout_brier": round(self.holdout.brier, 5),
            "holdout_ece": round(self.holdout.expected_calibration_error, 5),
            "holdout_positive_rate": round(self.holdout.positive_rate, 4),
            "train_auc": round(self.train_auc, 4),
            "champion_version": self.champion_version,
            "champion_holdout_auc": None if self.champion_holdout_auc is None else round(self.champion_holdout_auc, 4),
            "mlflow_run_id": self.mlflow_run_id,
            "holdout_cutoff": self.holdout_cutoff,
            "train_cutoffs": [self.train_cutoffs[0], self.train_cutoffs[-1], len(self.train_cutoffs)],
            **self.counts,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


def _evaluate_model(model, holdout: DataFrame, bins: int) -> Evaluation:
    scored = score(model, holdout).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return evaluate(scored, bins)
    finally:
        scored.unpersist()


def _evaluate_champion(client, name: str, holdout: DataFrame, settings: Settings, bins: int):
    """(champion version or None, its hold-out evaluation or None, why it could not score or None)."""
    champion = registry.version_by_alias(client, name, registry.CHAMPION)
    if champion is None:
        return None, None, None
    model = registry.load_spark_model(champion, settings)
    try:
        return champion, _evaluate_model(model, holdout, bins), None
    except AnalysisException as error:
        # Typically a product group was removed and its feature columns are gone.
        return champion, None, str(error).splitlines()[0][:300]


def _log_json(payload: dict, name: str) -> None:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, default=str)
        mlflow.log_artifact(path)


def train_group(
    events: DataFrame,
    xref: DataFrame,
    as_of: dt.date,
    group_name: str,
    config: PropensityConfig,
    settings: Settings,
    *,
    margin: float | None = None,
    model_spec: ModelSpec | None = None,
    data: TrainingData | None = None,
    airflow_run_id: str | None = None,
) -> TrainingResult:
    """Train, evaluate, register and gate ``group_name``'s model for a run as of ``as_of``.

    ``margin`` defaults to ``training.promotion_margin``; ``model_spec`` to the group's model
    settings; ``data`` (prepared by :func:`build_training_data` for the same ``as_of``) lets
    callers fit several models on one training set. Raises
    :class:`~scv.propensity.dataset.InsufficientLabelsError` when labels are too few.
    """
    import mlflow
    import mlflow.spark

    group = config.group(group_name)
    spec = model_spec or config.model_spec(group_name)
    margin = config.training.promotion_margin if margin is None else float(margin)
    bins = config.training.calibration_bins
    name = config.model_name(group_name)
    seconds: dict[str, float] = {}
    clock = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.monotonic()
        seconds[stage] = now - clock
        clock = now

    owned = data is None
    if data is not None and (data.group.name != group_name or data.cutoffs.holdout != as_of - dt.timedelta(days=group.horizon_days)):
        raise ValueError(f"training data for {data.group.name!r} with hold-out {data.cutoffs.holdout} does not fit group {group_name!r} as of {as_of}")
    data = data or build_training_data(events, xref, as_of, group_name, config)
    if owned:
        lap("training_set")
    try:
        columns = list(spec.features) if spec.features is not None else list(data.feature_columns)
        unknown = sorted(set(columns) - set(data.feature_columns))
        if unknown:
            raise ValueError(f"model features not in the feature table: {', '.join(unknown)}")
        model = build_pipeline(columns, spec).fit(data.train)
        lap("fit")
        holdout = _evaluate_model(model, data.holdout, bins)
        train_auc = ranking_metrics(score(model, data.train))["auc"]
        lap("evaluate")
        log.info("group %s: hold-out AUC %.4f AP %.4f (train AUC %.4f)", group_name, holdout.auc, holdout.average_precision, train_auc)

        with registry.mlflow_tracking(settings) as client:
            experiment_id = registry.ensure_experiment(client, settings, config.training.experiment)
            champion, champion_eval, problem = _evaluate_champion(client, name, data.holdout, settings, bins)
            lap("champion")
            decision = decide_promotion(
                holdout.auc,
                champion_eval.auc if champion_eval else None,
                margin,
                champion.version if champion else None,
                problem,
            )
            tags = {
                "scv.group": group_name,
                "scv.as_of_date": as_of.isoformat(),
                "scv.holdout_cutoff": data.cutoffs.holdout.isoformat(),
                "scv.airflow_run_id": airflow_run_id or "",
            }
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"{group_name}-{as_of.isoformat()}", tags=tags) as run:
                mlflow.log_params(
                    {
                        "group": group_name,
                        "categories": ",".join(group.categories),
                        "horizon_days": group.horizon_days,
                        "holdout_cutoff": data.cutoffs.holdout.isoformat(),
                        "train_cutoff_first": data.cutoffs.train[0].isoformat(),
                        "train_cutoff_last": data.cutoffs.train[-1].isoformat(),
                        "train_cutoffs": len(data.cutoffs.train),
                        "cutoff_step_days": config.training.cutoff_step_days,
                        "promotion_margin": margin,
                        "n_features": len(columns),
                        **spec.params(),
                    }
                )
                metrics = {**holdout.metrics("holdout_"), "train_auc": train_auc}
                metrics.update({f"{k}_count": float(v) for k, v in data.counts.items()})
                if champion_eval is not None:
                    metrics.update(champion_eval.metrics("champion_holdout_"))
                    metrics["holdout_auc_gain"] = holdout.auc - champion_eval.auc
                mlflow.log_metrics({k: v for k, v in metrics.items() if v is not None and not math.isnan(v)})
                _log_json(
                    {
                        "holdout": holdout.as_dict(),
                        "champion": None if champion is None else {"version": champion.version, "holdout": champion_eval.as_dict() if champion_eval else None, "problem": problem},
                        "decision": asdict(decision),
                        "cutoffs": {"holdout": data.cutoffs.holdout, "train": list(data.cutoffs.train)},
                        "features": columns,
                    },
                    "evaluation.json",
                )
                info = mlflow.spark.log_model(
                    model,
                    "model",
                    registered_model_name=name,
                    dfs_tmpdir=registry.dfs_tmpdir(settings),
                    # Explicit requirements: MLflow would otherwise infer them by importing the
                    # model in a subprocess, which costs ~40 s per model and adds nothing here.
                    pip_requirements=mlflow.spark.get_default_pip_requirements(),
                )
                version = str(info.registered_model_version)
                alias = registry.CHAMPION if decision.promote else registry.CHALLENGER
                mlflow.set_tags({"scv.decision": alias, "scv.reason": decision.reason, "scv.model_version": version})

            version_tags = {
                "scv.holdout_auc": f"{holdout.auc:.6f}",
                "scv.holdout_cutoff": data.cutoffs.holdout.isoformat(),
                "scv.as_of_date": as_of.isoformat(),
                "scv.decision": alias,
                "scv.reason": decision.reason,
            }
            for key, value in version_tags.items():
                client.set_model_version_tag(name, version, key, value)
            if decision.promote and champion is not None:
                client.set_registered_model_alias(name, registry.PREVIOUS_CHAMPION, champion.version)
            client.set_registered_model_alias(name, alias, version)
        lap("mlflow")
        log.info("group %s: %s v%s is %s: %s", group_name, name, version, alias, decision.reason)
        return TrainingResult(
            group=group_name,
            model_name=name,
            version=version,
            alias=alias,
            promoted=decision.promote,
            reason=decision.reason,
            holdout=holdout,
            train_auc=train_auc,
            champion_version=decision.champion_version,
            champion_holdout_auc=decision.champion_auc,
            mlflow_run_id=run.info.run_id,
            holdout_cutoff=data.cutoffs.holdout.isoformat(),
            train_cutoffs=[c.isoformat() for c in data.cutoffs.train],
            counts=dict(data.counts),
            seconds=seconds,
        )
    finally:
        if owned:
            data.unpersist()
