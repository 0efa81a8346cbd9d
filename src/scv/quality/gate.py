"""A validation gate: one Delta table (or the rows one run wrote) against one suite.

This is what the Airflow operator calls; it can be called the same way from a Spark job or a
notebook. It reads, never writes, the validated table, so a failing gate leaves it unchanged.

Guarantees
- Run parameters are resolved in one place (:func:`run_parameters`): the suite file's defaults,
  then values known at run time (``lakehouse_root``, ``today``, the volume band from the ops
  table's history of this table and suite, excluding the current run), then the caller's.
- A suite that uses the parameters of a source contract (:data:`CONTRACT_PARAMETERS`, e.g. the
  generic ``bronze_default`` whose ``meta.table`` is ``bronze/${source}``) gets them from the
  contract of the source named by the ``source`` parameter, by default the last part of the
  table path (``bronze/<source>``): one suite serves every source onboarded by YAML alone, and
  its results and volume history are kept per source.
- The outcome is appended to the ops table (``record=True``) and the Data Docs are built under
  ``<artifacts>/data_docs/<run>/<table>/<suite>/`` (``build_docs=True``) before returning;
  deciding what a failure means (fail the task, alert) is left to the caller.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from scv.config import Settings
from scv.contracts import SourceContract, load_contracts, referenced_columns
from scv.quality.ops import record_outcome, recent_observations, volume_band
from scv.quality.outcome import ValidationOutcome
from scv.quality.suites import SuiteError, SuiteSpec, load_suite
from scv.quality.validation import DEFAULT_SAMPLE_SIZE, validate_dataframe

log = logging.getLogger(__name__)


class TableNotFound(FileNotFoundError):
    """The table to validate is not a Delta table (not written yet, or a wrong path)."""


@dataclass(frozen=True)
class RunInfo:
    """Who is validating: recorded with every result and used to exclude this run from history."""

    run_id: str
    dag_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None

    @classmethod
    def adhoc(cls) -> "RunInfo":
        return cls(run_id=f"adhoc__{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}")


def expectations_dir(settings: Settings) -> str:
    return os.path.join(settings.include_dir, "expectations")


def slug(text: str) -> str:
    """A file-name-safe form of a run id or table name (``:``/``+`` are not portable)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "_"


def resolve_table_path(settings: Settings, table_path: str) -> str:
    """An absolute path or URI as is; a relative one (``bronze/crm``) under the lakehouse root."""
    if "://" in table_path or os.path.isabs(table_path):
        return table_path.rstrip("/")
    return f"{settings.lakehouse_root}/{table_path.strip('/')}"


def table_name(settings: Settings, path: str) -> str:
    """``layer/name`` for a table under the lakehouse root, else the path's last two parts."""
    root = settings.lakehouse_root.rstrip("/") + "/"
    if path.startswith(root):
        return path[len(root):]
    return "/".join(path.rstrip("/").split("/")[-2:])


def docs_dir(settings: Settings, run_id: str, table: str, suite: str) -> str:
    return os.path.join(settings.artifacts_dir, "data_docs", slug(run_id), slug(table), slug(suite))


# Parameters computed from a source contract (see contract_parameters).
CONTRACT_PARAMETERS = frozenset(
    {"source", "primary_key_expression", "required_columns", "updated_at_declared", "updated_at_given",
     "updated_at_expression"}
)
# Spark SQL functions that raise on malformed input under ANSI mode, and their NULL-returning twins.
_TOLERANT = {"cast": "try_cast", "to_timestamp": "try_to_timestamp", "to_date": "try_to_date",
             "to_number": "try_to_number"}


def uses_contract(suite: SuiteSpec) -> bool:
    return bool(suite.referenced_parameters() & CONTRACT_PARAMETERS) or "${source}" in (suite.table or "")


def tolerant_expression(expression: str) -> str:
    """``expression`` with ``cast``/``to_timestamp``/``to_date``/``to_number`` calls replaced by
    their ``try_`` forms, so a malformed value gives NULL (countable) instead of failing the
    query (ANSI mode). Only function-call tokens are rewritten, never text inside literals."""
    from sqlglot.dialects.spark import Spark
    from sqlglot.tokens import TokenType

    tokens = Spark().tokenize(expression)
    out, last = [], 0
    for token, following in zip(tokens, tokens[1:]):
        twin = _TOLERANT.get(token.text.lower())
        if twin and token.token_type == TokenType.VAR and following.token_type == TokenType.L_PAREN:
            out += [expression[last:token.start], twin]
            last = token.end + 1
    return "".join(out) + expression[last:]


def _present(column: str) -> str:
    quoted = column.replace("`", "``")
    return f"nullif(trim(CAST(`{quoted}` AS STRING)), '') IS NOT NULL"


def contract_parameters(contract: SourceContract) -> dict[str, Any]:
    """The suite parameters a source contract defines, as SQL over the bronze batch.

    - ``primary_key_expression``: the source record id, blank counted as NULL;
    - ``required_columns``: ``effective_required_columns()`` (a list, for ``$PARAMETER``);
    - ``updated_at_declared``: ``true``/``false``; ``updated_at_given``: the columns the
      ``updated_at`` expression reads are all non-blank; ``updated_at_expression``: that
      expression in its NULL-on-malformed form (a contract without one gets trivially passing
      values, so a generic suite's timestamp checks pass for it).
    """
    key = tolerant_expression(contract.primary_key)
    params: dict[str, Any] = {
        "source": contract.name,
        "primary_key_expression": f"nullif(trim(CAST(({key}) AS STRING)), '')",
        "required_columns": list(contract.effective_required_columns()),
        "updated_at_declared": "false",
        "updated_at_given": "true",
        "updated_at_expression": "CAST(NULL AS TIMESTAMP)",
    }
    if contract.updated_at:
        inputs = sorted(referenced_columns(contract.updated_at, contract.file, "updated_at"))
        params["updated_at_declared"] = "true"
        params["updated_at_given"] = "(" + " AND ".join(_present(c) for c in inputs) + ")" if inputs else "true"
        params["updated_at_expression"] = f"try_cast(({tolerant_expression(contract.updated_at)}) AS TIMESTAMP)"
    return params


def suite_source(suite: SuiteSpec, table_path: str, overrides: Mapping[str, Any] | None = None) -> str:
    """The source a contract-parameterised suite validates: the caller's ``source`` parameter,
    then the suite's default, then the last part of the table path (``bronze/<source>``)."""
    source = (overrides or {}).get("source") or suite.parameters.get("source")
    return str(source) if source else table_path.rstrip("/").rsplit("/", 1)[-1]


def run_parameters(
    spark: SparkSession,
    settings: Settings,
    suite: SuiteSpec,
    *,
    table: str,
    run_id: str,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every parameter value for one validation (see the module docstring for precedence)."""
    overrides = dict(overrides or {})
    params: dict[str, Any] = dict(suite.parameters)
    params["lakehouse_root"] = settings.lakehouse_root
    params["today"] = dt.datetime.now(dt.timezone.utc).date().isoformat()
    if uses_contract(suite):
        if "${" in table and not (overrides.get("source") or params.get("source")):
            raise SuiteError(suite.path, f"table {table!r} needs a 'source' parameter (a source contract name)")
        source = suite_source(suite, table, overrides)
        params.update(contract_parameters(load_contracts(settings.sources_dir).get(source)))
    volume = suite.volume_expectation
    if volume is not None and not {"volume_min", "volume_max"} <= set(overrides):
        history = recent_observations(
            spark,
            settings,
            table=table,
            suite=suite.name,
            expectation=volume.name,
            exclude_run_id=run_id,
            window=suite.volume.window,
        )
        params["volume_min"], params["volume_max"] = volume_band(history, suite.volume)
        params["volume_history_runs"] = len(history)
    params.update(overrides)
    return params


def run_gate(
    spark: SparkSession,
    settings: Settings,
    *,
    table_path: str,
    suite: str | SuiteSpec,
    table: str | None = None,
    row_filter: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    run: RunInfo | None = None,
    record: bool = True,
    build_docs: bool = True,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> ValidationOutcome:
    """Validate the Delta table at ``table_path`` (only rows matching ``row_filter``, a Spark SQL
    predicate, when given) against ``suite`` (a name in ``include/expectations`` or a spec).

    ``table`` names the table in results and history (default: the suite's ``meta.table``, else
    the path relative to the lakehouse). Raises :class:`TableNotFound` when there is no Delta
    table at the path and :class:`~scv.quality.suites.SuiteError` for a broken suite; for a
    suite using contract parameters, ``KeyError`` when no contract has the source's name and
    :class:`~scv.contracts.ContractError` when its contract is broken.
    """
    from delta.tables import DeltaTable

    spec = suite if isinstance(suite, SuiteSpec) else load_suite(suite, expectations_dir(settings))
    path = resolve_table_path(settings, table_path)
    if not DeltaTable.isDeltaTable(spark, path):
        raise TableNotFound(f"cannot validate {path} with suite {spec.name}: it is not a Delta table")
    run = run or RunInfo.adhoc()
    parameters = dict(parameters or {})
    if uses_contract(spec):
        parameters.setdefault("source", suite_source(spec, path, parameters))
    name = table or spec.table_for({**spec.parameters, **parameters}) or table_name(settings, path)

    frame = spark.read.format("delta").load(path)
    if row_filter:
        frame = frame.where(row_filter)
    params = run_parameters(spark, settings, spec, table=name, run_id=run.run_id, overrides=parameters)
    outcome = validate_dataframe(
        frame,
        spec,
        table=name,
        run_id=run.run_id,
        parameters=params,
        docs_dir=docs_dir(settings, run.run_id, name, spec.name) if build_docs else None,
        dag_id=run.dag_id,
        task_id=run.task_id,
        row_filter=row_filter,
        sample_size=sample_size,
    )
    if record:
        record_outcome(spark, settings, outcome, try_number=run.try_number)
    log.info(
        "validated %s with %s: %s (%d critical, %d warning failures)",
        name, spec.name, outcome.status, len(outcome.critical_failures), len(outcome.warning_failures),
    )
    return outcome
