"""Propensity models: "will this customer buy from product group G within its horizon?".

    from scv.propensity import load_config, train_group, load_champion, score_features

* configuration (pure Python, safe at DAG-parse time): :func:`load_config`, :class:`ProductGroup`,
  :class:`PropensityConfig`, :class:`ModelSpec`;
* training sets (point-in-time): :func:`build_training_data`, :func:`plan_cutoffs`;
* training, registration and the promotion gate: :func:`train_group`, :func:`decide_promotion`;
* scoring with the ``champion`` alias: :func:`load_champion`, :func:`score_features`;
* errors: :class:`MissingChampionError`, :class:`ModelIncompatibleError`,
  :class:`InsufficientLabelsError`, :class:`PropensityConfigError`.

Spark and MLflow are imported only when a Spark-side name is first used.
"""

from __future__ import annotations

from importlib import import_module

from scv.propensity.config import (
    ModelSpec,
    ProductGroup,
    PropensityConfig,
    PropensityConfigError,
    config_path,
    load_config,
)

_LAZY = {
    "build_training_data": "scv.propensity.dataset",
    "plan_cutoffs": "scv.propensity.dataset",
    "InsufficientLabelsError": "scv.propensity.dataset",
    "TrainingData": "scv.propensity.dataset",
    "train_group": "scv.propensity.training",
    "decide_promotion": "scv.propensity.training",
    "TrainingResult": "scv.propensity.training",
    "load_champion": "scv.propensity.scoring",
    "score_features": "scv.propensity.scoring",
    "evaluate": "scv.propensity.metrics",
    "Evaluation": "scv.propensity.metrics",
    "MissingChampionError": "scv.propensity.registry",
    "ModelIncompatibleError": "scv.propensity.registry",
}

__all__ = [
    "ModelSpec",
    "ProductGroup",
    "PropensityConfig",
    "PropensityConfigError",
    "config_path",
    "load_config",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scv.propensity' has no attribute {name!r}")
