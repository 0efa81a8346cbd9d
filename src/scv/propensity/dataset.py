"""Point-in-time training sets: features as of a cutoff, label = a purchase in the horizon after it.

For a run as of date ``A`` and a group with horizon ``h`` days:

* the hold-out cutoff is ``A - h``: its labels cover ``[A - h, A)``, the latest complete horizon;
* training cutoffs are ``A - 2h - k * step`` (``k = 0 .. n-1``): every training label window
  ends on or before the hold-out cutoff, so the hold-out is strictly later than training
  (a time-based split) and no label is shared between them;
* features at a cutoff ``c`` are recomputed from events strictly before ``c`` by the same
  function that writes ``gold/customer_features`` (no leakage, no train/serve skew);
* the label is 1 when the customer made a purchase (not a refund) in one of the group's
  categories with ``c <= event_time < c + h``, else 0; every customer of the xref appears once
  per cutoff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from scv.features import FeatureSpec, customer_features_at, model_input_columns
from scv.features.customer import as_of_frame, customer_events
from scv.propensity.config import ProductGroup, PropensityConfig

LABEL = "label"


class InsufficientLabelsError(ValueError):
    """Too few positive labels to train or to evaluate a group's model honestly."""


@dataclass(frozen=True)
class Cutoffs:
    holdout: dt.date
    train: tuple[dt.date, ...]

    @property
    def all(self) -> tuple[dt.date, ...]:
        return (*self.train, self.holdout)


def plan_cutoffs(as_of: dt.date, horizon_days: int, train_cutoffs: int, step_days: int) -> Cutoffs:
    """The hold-out and training cutoffs of a run as of ``as_of`` (see the module docstring)."""
    if horizon_days < 1 or train_cutoffs < 1 or step_days < 1:
        raise ValueError("horizon, number of training cutoffs and step must be positive")
    holdout = as_of - dt.timedelta(days=horizon_days)
    first = holdout - dt.timedelta(days=horizon_days)
    train = tuple(sorted(first - dt.timedelta(days=k * step_days) for k in range(train_cutoffs)))
    return Cutoffs(holdout=holdout, train=train)


def purchase_labels(
    events: DataFrame, xref: DataFrame, cutoffs: Sequence[dt.date], categories: Sequence[str], horizon_days: int
) -> DataFrame:
    """customer_id, as_of_date (the cutoff), label (1.0 bought from ``categories`` within the
    horizon after the cutoff, else 0.0): one row per customer and cutoff."""
    spark = events.sparkSession
    dates = F.broadcast(as_of_frame(spark, cutoffs))
    start = F.col("as_of_date").cast("timestamp")
    bought = (
        customer_events(events, xref)
        .where(F.col("is_purchase") & F.col("category").isin(*[c.lower() for c in categories]))
        .join(dates, (F.col("event_time") >= start) & (F.col("event_time") < start + F.make_interval(days=F.lit(horizon_days))))
        .select("customer_id", "as_of_date")
        .distinct()
        .withColumn(LABEL, F.lit(1.0))
    )
    customers = xref.select("customer_id").where(F.col("customer_id").isNotNull()).distinct()
    return (
        customers.crossJoin(dates)
        .join(bought, ["customer_id", "as_of_date"], "left")
        .select("customer_id", "as_of_date", F.coalesce(F.col(LABEL), F.lit(0.0)).alias(LABEL))
    )


@dataclass
class TrainingData:
    """A group's labelled snapshots (persisted), split in time into ``train`` and ``holdout``."""

    group: ProductGroup
    cutoffs: Cutoffs
    snapshots: DataFrame
    train: DataFrame
    holdout: DataFrame
    feature_columns: tuple[str, ...]
    counts: dict[str, int]

    def unpersist(self) -> None:
        self.snapshots.unpersist()


def labelled_snapshots(
    events: DataFrame,
    xref: DataFrame,
    cutoffs: Sequence[dt.date],
    group: ProductGroup,
    groups: Sequence[ProductGroup],
    spec: FeatureSpec,
) -> DataFrame:
    """Features of every customer at every cutoff (all groups' columns) with ``group``'s label."""
    features = customer_features_at(events, xref, cutoffs, groups, spec)
    labels = purchase_labels(events, xref, cutoffs, group.categories, group.horizon_days)
    return features.join(labels, ["customer_id", "as_of_date"], "inner")


def build_training_data(
    events: DataFrame, xref: DataFrame, as_of: dt.date, group_name: str, config: PropensityConfig
) -> TrainingData:
    """Training and hold-out sets of ``group_name`` for a run as of ``as_of``.

    Raises :class:`InsufficientLabelsError` when either side has fewer positives than
    ``training.min_positives`` (a typo in a group's categories shows up here, not as a silently
    useless model).
    """
    group = config.group(group_name)
    training = config.training
    cutoffs = plan_cutoffs(as_of, group.horizon_days, training.train_cutoffs, training.cutoff_step_days)
    # Computed once, then split: both sides share one pass over the events.
    snapshots = labelled_snapshots(events, xref, cutoffs.all, group, config.groups, config.features).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    is_holdout = F.col("as_of_date") == F.lit(cutoffs.holdout)
    stats = {f"{side}_{k}": 0 for side in ("train", "holdout") for k in ("rows", "positives")}
    for row in snapshots.groupBy(is_holdout.alias("h")).agg(F.count("*").alias("rows"), F.sum(LABEL).alias("positives")).collect():
        side = "holdout" if row["h"] else "train"
        stats[f"{side}_rows"], stats[f"{side}_positives"] = int(row["rows"]), int(row["positives"] or 0)
    for side in ("train", "holdout"):
        if stats[f"{side}_positives"] < training.min_positives:
            snapshots.unpersist()
            dates = cutoffs.train if side == "train" else (cutoffs.holdout,)
            raise InsufficientLabelsError(
                f"product group {group.name!r} (categories {', '.join(group.categories)}): {stats[f'{side}_positives']} "
                f"positive labels in the {side} set ({stats[f'{side}_rows']} rows, cutoffs "
                f"{', '.join(str(c) for c in dates)}); at least {training.min_positives} are needed. "
                f"Check the group's categories against silver/events."
            )
    return TrainingData(
        group=group,
        cutoffs=cutoffs,
        snapshots=snapshots,
        train=snapshots.where(~is_holdout),
        holdout=snapshots.where(is_holdout),
        feature_columns=tuple(model_input_columns(snapshots.columns)),
        counts=stats,
    )
