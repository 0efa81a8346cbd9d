"""Spark SQL models over the lakehouse: the ``.sql`` files of ``include/sql/``, run in file order.

Each file starts with a header of ``-- key: value`` lines:

``-- model: <name>``
    the output, ``gold/<name>``; registered as temp view ``gold_<name>`` for later files.
``-- reads: layer.table, ...``
    inputs, registered as temp views ``<layer>_<table>`` by path (so the SQL never names a
    storage location); a missing input fails with the table's path and who writes it.
``-- materialise: table`` with ``-- key: col, ...``
    the file is one ``SELECT``; its result is MERGEd into ``gold/<name>`` by key with a content
    hash (:func:`scv.golden.publish.merge_snapshot`): unchanged rows are not rewritten and an
    unchanged result commits nothing.
``-- materialise: script``
    the file is statements separated by ``;`` at a line end, run as they are; ``${target}`` is
    the output table (``delta.`<path>```), e.g. a ``CREATE TABLE IF NOT EXISTS`` and a ``MERGE``
    that keeps history (``dim_customer``).

``${as_of_date}``, ``${lakehouse_root}`` and ``${target}`` are replaced before Spark sees the text
(trusted values: a date checked by :func:`scv.jobs.parse_date` and configured paths). Models
read only the pseudonymised gold tables and events: none of them holds personal data.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from scv import delta_io
from scv.config import Settings

log = logging.getLogger(__name__)

_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)
MATERIALISATIONS = ("table", "script")


class SqlModelError(ValueError):
    pass


@dataclass(frozen=True)
class SqlModel:
    name: str
    path: str
    sql: str
    reads: tuple[tuple[str, str], ...]
    materialise: str
    keys: tuple[str, ...] = ()

    def statements(self, parameters: dict[str, str]) -> list[str]:
        text = self.sql
        for name, value in parameters.items():
            text = text.replace("${" + name + "}", value)
        leftover = re.findall(r"\$\{(\w+)\}", text)
        if leftover:
            raise SqlModelError(f"{self.path}: unknown placeholder(s) {sorted(set(leftover))}")
        parts = [p.strip() for p in _STATEMENT_END.split(text)]
        statements = [p for p in parts if _without_comments(p)]
        if self.materialise == "table" and len(statements) != 1:
            raise SqlModelError(f"{self.path}: a 'table' model is exactly one SELECT, found {len(statements)} statements")
        return statements


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("--")).strip()


def load_model(path: str | Path) -> SqlModel:
    text = Path(path).read_text(encoding="utf-8")
    header: dict[str, str] = {}
    for line in text.splitlines():
        match = _HEADER.match(line.strip())
        if not match:
            if line.strip().startswith("--") or not line.strip():
                continue
            break
        header[match.group(1)] = match.group(2)
    where = str(path)
    name = header.get("model") or ""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise SqlModelError(f"{where}: needs '-- model: <name>' (lower case, digits, underscores)")
    materialise = header.get("materialise", "")
    if materialise not in MATERIALISATIONS:
        raise SqlModelError(f"{where}: '-- materialise:' must be one of {', '.join(MATERIALISATIONS)}")
    reads = []
    for item in filter(None, (r.strip() for r in header.get("reads", "").split(","))):
        layer, _, table = item.partition(".")
        if not table:
            raise SqlModelError(f"{where}: reads entries are layer.table, not {item!r}")
        reads.append((layer, table))
    keys = tuple(filter(None, (k.strip() for k in header.get("key", "").split(","))))
    if materialise == "table" and not keys:
        raise SqlModelError(f"{where}: a 'table' model needs '-- key: <columns>'")
    return SqlModel(name, where, text, tuple(reads), materialise, keys)


def sql_dir(settings: Settings) -> str:
    return os.path.join(settings.include_dir, "sql")


def load_models(directory: str | Path) -> list[SqlModel]:
    """The models of ``directory`` in file-name order (prefix files with numbers to order them)."""
    models = [load_model(p) for p in sorted(Path(directory).glob("*.sql"))]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise SqlModelError(f"{directory}: two files define the same model")
    return models


def view_name(layer: str, table: str) -> str:
    return f"{layer}_{table}"


def register_inputs(spark: SparkSession, settings: Settings, model: SqlModel) -> None:
    for layer, table in model.reads:
        path = settings.table_path(layer, table)
        if not delta_io.table_exists(spark, path):
            raise SqlModelError(
                f"{model.path}: input {layer}/{table} is not a Delta table at {path} (run the step that writes it first)"
            )
        spark.read.format("delta").load(path).createOrReplaceTempView(view_name(layer, table))


def run_model(spark: SparkSession, settings: Settings, model: SqlModel, as_of_date: str) -> dict:
    """Run one model for ``as_of_date`` (ISO date); returns what it changed."""
    from scv.golden.publish import merge_snapshot, with_content_hash

    register_inputs(spark, settings, model)
    target_path = settings.table_path("gold", model.name)
    parameters = {
        "as_of_date": as_of_date,
        "lakehouse_root": settings.lakehouse_root,
        "target": f"delta.`{target_path}`",
    }
    statements = model.statements(parameters)
    if model.materialise == "table":
        result = spark.sql(statements[0])
        missing = [k for k in model.keys if k not in result.columns]
        if missing:
            raise SqlModelError(f"{model.path}: key column(s) {missing} are not in the result")
        metrics = merge_snapshot(
            with_content_hash(result),
            target_path,
            list(model.keys),
            delta_io.stats_columns_property(model.keys),
        )
    else:
        before = _version(spark, target_path)
        for statement in statements:
            spark.sql(statement)
        metrics = {"version_before": before, "version_after": _version(spark, target_path)}
    spark.read.format("delta").load(target_path).createOrReplaceTempView(view_name("gold", model.name))
    log.info("gold/%s (%s) as of %s: %s", model.name, model.materialise, as_of_date, metrics)
    return metrics


def _version(spark: SparkSession, path: str) -> int | None:
    if not delta_io.table_exists(spark, path):
        return None
    from delta.tables import DeltaTable

    return int(DeltaTable.forPath(spark, path).history(1).first().version)


def run(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str) -> dict:
    """Run every model of ``include/sql/`` as of ``logical_date``: the ``gold_sql_models`` job.

    Idempotent: rerunning a date with the same inputs leaves every model's content unchanged.
    """
    from scv.jobs import parse_date

    as_of = parse_date(logical_date).isoformat()
    models = load_models(sql_dir(settings))
    results = {m.name: run_model(spark, settings, m, as_of) for m in models}
    return {"logical_date": logical_date, "run_id": run_id, "as_of_date": as_of, "models": results}
