"""Building Spark sessions with Delta and Splink's similarity functions on the classpath.

The jars come from a project-local cache filled at set-up (``make jars``); nothing is downloaded
here. Callers build a session once and pass it to the functions that need it. Object-store roots
(``s3a://``, ``abfss://``) get their connector jars and Hadoop settings from ``scv.storage``.
"""

from __future__ import annotations

import glob
import os
import sys

from pyspark.sql import SparkSession

from scv import storage
from scv.config import Settings


class MissingJarsError(RuntimeError):
    pass


def required_jars(settings: Settings) -> list[str]:
    """Delta's jars from the local cache plus Splink's similarity UDF jar from its wheel."""
    from splink.backends.spark import similarity_jar_location

    delta_jars = sorted(glob.glob(os.path.join(settings.jars_dir, "delta-*.jar")))
    if not any(os.path.basename(j).startswith("delta-spark_") for j in delta_jars):
        raise MissingJarsError(
            f"Delta jars not found in {settings.jars_dir}: run `make jars` (mvn copies them from "
            "Maven Central using build/jars/pom.xml)"
        )
    return delta_jars + [similarity_jar_location()]


def build_spark_session(settings: Settings, app_name: str = "scv", **conf: str) -> SparkSession:
    """A Spark session with Delta enabled, tuned for the configured master.

    ``getOrCreate`` semantics: a session already running in this process is reused (its static
    configuration cannot change), so tests and in-process DAG runs share one JVM.
    """
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        # On a Databricks cluster the session exists, with Delta built in and storage access
        # from the cluster (instance profile / Unity Catalog): use it as it is.
        spark = SparkSession.builder.appName(app_name).getOrCreate()
        storage.apply_hadoop_conf(spark, settings)
        return spark
    jars = required_jars(settings)
    connectors = storage.connector_jars(settings)  # fails early if the roots need missing jars
    local = settings.spark_master.startswith("local")
    if not local:
        jars += connectors  # executors fetch spark.jars
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName(app_name)
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.databricks.delta.schema.autoMerge.enabled", "false")
        .config("spark.databricks.delta.snapshotPartitions", str(max(1, settings.shuffle_partitions)))
        .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", "2")
        .config("spark.sql.warehouse.dir", os.path.join(settings.artifacts_dir, "spark-warehouse"))
    )
    if local:
        # Connector jars (hadoop-aws with its ~700 MB AWS SDK bundle, hadoop-azure) go on the
        # driver's own classpath: in local mode executors share it, and spark.jars would copy
        # them for every session. All present ones, so one in-process session serves any root.
        # Only effective when this call starts the JVM (under spark-submit, --jars applies).
        present = storage.connector_jars(settings, required_only=False)
        if present:
            builder = builder.config("spark.driver.extraClassPath", os.pathsep.join(present))
        # Python UDF workers must run this interpreter (the project venv), not whatever
        # `python3` is first on PATH, or they cannot import scv and its dependencies.
        # PySpark reads PYSPARK_PYTHON when it creates the context, so set it for this process.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
    for key, value in {**settings.extra_spark_conf, **conf}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # Object-store settings go on the running context, not the builder: a reused session gets
    # them too, and credentials never appear on the JVM's command line (`--conf` of the gateway).
    storage.apply_hadoop_conf(spark, settings)
    return spark


def release_finished_query_jobs(spark: SparkSession) -> int:
    """Let the driver forget jobs of SQL executions that have ended; returns how many executions
    it had kept.

    Spark 4.2's scheduler files every job under the SQL execution that submitted it
    (``DAGScheduler.activeQueryToJobs``, used to roll back a query's stages when shuffle output is
    lost) and drops the entry when that execution ends. Some entries are never dropped: after
    the small benchmark test, 91 ended executions were still there, their jobs holding the whole
    physical plans alive with the broadcast hash tables of their joins (at least one 32 MB page
    each on a local driver; 1.3 GB in all). A heap dump shows the chain (``activeQueryToJobs`` ->
    ``ActiveJob`` -> stage -> RDD -> plan -> ``TorrentBroadcast`` -> ``UnsafeHashedRelation``);
    which of Spark's paths submits a job under an execution id after its cleanup was not traced.
    Over a long-lived driver (an in-process DAG run, the test suite) they fill the heap. Entries
    of executions still running are left alone.
    """
    jvm = spark.sparkContext._jvm
    scheduler = spark.sparkContext._jsc.sc().dagScheduler()
    if scheduler is None:
        return 0
    sql_execution = getattr(getattr(jvm.org.apache.spark.sql.execution, "SQLExecution$"), "MODULE$")
    running = {int(i) for i in sql_execution.executionIdToQueryExecution().keySet().toArray()}
    finished = [int(i) for i in scheduler.activeQueryToJobs().keySet().toArray() if int(i) not in running]
    for execution_id in finished:
        scheduler.cleanupQueryJobs(execution_id)
    return len(finished)
