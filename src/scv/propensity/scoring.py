"""Score customers with a group's ``champion`` model.

:func:`load_champion` resolves ``models:/<prefix><group>@champion`` to a version number and loads
that version (so a promotion mid-run cannot switch models); :func:`score_features` scores every
row of a ``gold/customer_features`` snapshot with it. A group
without a champion raises :class:`~scv.propensity.registry.MissingChampionError`; a champion
that needs feature columns the table no longer has raises
:class:`~scv.propensity.registry.ModelIncompatibleError`. Both name the group and the fix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from scv.config import Settings
from scv.propensity import registry
from scv.propensity.config import PropensityConfig
from scv.propensity.model import score

SCORE_COLUMNS = ("customer_id", "product_group", "score", "model_name", "model_version", "as_of_date", "scored_at")


@dataclass(frozen=True)
class Champion:
    group: str
    version: registry.RegisteredVersion
    model: object  # pyspark.ml.PipelineModel


def load_champion(config: PropensityConfig, group: str, settings: Settings) -> Champion:
    """The champion of ``group`` and its fitted Spark pipeline (MissingChampionError if none)."""
    config.group(group)
    with registry.mlflow_tracking(settings) as client:
        version = registry.require_champion(client, config.model_name(group), group)
        model = registry.load_spark_model(version, settings)
    return Champion(group=group, version=version, model=model)


def score_features(features: DataFrame, champion: Champion, scored_at: dt.datetime) -> DataFrame:
    """One row per row of ``features``: :data:`SCORE_COLUMNS`, ``score`` = P(buys in horizon)."""
    try:
        scored = score(champion.model, features)
    except AnalysisException as error:
        raise registry.ModelIncompatibleError(
            f"champion {champion.version.name} v{champion.version.version} of product group {champion.group!r} cannot "
            f"score gold/customer_features: {str(error).splitlines()[0][:300]}. Retrain the group "
            f"(scv_propensity_retrain) so that a model matching the current feature columns becomes champion."
        ) from None
    return scored.select(
        "customer_id",
        F.lit(champion.group).alias("product_group"),
        F.col("score").cast("double").alias("score"),
        F.lit(champion.version.name).alias("model_name"),
        F.lit(champion.version.version).alias("model_version"),
        "as_of_date",
        F.lit(scored_at).cast("timestamp").alias("scored_at"),
    )
