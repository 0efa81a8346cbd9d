"""One Splink-on-Spark working session: a ``SparkAPI``, its registered inputs, and clean-up.

Splink materialises its intermediate tables (term frequencies, blocked pairs, comparison
vectors, predictions) and reads them back. How is ``config.spark_break_lineage_method``:

- ``"parquet"`` (default, as Splink's own default off Databricks) writes them under a checkpoint
  directory and reads them back, which cuts their lineage: every later query plans against a
  file scan. Measured on the project's data, EM and u estimation run 2-3x faster than with
  ``"persist"``, whose queries drag the whole lineage through planning and cache matching.
- ``"persist"`` caches them; no directory is needed.

In a long-lived process (an Airflow worker running Spark in-process) intermediates would pile
up, so every public function opens a session, copies out the result it returns, and closes the
session: Splink's temporary views are dropped (which uncaches them), inputs are unpersisted and
the session's own checkpoint directory is deleted.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from splink import SparkAPI
from splink.internals.splink_dataframe import SplinkDataFrame

from scv.linkage.config import LinkageConfig

logger = logging.getLogger(__name__)

_METHODS_WRITING_FILES = ("parquet", "checkpoint")


class SplinkSession:
    """Context manager owning one ``SparkAPI`` for the duration of one linkage step.

    For the file-writing lineage methods it points the SparkContext's checkpoint directory at a
    fresh directory under ``config.spark_checkpoint_dir`` for the session's duration (Spark adds
    a unique sub-directory per call) and restores the previous one afterwards. Two linkage steps
    must therefore not run concurrently in one SparkContext.
    """

    def __init__(self, spark: SparkSession, config: LinkageConfig):
        self.spark = spark
        self.config = config
        self.db_api: Any = None
        self._views: list[str] = []
        self._cached: list[DataFrame] = []
        self._checkpoint_dir: str | None = None
        self._previous_checkpoint_dir: str | None = None

    def __enter__(self) -> "SplinkSession":
        method = self.config.spark_break_lineage_method
        if method in _METHODS_WRITING_FILES:
            context = self.spark.sparkContext
            self._previous_checkpoint_dir = context.getCheckpointDir()
            context.setCheckpointDir(checkpoint_root(self.config))
            self._checkpoint_dir = context.getCheckpointDir()
        self.db_api = SparkAPI(
            spark_session=self.spark,
            break_lineage_method=method,
            num_partitions_on_repartition=self.config.spark_num_partitions_on_repartition,
            repartition_after_blocking=self.config.spark_repartition_after_blocking,
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def register(self, df: DataFrame, name: str, *, cache: bool = True) -> SplinkDataFrame:
        """Register ``df`` with Splink under a unique view name; cache it if Splink reads it
        more than once (training and blocking analysis scan their input many times)."""
        if cache:
            df = df.persist()
            self._cached.append(df)
        view = f"scv_linkage_{name}_{uuid.uuid4().hex[:8]}"
        self._views.append(view)
        return self.db_api.register(df, table_name=view)

    def close(self) -> None:
        if self.db_api is None:
            return
        # DROP of a temporary view also uncaches it (without cascading to results already
        # materialised from it), so this frees what Splink persisted.
        self.db_api.delete_tables_created_by_splink_from_db()
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        for df in self._cached:
            df.unpersist()
        if self._checkpoint_dir:
            _delete_path(self.spark, self._checkpoint_dir)
            if self._previous_checkpoint_dir:
                self.spark.sparkContext.setCheckpointDir(self._previous_checkpoint_dir)
        self._views, self._cached, self.db_api = [], [], None
        self._checkpoint_dir = self._previous_checkpoint_dir = None


def checkpoint_root(config: LinkageConfig) -> str:
    """Where intermediate files go: ``config.spark_checkpoint_dir`` or the local temp dir."""
    return config.spark_checkpoint_dir or os.path.join(
        tempfile.gettempdir(), "scv-linkage-checkpoints"
    )


@contextmanager
def scratch_directory(spark: SparkSession, config: LinkageConfig) -> Iterator[str]:
    """A fresh directory under :func:`checkpoint_root`, deleted with its contents on exit."""
    path = f"{checkpoint_root(config).rstrip('/')}/scratch-{uuid.uuid4().hex}"
    try:
        yield path
    finally:
        _delete_path(spark, path)


def materialise(df: DataFrame) -> tuple[DataFrame, int]:
    """Compute ``df`` now into Spark's block store, cutting its lineage; return it and its size.

    Results are materialised this way before the session that produced them closes, so they
    depend neither on Splink's (deleted) intermediate files nor on its (uncached) tables.
    """
    df = df.localCheckpoint(eager=True)
    return df, df.count()


def _delete_path(spark: SparkSession, path: str) -> None:
    """Recursively delete ``path`` on whatever file system it is on (local, s3a, abfss)."""
    # Through Hadoop's FileSystem (as Splink's own writes go), not os/shutil, so that object
    # stores work too.
    jvm_path = spark._jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
    hadoop_conf = spark._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    file_system = jvm_path.getFileSystem(hadoop_conf)
    if not file_system.delete(jvm_path, True) and file_system.exists(jvm_path):
        logger.warning("could not delete linkage scratch directory %s", path)
