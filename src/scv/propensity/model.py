"""The Spark MLlib pipeline trained per product group.

``prepare -> VectorAssembler -> [StandardScaler] -> classifier``. The ``prepare`` stage is a
``SQLTransformer`` that turns raw feature columns into model inputs (log counts and spend, capped
log recency with "never purchased" as the cap, shares as they are), so the fitted
``PipelineModel`` scores ``gold/customer_features`` rows directly: the same transformation runs
at training and at scoring. The pipeline adds only ``__``-prefixed columns and ``probability``,
``rawPrediction``, ``prediction``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.feature import SQLTransformer, StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from scv.features.spec import AMOUNT, COUNT, RECENCY, SHARE, feature_kind
from scv.propensity.config import ModelSpec
from scv.propensity.dataset import LABEL

# "Never purchased" sits just beyond two years: further than any feature window looks back.
RECENCY_CAP_DAYS = 730
PROBABILITY = "probability"


def _input_expression(column: str) -> str:
    kind = feature_kind(column)
    value = f"CAST(`{column}` AS DOUBLE)"
    if kind in (COUNT, AMOUNT):
        # Counts and spend are heavy-tailed; refunds can make spend negative.
        return f"LOG1P(GREATEST(COALESCE({value}, 0D), 0D))"
    if kind == RECENCY:
        return f"LOG1P(LEAST(COALESCE({value}, {RECENCY_CAP_DAYS}D), {RECENCY_CAP_DAYS}D))"
    if kind == SHARE:
        return f"COALESCE({value}, 0D)"
    raise ValueError(f"{column!r} is not a numeric feature column (kind {kind!r})")


def prepare_statement(columns: Sequence[str]) -> str:
    """The SQLTransformer statement deriving ``__x_<column>`` model inputs."""
    derived = ", ".join(f"{_input_expression(c)} AS `__x_{c}`" for c in columns)
    return f"SELECT *, {derived} FROM __THIS__"


def build_pipeline(columns: Sequence[str], spec: ModelSpec) -> Pipeline:
    """An unfitted pipeline over the raw feature ``columns``, labels in ``label``."""
    if not columns:
        raise ValueError("a model needs at least one feature column")
    stages = [
        SQLTransformer(statement=prepare_statement(columns)),
        VectorAssembler(inputCols=[f"__x_{c}" for c in columns], outputCol="__features", handleInvalid="error"),
    ]
    if spec.algorithm == "logistic_regression":
        stages.append(StandardScaler(inputCol="__features", outputCol="__scaled", withMean=True, withStd=True))
        stages.append(
            LogisticRegression(
                featuresCol="__scaled",
                labelCol=LABEL,
                probabilityCol=PROBABILITY,
                regParam=spec.reg_param,
                elasticNetParam=spec.elastic_net_param,
                maxIter=spec.max_iter,
                # Inputs are already standardised by the scaler stage.
                standardization=False,
            )
        )
    elif spec.algorithm == "gbt":
        stages.append(
            GBTClassifier(
                featuresCol="__features",
                labelCol=LABEL,
                probabilityCol=PROBABILITY,
                maxDepth=spec.max_depth,
                maxIter=spec.max_iter,
                seed=spec.seed,
            )
        )
    else:
        raise ValueError(f"unknown algorithm {spec.algorithm!r}")
    return Pipeline(stages=stages)


def score(model: PipelineModel, frame: DataFrame, score_col: str = "score") -> DataFrame:
    """``frame``'s columns plus ``score_col`` = P(label = 1); the pipeline's own columns dropped."""
    scored = model.transform(frame).withColumn(score_col, vector_to_array(F.col(PROBABILITY)).getItem(1))
    return scored.select(*frame.columns, score_col)
