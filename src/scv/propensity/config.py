"""Product groups and training settings for the propensity models, read from one YAML file.

``include/propensity/product_groups.yml`` (``<SCV_INCLUDE_DIR>/propensity/``) declares which
product groups are modelled (name, product categories, prediction horizon), the feature
windows, and how models are trained, registered and promoted. Adding a group is a change to that
file only: the feature table gains its columns, both propensity DAGs gain a task for it.

Loading needs no Spark and no MLflow, so DAG files may call :func:`load_config` at parse time.
Invalid files raise :class:`PropensityConfigError` naming the file and the offending key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from scv.features.spec import FeatureSpec

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
ALGORITHMS = ("logistic_regression", "gbt")
CONFIG_RELATIVE_PATH = os.path.join("propensity", "product_groups.yml")


class PropensityConfigError(ValueError):
    """The product group file is invalid; the message names the file and the key."""

    def __init__(self, file: str, key: str, problem: str):
        self.file, self.key, self.problem = file, key, problem
        super().__init__(f"propensity config {file}: key '{key}': {problem}")


@dataclass(frozen=True)
class ModelSpec:
    """The estimator trained per group (Spark MLlib), and which feature columns it may use.

    ``features`` None means every numeric feature column of ``gold/customer_features``; a tuple
    restricts the model to those columns (used for experiments and for deliberately weak
    baselines in tests).
    """

    algorithm: str = "logistic_regression"
    reg_param: float = 0.01
    elastic_net_param: float = 0.0
    max_iter: int = 100
    max_depth: int = 4
    seed: int = 42
    features: tuple[str, ...] | None = None

    def params(self) -> dict[str, Any]:
        """Flat parameters for experiment tracking."""
        out: dict[str, Any] = {"algorithm": self.algorithm, "max_iter": self.max_iter, "seed": self.seed}
        if self.algorithm == "logistic_regression":
            out.update(reg_param=self.reg_param, elastic_net_param=self.elastic_net_param)
        else:
            out.update(max_depth=self.max_depth)
        out["feature_subset"] = ",".join(self.features) if self.features is not None else "all"
        return out


@dataclass(frozen=True)
class ProductGroup:
    """A set of product categories modelled together, with its prediction horizon in days."""

    name: str
    categories: tuple[str, ...]
    horizon_days: int = 30
    description: str = ""
    model: ModelSpec | None = None


@dataclass(frozen=True)
class TrainingSpec:
    """How models are trained, tracked and promoted.

    The hold-out cutoff is ``as_of - horizon`` (its labels are the last complete horizon before
    the run date); training cutoffs are ``hold-out cutoff - horizon - k * cutoff_step_days`` for
    ``k < train_cutoffs``, so no training label window overlaps the hold-out's.
    """

    experiment: str = "scv_propensity"
    model_name_prefix: str = "scv_propensity_"
    train_cutoffs: int = 12
    cutoff_step_days: int = 14
    promotion_margin: float = 0.005
    min_positives: int = 10
    calibration_bins: int = 10
    model: ModelSpec = field(default_factory=ModelSpec)


@dataclass(frozen=True)
class PropensityConfig:
    groups: tuple[ProductGroup, ...]
    features: FeatureSpec = field(default_factory=FeatureSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    file: str = "<memory>"

    def group(self, name: str) -> ProductGroup:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(f"unknown product group {name!r} in {self.file}; known: {', '.join(self.group_names)}")

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)

    def model_name(self, group: str) -> str:
        """The registered model name of ``group`` in the MLflow model registry."""
        return f"{self.training.model_name_prefix}{group}"

    def model_spec(self, group: str) -> ModelSpec:
        """The group's own model settings if it declares any, else the training default."""
        return self.group(group).model or self.training.model

    def with_groups(self, *groups: ProductGroup) -> "PropensityConfig":
        return replace(self, groups=tuple(groups))


def config_path(include_dir: str | os.PathLike) -> str:
    return os.path.join(str(include_dir), CONFIG_RELATIVE_PATH)


def load_config(path: str | os.PathLike) -> PropensityConfig:
    """Read and validate the product group file at ``path`` (see the module docstring)."""
    file = str(path)
    try:
        raw = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PropensityConfigError(file, "<file>", "not found") from None
    except yaml.YAMLError as error:
        raise PropensityConfigError(file, "<file>", f"not valid YAML: {error}") from None
    return parse_config(raw, file)


def parse_config(raw: Any, file: str = "<memory>") -> PropensityConfig:
    """Validate an already-parsed YAML document (a mapping) into a :class:`PropensityConfig`."""
    if not isinstance(raw, dict):
        raise PropensityConfigError(file, "<file>", "must be a mapping")
    _unknown(raw, {"groups", "features", "training", "version"}, file, "")
    features = _features(raw.get("features") or {}, file)
    training = _training(raw.get("training") or {}, file)
    groups_raw = raw.get("groups")
    if not isinstance(groups_raw, list) or not groups_raw:
        raise PropensityConfigError(file, "groups", "must be a non-empty list")
    groups = tuple(_group(item, i, file, training.model) for i, item in enumerate(groups_raw))
    names = [g.name for g in groups]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PropensityConfigError(file, "groups", f"duplicate group names: {', '.join(duplicates)}")
    return PropensityConfig(groups=groups, features=features, training=training, file=file)


def _unknown(raw: dict, known: set[str], file: str, where: str) -> None:
    extra = sorted(set(raw) - known)
    if extra:
        prefix = f"{where}." if where else ""
        raise PropensityConfigError(file, f"{prefix}{extra[0]}", f"unknown key (known: {', '.join(sorted(known))})")


def _positive_int(value: Any, file: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PropensityConfigError(file, key, f"must be a positive integer, got {value!r}")
    return value


def _number(value: Any, file: str, key: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise PropensityConfigError(file, key, f"must be a number >= {minimum}, got {value!r}")
    return float(value)


def _features(raw: Any, file: str) -> FeatureSpec:
    if not isinstance(raw, dict):
        raise PropensityConfigError(file, "features", "must be a mapping")
    _unknown(raw, {"windows_days", "engagement_window_days"}, file, "features")
    spec = FeatureSpec()
    windows = raw.get("windows_days", list(spec.windows_days))
    if not isinstance(windows, list) or not windows:
        raise PropensityConfigError(file, "features.windows_days", "must be a non-empty list of days")
    windows = tuple(sorted({_positive_int(w, file, "features.windows_days") for w in windows}))
    engagement = _positive_int(raw.get("engagement_window_days", spec.engagement_window_days), file, "features.engagement_window_days")
    return FeatureSpec(windows_days=windows, engagement_window_days=engagement)


def _model(raw: Any, file: str, key: str, base: ModelSpec) -> ModelSpec:
    if not isinstance(raw, dict):
        raise PropensityConfigError(file, key, "must be a mapping")
    _unknown(raw, {"algorithm", "reg_param", "elastic_net_param", "max_iter", "max_depth", "seed", "features"}, file, key)
    algorithm = raw.get("algorithm", base.algorithm)
    if algorithm not in ALGORITHMS:
        raise PropensityConfigError(file, f"{key}.algorithm", f"must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    features = raw.get("features", base.features)
    if features is not None:
        if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
            raise PropensityConfigError(file, f"{key}.features", "must be a non-empty list of feature column names")
        features = tuple(features)
    return ModelSpec(
        algorithm=algorithm,
        reg_param=_number(raw.get("reg_param", base.reg_param), file, f"{key}.reg_param"),
        elastic_net_param=_number(raw.get("elastic_net_param", base.elastic_net_param), file, f"{key}.elastic_net_param"),
        max_iter=_positive_int(raw.get("max_iter", base.max_iter), file, f"{key}.max_iter"),
        max_depth=_positive_int(raw.get("max_depth", base.max_depth), file, f"{key}.max_depth"),
        seed=int(raw.get("seed", base.seed)),
        features=features,
    )


def _training(raw: Any, file: str) -> TrainingSpec:
    if not isinstance(raw, dict):
        raise PropensityConfigError(file, "training", "must be a mapping")
    known = {"experiment", "model_name_prefix", "train_cutoffs", "cutoff_step_days", "promotion_margin", "min_positives", "calibration_bins", "model"}
    _unknown(raw, known, file, "training")
    base = TrainingSpec()
    prefix = raw.get("model_name_prefix", base.model_name_prefix)
    if not isinstance(prefix, str) or not re.match(r"^[A-Za-z0-9_.\-]+$", prefix):
        raise PropensityConfigError(file, "training.model_name_prefix", f"must be a registry-safe name prefix, got {prefix!r}")
    experiment = raw.get("experiment", base.experiment)
    if not isinstance(experiment, str) or not experiment:
        raise PropensityConfigError(file, "training.experiment", "must be a non-empty string")
    return TrainingSpec(
        experiment=experiment,
        model_name_prefix=prefix,
        train_cutoffs=_positive_int(raw.get("train_cutoffs", base.train_cutoffs), file, "training.train_cutoffs"),
        cutoff_step_days=_positive_int(raw.get("cutoff_step_days", base.cutoff_step_days), file, "training.cutoff_step_days"),
        promotion_margin=_number(raw.get("promotion_margin", base.promotion_margin), file, "training.promotion_margin"),
        min_positives=_positive_int(raw.get("min_positives", base.min_positives), file, "training.min_positives"),
        calibration_bins=_positive_int(raw.get("calibration_bins", base.calibration_bins), file, "training.calibration_bins"),
        model=_model(raw.get("model") or {}, file, "training.model", base.model),
    )


def _group(raw: Any, index: int, file: str, base_model: ModelSpec) -> ProductGroup:
    key = f"groups[{index}]"
    if not isinstance(raw, dict):
        raise PropensityConfigError(file, key, "must be a mapping")
    _unknown(raw, {"name", "categories", "horizon_days", "description", "model"}, file, key)
    name = raw.get("name")
    # Group names become column names and task ids: keep them identifier-safe.
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise PropensityConfigError(file, f"{key}.name", f"must match {_NAME_RE.pattern}, got {name!r}")
    categories = raw.get("categories")
    if not isinstance(categories, list) or not categories or not all(isinstance(c, str) and c.strip() for c in categories):
        raise PropensityConfigError(file, f"{name}.categories", "must be a non-empty list of product category names")
    horizon = _positive_int(raw.get("horizon_days", 30), file, f"{name}.horizon_days")
    # A group's model settings override the training default key by key.
    model = _model(raw["model"], file, f"{name}.model", base_model) if raw.get("model") is not None else None
    return ProductGroup(
        name=name,
        categories=tuple(dict.fromkeys(c.strip().lower() for c in categories)),
        horizon_days=horizon,
        description=str(raw.get("description", "")),
        model=model,
    )
