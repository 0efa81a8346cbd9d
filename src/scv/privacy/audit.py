"""The erasure audit trail: append-only, keyed hashes and counts only, never raw identifiers.

``privacy/erasure_audit`` gets one ``received`` row when a request starts and one ``completed``
(or ``failed``) row when its verification ends. A request is *open* while it has a ``received``
row and no ``completed`` row; :func:`open_requests` lists those older than a number of days, for
the alert (GDPR: one month). Rows are only ever appended (``delta.appendOnly``), so Delta itself
refuses updates and deletes of the trail.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from scv import delta_io
from scv.config import Settings

AUDIT_TABLE = ("privacy", "erasure_audit")
SCHEMA = T.StructType(
    [
        T.StructField("request_reference", T.StringType(), False),
        T.StructField("subject_hash", T.StringType(), False),
        T.StructField("event", T.StringType(), False),  # received | completed | failed
        T.StructField("received_at", T.TimestampType(), False),
        T.StructField("completed_at", T.TimestampType(), True),
        T.StructField("tables_touched", T.ArrayType(T.StringType()), True),
        T.StructField("rows_deleted", T.MapType(T.StringType(), T.LongType()), True),
        T.StructField("landing_lines_removed", T.LongType(), True),
        T.StructField("artefacts_removed", T.LongType(), True),
        T.StructField("files_scanned", T.LongType(), True),
        T.StructField("findings", T.LongType(), True),
        T.StructField("verification", T.StringType(), True),  # passed | failed
        T.StructField("dag_run_id", T.StringType(), True),
        T.StructField("recorded_at", T.TimestampType(), False),
    ]
)
PROPERTIES = {
    **delta_io.stats_columns_property(["request_reference", "event", "received_at", "recorded_at"]),
    "delta.appendOnly": "true",
}


def audit_path(settings: Settings) -> str:
    return settings.table_path(*AUDIT_TABLE)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def record(spark: SparkSession, settings: Settings, **values) -> None:
    """Append one audit row (missing optional fields are null)."""
    row = {f.name: values.get(f.name) for f in SCHEMA.fields}
    row["recorded_at"] = _now()
    frame = spark.createDataFrame([tuple(row[f.name] for f in SCHEMA.fields)], SCHEMA)
    path = audit_path(settings)
    delta_io.ensure_table(spark, path, SCHEMA, properties=PROPERTIES)
    frame.write.format("delta").mode("append").save(path)


def received_at(spark: SparkSession, settings: Settings, request_reference: str) -> dt.datetime | None:
    """When the request was first received (None if never)."""
    path = audit_path(settings)
    if not delta_io.table_exists(spark, path):
        return None
    return (
        spark.read.format("delta").load(path)
        .where((F.col("request_reference") == request_reference) & (F.col("event") == "received"))
        .agg(F.min("received_at")).first()[0]
    )


def open_requests(spark: SparkSession, settings: Settings, older_than_days: int, now: dt.datetime | None = None) -> list[dict]:
    """Requests received more than ``older_than_days`` ago without a ``completed`` row."""
    path = audit_path(settings)
    if not delta_io.table_exists(spark, path):
        return []
    now = now or _now()
    trail = spark.read.format("delta").load(path)
    received = trail.where("event = 'received'").groupBy("request_reference").agg(F.min("received_at").alias("received_at"))
    completed = trail.where("event = 'completed'").select("request_reference").distinct()
    late = received.join(completed, "request_reference", "left_anti").where(
        F.col("received_at") < F.lit(now - dt.timedelta(days=older_than_days))
    )
    return [
        {"request_reference": r.request_reference, "received_at": r.received_at.isoformat(), "days_open": (now - r.received_at).days}
        for r in late.orderBy("received_at").collect()
    ]
