"""Map each source's bronze rows onto the canonical shapes, using its contract's expressions.

Person sources become canonical person records (docs/data-contracts.md), event sources become
canonical events. Only the latest delivered version of each primary key is kept (by the source's
``updated_at``, then logical date, file and line), so a record re-delivered with changes replaces
its earlier version. Expressions reading a column that a source never delivered (an optional
column absent from every file so far) evaluate against NULL rather than failing.

``delivered_on`` restricts a source to the keys with a bronze row of that logical date (an
incremental run); the version kept for each of them is still the latest among all of bronze, so
a backfilled earlier date cannot bring back an older version. ``person_record_ids`` and
``event_keys`` list every key present in bronze (to find the silver rows whose bronze rows were
deleted).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException
from pyspark.sql.window import Window

from scv.config import Settings
from scv.contracts import PERSON_FIELDS, ContractError, SourceContract
from scv.ingest.bronze import bronze_path

EVENT_COLUMNS = (
    "source_system",
    "event_id",
    "person_record_id",
    "event_time",
    "event_type",
    "channel",
    "product_category",
    "amount",
    "quantity",
)


def _with_missing_columns(df: DataFrame, contract: SourceContract) -> DataFrame:
    for column in sorted(contract.referenced_columns() - set(df.columns)):
        df = df.withColumn(column, F.lit(None).cast("string"))
    return df


def _expr(expression: str, contract: SourceContract, key: str) -> F.Column:
    try:
        return F.expr(expression)
    except Exception as error:  # parse errors surface here, analysis errors on use
        raise ContractError(contract.file, key, str(error).splitlines()[0]) from None


def _checked(df: DataFrame, contract: SourceContract, columns: dict[str, F.Column]) -> DataFrame:
    try:
        return df.select(*[column.alias(name) for name, column in columns.items()])
    except AnalysisException as error:
        raise ContractError(contract.file, "columns", f"does not resolve against bronze: {str(error).splitlines()[0]}") from None


def read_bronze(spark: SparkSession, settings: Settings, contract: SourceContract) -> DataFrame:
    return spark.read.format("delta").load(bronze_path(settings, contract.name))


def _latest_per_key(df: DataFrame, key: F.Column, updated: F.Column | None) -> DataFrame:
    order = [c for c in (updated.desc_nulls_last() if updated is not None else None,) if c is not None]
    order += [F.col("_logical_date").desc(), F.col("_source_file").desc(), F.col("_line_number").desc()]
    window = Window.partitionBy(key).orderBy(*order)
    return df.withColumn("_version_rank", F.row_number().over(window)).where("_version_rank = 1").drop("_version_rank")


def _keyed_bronze(spark: SparkSession, settings: Settings, contract: SourceContract) -> DataFrame:
    """Bronze rows of a source with their primary key as ``_key``; rows without a key are left
    out (person sources also leave out blank keys)."""
    bronze = _with_missing_columns(read_bronze(spark, settings, contract), contract)
    key = _expr(f"cast(({contract.primary_key}) as string)", contract, "primary_key")
    present = F.col("_key").isNotNull()
    if contract.kind == "person":
        present = present & (F.trim("_key") != "")
    return bronze.withColumn("_key", key).where(present)


def _versions_of_keys_delivered_on(bronze: DataFrame, delivered_on: dt.date | None) -> DataFrame:
    """Every version (all logical dates) of the keys with a row of logical date ``delivered_on``;
    all of ``bronze`` when ``delivered_on`` is None."""
    if delivered_on is None:
        return bronze
    delivered = bronze.where(F.col("_logical_date") == F.lit(delivered_on)).select("_key").distinct()
    return bronze.join(delivered, "_key", "left_semi")


def person_record_ids(spark: SparkSession, settings: Settings, contract: SourceContract) -> DataFrame:
    """``record_id`` of every record of one person source that has a row in bronze."""
    return _keyed_bronze(spark, settings, contract).select(F.concat(F.lit(f"{contract.name}:"), F.col("_key")).alias("record_id"))


def event_keys(spark: SparkSession, settings: Settings, contract: SourceContract) -> DataFrame:
    """``(source_system, event_id)`` of every event of one event source that has a row in bronze."""
    return _keyed_bronze(spark, settings, contract).select(F.lit(contract.name).alias("source_system"), F.col("_key").alias("event_id"))


def person_records(
    spark: SparkSession, settings: Settings, contract: SourceContract, *, delivered_on: dt.date | None = None
) -> DataFrame:
    """Canonical person records of one person source (latest version of each record); with
    ``delivered_on``, only the records delivered on that logical date."""
    bronze = _versions_of_keys_delivered_on(_keyed_bronze(spark, settings, contract), delivered_on)
    updated = _expr(f"cast(({contract.updated_at}) as timestamp)", contract, "updated_at") if contract.updated_at else None
    bronze = bronze.withColumn("_updated", updated if updated is not None else F.lit(None).cast("timestamp"))
    latest = _latest_per_key(bronze, F.col("_key"), F.col("_updated"))
    columns: dict[str, F.Column] = {
        "record_id": F.concat(F.lit(f"{contract.name}:"), F.col("_key")),
        "source_system": F.lit(contract.name),
        "source_record_id": F.col("_key"),
    }
    for field in PERSON_FIELDS:
        expression = contract.mapped_columns.get(field)
        if expression is None:
            columns[field] = F.lit(None).cast("boolean" if field == "email_opt_in" else "string")
        elif field == "email_opt_in":
            columns[field] = _expr(f"cast(({expression}) as boolean)", contract, f"columns.{field}")
        else:
            columns[field] = _expr(f"cast(({expression}) as string)", contract, f"columns.{field}")
    columns["updated_at"] = F.col("_updated")
    columns["precedence"] = F.lit(contract.precedence).cast("int")
    columns["default_country"] = F.lit(contract.default_country).cast("string")
    return _checked(latest, contract, columns)


def events(
    spark: SparkSession, settings: Settings, contract: SourceContract, *, delivered_on: dt.date | None = None
) -> DataFrame:
    """Canonical events of one event source, each pointing at a person source's record id; with
    ``delivered_on``, only the events delivered on that logical date."""
    bronze = _versions_of_keys_delivered_on(_keyed_bronze(spark, settings, contract), delivered_on)
    latest = _latest_per_key(bronze, F.col("_key"), None)
    ref = _expr(f"cast(({contract.person_ref.key}) as string)", contract, "person_ref.key")
    columns: dict[str, F.Column] = {
        "source_system": F.lit(contract.name),
        "event_id": F.col("_key"),
        "person_record_id": F.when(ref.isNotNull(), F.concat(F.lit(f"{contract.person_ref.source}:"), ref)),
        "event_time": _expr(f"cast(({contract.event_time}) as timestamp)", contract, "event_time"),
    }
    for name in ("event_type", "channel", "product_category"):
        expression = contract.attributes.get(name)
        columns[name] = _expr(f"cast(({expression}) as string)", contract, f"attributes.{name}") if expression else F.lit(None).cast("string")
    columns["amount"] = (
        _expr(f"cast(({contract.measures['amount']}) as double)", contract, "measures.amount")
        if "amount" in contract.measures else F.lit(None).cast("double")
    )
    columns["quantity"] = (
        _expr(f"cast(({contract.measures['quantity']}) as int)", contract, "measures.quantity")
        if "quantity" in contract.measures else F.lit(None).cast("int")
    )
    return _checked(latest, contract, columns)
