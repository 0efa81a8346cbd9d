"""Typed settings for one deployment, read from the environment in one place.

Defaults are the embedded deployment: landing files under ``./landing``, Delta tables under
``./lakehouse``, source contracts in ``include/sources``, all relative to the project root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _path_or_uri(value: str) -> str:
    """Keep URIs (s3a://, abfss://) as they are; make local paths absolute."""
    if "://" in value:
        return value.rstrip("/")
    return str((PROJECT_ROOT / value).resolve()) if not os.path.isabs(value) else value.rstrip("/")


@dataclass(frozen=True)
class Settings:
    landing_root: str
    lakehouse_root: str
    sources_dir: str
    include_dir: str = str(PROJECT_ROOT / "include")
    jars_dir: str = str(PROJECT_ROOT / "build" / "jars" / "lib")
    artifacts_dir: str = str(PROJECT_ROOT / "artifacts")
    spark_master: str = "local[*]"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"
    extra_spark_conf: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        return cls(
            landing_root=_path_or_uri(env.get("SCV_LANDING_ROOT", "landing")),
            lakehouse_root=_path_or_uri(env.get("SCV_LAKEHOUSE_ROOT", "lakehouse")),
            sources_dir=_path_or_uri(env.get("SCV_SOURCES_DIR", "include/sources")),
            include_dir=_path_or_uri(env.get("SCV_INCLUDE_DIR", "include")),
            jars_dir=_path_or_uri(env.get("SCV_JARS_DIR", "build/jars/lib")),
            artifacts_dir=_path_or_uri(env.get("SCV_ARTIFACTS_DIR", "artifacts")),
            spark_master=env.get("SCV_SPARK_MASTER", "local[*]"),
            shuffle_partitions=int(env.get("SCV_SHUFFLE_PARTITIONS", "4")),
            driver_memory=env.get("SCV_DRIVER_MEMORY", "4g"),
        )

    def table_path(self, layer: str, name: str) -> str:
        """Location of the Delta table ``layer/name`` (e.g. ``gold/customer_xref``)."""
        return f"{self.lakehouse_root}/{layer}/{name}"

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)
