"""Entity resolution: which silver person records are the same person.

A small public surface over Splink on Spark; every function takes the Spark session it runs in.

- :class:`LinkageConfig`: comparisons, blocking rules, thresholds, budget, Spark tuning.
- :func:`count_comparisons` / :func:`check_comparison_budget`: blocking with evidence.
- :func:`train_model`: a versioned model file with its charts (:class:`TrainedModel`).
- :func:`predict_pairs` / :func:`predict_incremental`: scored pairs, all or only new ones.
- :func:`cluster_records`: customers as connected components, with Zingg-style min/max scores.
- :func:`pairwise_metrics` (in :mod:`scv.linkage.evaluation`): precision and recall.
"""

from scv.linkage.blocking import check_comparison_budget, count_comparisons
from scv.linkage.clustering import cluster_records
from scv.linkage.config import LinkageConfig
from scv.linkage.errors import ComparisonBudgetExceeded, LinkageError, ModelColumnMismatch
from scv.linkage.evaluation import hard_negative_merges, pairwise_metrics
from scv.linkage.prediction import predict_incremental, predict_pairs
from scv.linkage.settings import build_settings
from scv.linkage.training import TrainedModel, latest_model, load_trained_model, train_model

__all__ = [
    "ComparisonBudgetExceeded",
    "LinkageConfig",
    "LinkageError",
    "ModelColumnMismatch",
    "TrainedModel",
    "build_settings",
    "check_comparison_budget",
    "cluster_records",
    "count_comparisons",
    "hard_negative_merges",
    "latest_model",
    "load_trained_model",
    "pairwise_metrics",
    "predict_incremental",
    "predict_pairs",
    "train_model",
]
