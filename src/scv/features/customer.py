"""Customer features from ``silver/events`` and ``gold/customer_xref`` (Spark, pure functions).

Guarantees, for every as-of date ``D``:

* one row per ``customer_id`` of the xref, customers without events included (counts, spend and
  shares 0; recency and last purchase dates null, meaning "never purchased");
* only events with ``event_time < D 00:00`` (session time zone, UTC in scv) count, so the
  features of a past date do not change when later events arrive (point-in-time correct);
* a window of ``w`` days is the calendar days ``D - w`` to ``D - 1``; recency is
  ``D - last purchase day`` (1 for a purchase yesterday);
* a purchase is an event of type ``purchase`` with a non-negative amount; refunds (negative
  amounts) are not purchases but do reduce spend (spend is net);
* events whose ``person_record_id`` is not in the xref (walk-ins, anonymous sessions) are
  ignored; product categories are compared lower-cased and trimmed;
* results are deterministic: spend is summed as decimal(cents), so reruns give equal values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from scv.features.spec import FeatureSpec, GroupLike, feature_columns

EVENT_TYPES = ("purchase", "page_view", "add_to_cart")
_MONEY = "decimal(18,2)"


def customer_events(events: DataFrame, xref: DataFrame) -> DataFrame:
    """Events of known customers: customer_id, event_time, event_date, event_type, channel,
    category (lower-cased), amount (decimal), is_purchase (non-refund purchase)."""
    links = xref.select(F.col("record_id").alias("person_record_id"), "customer_id")
    return (
        events.where(F.col("event_type").isin(*EVENT_TYPES) & F.col("event_time").isNotNull())
        .join(links, "person_record_id", "inner")
        .select(
            "customer_id",
            "event_time",
            F.to_date("event_time").alias("event_date"),
            "event_type",
            F.lower(F.trim("channel")).alias("channel"),
            F.lower(F.trim("product_category")).alias("category"),
            F.col("amount").cast(_MONEY).alias("amount"),
        )
        .withColumn(
            "is_purchase",
            (F.col("event_type") == "purchase") & (F.coalesce(F.col("amount"), F.lit(0).cast(_MONEY)) >= 0),
        )
    )


def as_of_frame(spark, as_of_dates: Iterable[dt.date]) -> DataFrame:
    dates = sorted(set(as_of_dates))
    if not dates:
        raise ValueError("at least one as-of date is needed")
    return spark.createDataFrame([(d,) for d in dates], "as_of_date date")


def _count_if(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("long")


def _sum_if(condition: Column, value: Column) -> Column:
    return F.sum(F.when(condition, value))


def _aggregates(spec: FeatureSpec, prefix: str, scope: Column, overall: bool) -> list[Column]:
    """The aggregate columns of one scope (every event, or one product group's categories)."""
    age = F.col("age_days")
    purchase = scope & F.col("is_purchase")
    spent = scope & (F.col("event_type") == "purchase")
    cols: list[Column] = []
    for w in spec.windows_days:
        cols.append(_count_if(purchase & (age <= w)).alias(f"{prefix}purchases_{w}d"))
    for w in spec.windows_days:
        cols.append(_sum_if(spent & (age <= w), F.col("amount")).alias(f"{prefix}spend_{w}d"))
    cols.append(F.max(F.when(purchase, F.col("event_date"))).alias(f"{prefix}last_purchase_date"))
    if overall:
        m = spec.mix_window_days
        cols.append(_count_if(purchase & (age <= m) & (F.col("channel") == "store")).alias("_store_purchases"))
        cols.append(_count_if(purchase & (age <= m) & (F.col("channel") == "web")).alias("_web_purchases"))
    e = spec.engagement_window_days
    cols.append(_count_if(scope & (F.col("event_type") == "page_view") & (age <= e)).alias(f"{prefix}page_views_{e}d"))
    cols.append(_count_if(scope & (F.col("event_type") == "add_to_cart") & (age <= e)).alias(f"{prefix}add_to_cart_{e}d"))
    return cols


def customer_features_at(
    events: DataFrame,
    xref: DataFrame,
    as_of_dates: Iterable[dt.date],
    groups: Sequence[GroupLike],
    spec: FeatureSpec | None = None,
) -> DataFrame:
    """Features of every customer as of each date in ``as_of_dates`` (one pass over events).

    One row per ``(customer_id, as_of_date)``; columns ``customer_id``, ``as_of_date`` then
    :func:`scv.features.spec.feature_columns` in order. See the module docstring for semantics.
    """
    spec = spec or FeatureSpec()
    columns = feature_columns(groups, spec)
    spark = events.sparkSession
    dates = F.broadcast(as_of_frame(spark, as_of_dates))
    # The as-of dates are few: a broadcast nested-loop join keeps each event once per date it
    # precedes, which is what point-in-time aggregation needs.
    per_date = (
        customer_events(events, xref)
        .join(dates, F.col("event_time") < F.col("as_of_date").cast("timestamp"))
        .withColumn("age_days", F.datediff(F.col("as_of_date"), F.col("event_date")))
    )
    aggregates = _aggregates(spec, "", F.lit(True), overall=True)
    for group in groups:
        in_group = F.col("category").isin(*[c.lower() for c in group.categories])
        aggregates += _aggregates(spec, f"{group.name}_", in_group, overall=False)
    agg = per_date.groupBy("customer_id", "as_of_date").agg(*aggregates)

    customers = xref.select("customer_id").where(F.col("customer_id").isNotNull()).distinct()
    out = customers.crossJoin(dates).join(agg, ["customer_id", "as_of_date"], "left")
    m = spec.mix_window_days
    purchases_m = F.coalesce(F.col(f"purchases_{m}d"), F.lit(0))
    projected: dict[str, Column] = {}
    for name in columns:
        if name.endswith("last_purchase_date"):
            projected[name] = F.col(name)
        elif name.endswith("days_since_last_purchase"):
            projected[name] = F.datediff(F.col("as_of_date"), F.col(name.replace("days_since_last_purchase", "last_purchase_date")))
        elif name == f"store_share_{m}d" or name == f"web_share_{m}d":
            part = F.coalesce(F.col("_store_purchases" if name.startswith("store") else "_web_purchases"), F.lit(0))
            projected[name] = F.when(purchases_m > 0, part / purchases_m).otherwise(F.lit(0.0)).cast("double")
        elif "_spend_" in name or name.startswith("spend_"):
            projected[name] = F.coalesce(F.col(name), F.lit(0).cast(_MONEY)).cast("double")
        else:
            projected[name] = F.coalesce(F.col(name), F.lit(0)).cast("long")
    return out.select("customer_id", "as_of_date", *[col.alias(name) for name, col in projected.items()])


def customer_features(
    events: DataFrame,
    xref: DataFrame,
    as_of: dt.date,
    groups: Sequence[GroupLike],
    spec: FeatureSpec | None = None,
) -> DataFrame:
    """Features of every customer as of ``as_of``: one row per customer_id (see module docs)."""
    return customer_features_at(events, xref, [as_of], groups, spec)
