"""Training: estimate the model's parameters and write a versioned model with its charts.

A model version lives in ``<model_dir>/<version>/``:

- ``model.json``: the Splink model (comparisons, m/u probabilities, prior), readable by
  ``Linker(df, "model.json")`` and by :func:`scv.linkage.predict_pairs`;
- ``match_weights.html`` and ``m_u_parameters.html``: Splink's charts, self-contained;
- ``training.json``: what was trained on, with which settings, how long it took.

``version`` is the UTC training time followed by a hash of ``model.json``, so versions sort by
age and two trainings that estimated the same parameters share the hash (estimates are rounded
to 12 significant digits, below which Spark's summation order makes them differ). A version directory appears
complete or not at all (it is written beside and renamed into place).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import splink
from pyspark.sql import DataFrame, SparkSession
from splink import Linker

from scv.linkage._backend import SplinkSession
from scv.linkage.config import LinkageConfig
from scv.linkage.em_estimation import estimate_m_with_em_in_process
from scv.linkage.settings import (
    build_settings,
    columns_in_rules,
    linkable_records,
    load_model,
    model_input_columns,
    training_settings_dict,
)
from scv.linkage.u_estimation import estimate_u_in_one_pass

logger = logging.getLogger(__name__)

MODEL_FILE = "model.json"
CHART_FILES = {"match_weights": "match_weights.html", "m_u_parameters": "m_u_parameters.html"}


@dataclass(frozen=True)
class TrainedModel:
    """A model version written by :func:`train_model`."""

    version: str
    directory: Path
    settings: dict[str, Any] = field(repr=False)
    charts: dict[str, Path] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def model_path(self) -> Path:
        return self.directory / MODEL_FILE


def train_model(
    spark: SparkSession, silver_df: DataFrame, config: LinkageConfig, model_dir: str | Path
) -> TrainedModel:
    """Estimate the model on the linkable silver records and write a new model version.

    Steps: the prior from ``config.deterministic_rules``; u probabilities from
    ``config.u_max_pairs`` random pairs; m probabilities by one EM session per
    ``config.training_blocking_rules``. Every sample is seeded (``config.seed``), so the same
    data and configuration give the same parameters. Nothing is written if training fails.
    """
    started = time.monotonic()
    settings = build_settings(config)
    columns = model_input_columns(
        training_settings_dict(config),
        extra_rules=(*config.training_blocking_rules, *config.deterministic_rules),
    ) | columns_in_rules(config.prediction_blocking_rules)

    timings: dict[str, float] = {}
    with SplinkSession(spark, config) as session:
        records = linkable_records(silver_df, columns)
        registered = session.register(records, "training")
        n_records = records.count()
        linker = Linker(registered, settings, log_level=None)

        step = time.monotonic()
        linker.training.estimate_probability_two_random_records_match(
            list(config.deterministic_rules), recall=config.deterministic_rules_recall
        )
        timings["prior"] = time.monotonic() - step

        step = time.monotonic()
        if config.u_num_chunks == 1:
            # Splink's method scores the sampled pairs once per comparison; the same sample
            # and counts, every comparison at once (see scv.linkage.u_estimation).
            estimate_u_in_one_pass(linker, max_pairs=config.u_max_pairs, seed=config.seed)
        else:
            linker.training.estimate_u_using_random_sampling(
                max_pairs=config.u_max_pairs, seed=config.seed, num_chunks=config.u_num_chunks
            )
        timings["u"] = time.monotonic() - step

        step = time.monotonic()
        for rule in config.training_blocking_rules:
            if config.em_without_term_frequencies:
                # The iterations run over agreement-pattern counts: in-process, not as one
                # Spark job each (see scv.linkage.em_estimation).
                estimate_m_with_em_in_process(linker, rule, max_pairs=config.em_max_pairs)
            else:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=False, max_pairs=config.em_max_pairs
                )
        timings["em"] = time.monotonic() - step

        model = linker.misc.save_model_to_json()
        charts = {
            "match_weights": linker.visualisations.match_weights_chart(),
            "m_u_parameters": linker.visualisations.m_u_parameters_chart(),
        }
        # Model files are compared across versions; Splink's random per-linker uid is noise,
        # and so are the last bits of the estimates, which vary with Spark's summation order.
        model.pop("linker_uid", None)
        model = _round_floats(model)

        metadata = {
            "trained_records": n_records,
            "splink_version": splink.__version__,
            "seed": config.seed,
            "training_blocking_rules": list(config.training_blocking_rules),
            "deterministic_rules": list(config.deterministic_rules),
            "deterministic_rules_recall": config.deterministic_rules_recall,
            "u_max_pairs": config.u_max_pairs,
            "em_max_pairs": config.em_max_pairs,
            "seconds": {k: round(v, 3) for k, v in timings.items()},
        }
        trained = _write_version(Path(model_dir), model, charts, metadata)
    logger.info(
        "trained linkage model %s on %s records in %.1fs",
        trained.version,
        n_records,
        time.monotonic() - started,
    )
    return trained


def _round_floats(value: Any) -> Any:
    """``value`` with every float rounded to 12 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {key: _round_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_round_floats(item) for item in value]
    return value


def _write_version(
    model_dir: Path, model: dict[str, Any], charts: dict[str, Any], metadata: dict[str, Any]
) -> TrainedModel:
    model_text = json.dumps(model, indent=2, sort_keys=True)
    digest = hashlib.sha256(model_text.encode("utf-8")).hexdigest()
    created = datetime.now(timezone.utc)
    version = f"{created:%Y%m%dT%H%M%S%fZ}-{digest[:12]}"
    metadata = {
        "version": version,
        "created_at": created.isoformat(),
        "model_sha256": digest,
        **metadata,
    }

    model_dir.mkdir(parents=True, exist_ok=True)
    staging = model_dir / f".{version}.partial"
    final = model_dir / version
    staging.mkdir()
    try:
        (staging / MODEL_FILE).write_text(model_text, encoding="utf-8")
        for name, chart in charts.items():
            # inline=True bundles the chart libraries, so the files open without internet.
            chart.save(str(staging / CHART_FILES[name]), inline=True)
        (staging / "training.json").write_text(
            json.dumps(metadata, indent=2, sort_keys=True), encoding="utf-8"
        )
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return TrainedModel(
        version=version,
        directory=final,
        settings=model,
        charts={name: final / file for name, file in CHART_FILES.items()},
        metadata=metadata,
    )


def latest_model(model_dir: str | Path) -> TrainedModel:
    """The newest complete model version under ``model_dir``; fails if there is none."""
    root = Path(model_dir)
    # Staging directories start with "." and have no model file until renamed into place.
    versions = sorted(
        p for p in (root.iterdir() if root.is_dir() else []) if (p / MODEL_FILE).is_file()
        and not p.name.startswith(".")
    )
    if not versions:
        raise FileNotFoundError(f"no trained linkage model under {root}")
    return load_trained_model(versions[-1])


def load_trained_model(version_dir: str | Path) -> TrainedModel:
    """The model version stored in ``version_dir`` (as written by :func:`train_model`)."""
    directory = Path(version_dir)
    settings = load_model(directory / MODEL_FILE)
    metadata_path = directory / "training.json"
    metadata = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
    charts = {name: directory / f for name, f in CHART_FILES.items() if (directory / f).is_file()}
    return TrainedModel(
        version=directory.name,
        directory=directory,
        settings=settings,
        charts=charts,
        metadata=metadata,
    )
