"""Customer features from events, point-in-time correct (one row per customer and as-of date).

    from scv.features import customer_features, FeatureSpec
    features = customer_features(events, xref, as_of=date(2026, 11, 22), groups=config.groups)

Only events strictly before the as-of date (00:00 UTC) count, so features as of a past date can
be recomputed at any later time without leaking what happened after it. Column names and kinds
live in :mod:`scv.features.spec` (pure Python); the Spark functions are loaded on first use so
that importing this package at DAG-parse time needs no Spark.
"""

from __future__ import annotations

from scv.features.spec import FeatureSpec, feature_columns, feature_kind, model_input_columns

__all__ = [
    "FeatureSpec",
    "customer_events",
    "customer_features",
    "customer_features_at",
    "feature_columns",
    "feature_kind",
    "model_input_columns",
]

_SPARK_NAMES = {"customer_events", "customer_features", "customer_features_at"}


def __getattr__(name: str):
    if name in _SPARK_NAMES:
        from scv.features import customer

        return getattr(customer, name)
    raise AttributeError(f"module 'scv.features' has no attribute {name!r}")
