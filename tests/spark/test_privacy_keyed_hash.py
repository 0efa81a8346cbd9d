"""The Spark keyed hash equals the Python one and keeps the key out of the query plan."""

from __future__ import annotations

from pyspark.sql import functions as F

from scv.privacy.keyed_hash import keyed_hash, keyed_hash_column

KEY = b"spark-test-secret-key-0123456789"


def test_spark_digest_equals_python_digest_and_plan_has_no_key(spark):
    values = ["ada@example.org", "+447700900123", "Zoë O'Brien", "", None]
    frame = spark.createDataFrame([(v,) for v in values], "value string")
    hashed = frame.select("value", keyed_hash_column(F.col("value"), KEY).alias("digest"))
    got = {r.value: r.digest for r in hashed.collect()}
    assert got == {v: keyed_hash(v, KEY) for v in values}
    plan = hashed._jdf.queryExecution().toString()
    assert "hmac_sha256" in plan
    assert KEY.decode() not in plan and KEY.hex() not in plan.lower()
