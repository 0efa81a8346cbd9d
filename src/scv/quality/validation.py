"""Running one suite against one Spark DataFrame with Great Expectations 1.x.

Guarantees
- Nothing is loaded or configured at import time: each call builds its own ephemeral (in-memory,
  file-less) GX context with a Spark data source and a whole-DataFrame batch, and drops it after.
  GX's anonymous usage statistics and progress bars are switched off.
- Failing sample values are masked before they reach anything that outlives the call: the GX
  result is rewritten with masked values, the in-memory result store is overwritten with that
  masked result, and only then are the Data Docs built from it. The returned
  :class:`~scv.quality.outcome.ValidationOutcome` is built from the masked result too.
- An expectation that cannot be evaluated (a missing column, bad SQL) counts as failed with its
  severity and carries the (scrubbed) error, so a broken critical check fails the gate.
- The Data Docs of one call are written to ``docs_dir`` (replaced if it exists, so a retry shows
  the latest attempt) and its ``index.html`` path is returned in the outcome.

Spark note: GX's SQL checks register a temporary view named ``tmp_view`` in the DataFrame's
session, so two validations must not run concurrently in one Spark session (Airflow runs each
task in its own process, so they do not).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame

from scv.quality.masking import TEXT, Masker, mask_value, scrub_any, scrub_text
from scv.quality.outcome import ExpectationOutcome, ValidationOutcome
from scv.quality.suites import SuiteSpec

log = logging.getLogger(__name__)

DOCS_SITE = "scv_local_site"
DEFAULT_SAMPLE_SIZE = 5
# Result keys that are counts or shares, never data values.
_STAT_KEYS = frozenset(
    {
        "element_count",
        "unexpected_count",
        "unexpected_percent",
        "unexpected_percent_total",
        "unexpected_percent_nonmissing",
        "missing_count",
        "missing_percent",
    }
)


def _gx_context(docs_dir: str | None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir:
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_cta_footer": False},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites=sites,
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def _domain(kwargs: Mapping[str, Any]) -> tuple[str, str | None]:
    """("column", name) | ("columns", None) | ("table", None) for an expectation's arguments."""
    if isinstance(kwargs.get("column"), str):
        return "column", kwargs["column"]
    if any(key in kwargs for key in ("column_list", "column_A", "column_B")):
        return "columns", None
    return "table", None


def _mask_by_column(value: Any, column: str, masker: Masker) -> Any:
    if isinstance(value, dict):
        return {key: _mask_by_column(item, column, masker) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_by_column(item, column, masker) for item in value]
    return masker.mask(value, column)


def _mask_rows(value: Any, masker: Masker, column: str | None = None) -> Any:
    """Rows keyed by column (unexpected rows of a SQL check, compound-key samples).

    A value not under a column name is tokenised as free text: it cannot be classified.
    """
    if isinstance(value, dict):
        return {key: _mask_rows(item, masker, str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_rows(item, masker, column) for item in value]
    return masker.mask(value, column) if column is not None else mask_value(value, TEXT)


def mask_result(result: Mapping[str, Any], kwargs: Mapping[str, Any], masker: Masker) -> dict[str, Any]:
    """A GX ``result`` dict with every data value masked according to the expectation's domain.

    Column expectations mask every value as data of their column; multi-column expectations mask
    rows field by field (anything not keyed by a column is tokenised); table expectations mask
    unexpected rows by column and scrub the rest as free text (column lists stay readable).
    """
    kind, column = _domain(kwargs)
    masked: dict[str, Any] = {}
    for key, value in result.items():
        if key in _STAT_KEYS:
            masked[key] = value
        elif kind == "column":
            masked[key] = _mask_by_column(value, column, masker)
        elif kind == "columns":
            masked[key] = _mask_rows(value, masker)
        elif key == "details" and isinstance(value, dict):
            masked[key] = {
                k: (_mask_rows(v, masker) if k == "unexpected_rows" else scrub_any(v)) for k, v in value.items()
            }
        else:
            masked[key] = scrub_any(value)
    return masked


def _error_text(exception_info: Any) -> str | None:
    """The scrubbed message of a GX exception_info (flat, or keyed by metric)."""
    if not isinstance(exception_info, dict):
        return None
    if "raised_exception" in exception_info:
        infos = [exception_info]
    else:
        infos = [info for info in exception_info.values() if isinstance(info, dict)]
    messages = [str(info.get("exception_message")) for info in infos if info.get("raised_exception")]
    return scrub_text("; ".join(messages)) if messages else None


def _scrub_exception_info(exception_info: Any) -> Any:
    if not isinstance(exception_info, dict):
        return exception_info
    if "raised_exception" in exception_info:
        return {
            "raised_exception": exception_info.get("raised_exception"),
            "exception_message": scrub_text(exception_info.get("exception_message")),
            "exception_traceback": scrub_text(exception_info.get("exception_traceback")),
        }
    return {key: _scrub_exception_info(value) for key, value in exception_info.items()}


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def _as_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _outcome_of(result, spec_by_name: Mapping[str, Any], sample_size: int) -> ExpectationOutcome:
    config = result.expectation_config
    meta = dict(config.meta or {})
    name = meta.get("name") or config.type
    spec = spec_by_name.get(name)
    body = dict(result.result or {})
    observed = body.get("observed_value")
    unexpected = _as_int(body.get("unexpected_count"))
    if unexpected is None and config.type == "unexpected_rows_expectation":
        unexpected = _as_int(observed)  # the number of rows the query returned
    samples = body.get("partial_unexpected_list") or []
    error = _error_text(result.exception_info)
    return ExpectationOutcome(
        name=name,
        expectation_type=config.type,
        severity=meta.get("severity") or (spec.severity if spec else "critical"),
        success=bool(result.success) and error is None,
        column=config.kwargs.get("column") if isinstance(config.kwargs.get("column"), str) else None,
        observed_value=_as_text(observed),
        unexpected_count=unexpected,
        unexpected_percent=body.get("unexpected_percent"),
        element_count=_as_int(body.get("element_count")),
        sample=tuple(_as_text(v) or "null" for v in samples[:sample_size]),
        description=spec.description if spec else None,
        error=error,
    )


def validate_dataframe(
    df: DataFrame,
    suite: SuiteSpec,
    *,
    table: str,
    run_id: str,
    parameters: Mapping[str, Any] | None = None,
    docs_dir: str | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    row_filter: str | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> ValidationOutcome:
    """Validate ``df`` against ``suite`` and return the masked outcome (see module docstring).

    ``parameters`` fill the suite's ``${name}`` placeholders and ``$PARAMETER`` references
    (missing ones raise :class:`~scv.quality.suites.SuiteError` before any Spark work).
    ``docs_dir``: a local folder for this validation's Data Docs, or None for no docs.
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    parameters = dict(parameters or {})
    gx_suite = suite.to_gx_suite(parameters)
    masker = Masker(suite.pii_columns, suite.unmasked_columns)
    if docs_dir and "://" in docs_dir:
        log.warning("Data Docs can only be built into a local folder for now; skipping %s", docs_dir)
        docs_dir = None

    context = _gx_context(docs_dir)
    source = context.data_sources.add_spark(name="scv_spark")
    asset = source.add_dataframe_asset(name=table.replace("/", "."))
    batch = asset.add_batch_definition_whole_dataframe("batch")
    gx_suite = context.suites.add(gx_suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite.name}:{table}", data=batch, suite=gx_suite)
    )
    validated_at = dt.datetime.now(dt.timezone.utc)
    # GX keeps suite parameters in its (JSON) results: pass only JSON values.
    gx_parameters = {k: v for k, v in parameters.items() if v is None or isinstance(v, (str, int, float, bool, list))}
    was_cached = df.is_cached
    try:
        result = definition.run(
            batch_parameters={"dataframe": df},
            expectation_parameters=gx_parameters,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": sample_size},
            run_id=RunIdentifier(run_name=run_id, run_time=validated_at),
        )
    finally:
        # GX persists the batch DataFrame to compute many metrics in one pass; free it now
        # unless the caller had cached it for their own use.
        if not was_cached:
            df.unpersist()

    for item in result.results:
        item.result = mask_result(item.result or {}, item.expectation_config.kwargs, masker)
        item.exception_info = _scrub_exception_info(item.exception_info)
    result.meta["scv"] = {"table": table, "run_id": run_id, "row_filter": row_filter}

    index_path = None
    if docs_dir:
        # Only the masked result may reach HTML: overwrite what ValidationDefinition.run stored.
        store = context.validation_results_store
        for key in store.list_keys():
            store.set(key, result)
        if os.path.isdir(docs_dir):
            shutil.rmtree(docs_dir)
        os.makedirs(docs_dir, exist_ok=True)
        context.build_data_docs(site_names=[DOCS_SITE])
        index_path = os.path.join(docs_dir, "index.html")

    specs = {spec.name: spec for spec in suite.expectations}
    outcomes = tuple(_outcome_of(item, specs, sample_size) for item in result.results)
    order = {spec.name: position for position, spec in enumerate(suite.expectations)}
    outcomes = tuple(sorted(outcomes, key=lambda o: order.get(o.name, len(order))))
    return ValidationOutcome(
        suite=suite.name,
        table=table,
        run_id=run_id,
        results=outcomes,
        validated_at=validated_at,
        dag_id=dag_id,
        task_id=task_id,
        row_filter=row_filter,
        data_docs_path=index_path,
        parameters={k: _as_text(v) for k, v in sorted(gx_parameters.items())},
    )
