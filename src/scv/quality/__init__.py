"""Data-quality gates: Great Expectations suites from ``include/expectations`` run on Spark.

Public surface::

    from scv.quality import run_gate, RunInfo, ValidationOutcome

    outcome = run_gate(spark, settings, table_path="bronze/crm", suite="bronze_crm",
                       row_filter="_logical_date = '2024-01-01'", run=RunInfo(run_id="..."))
    if not outcome.success: ...          # a critical expectation failed

Importing this package is cheap: Spark and Great Expectations are imported only when a
validation runs (DAG files and notifiers import the operator and outcome types at parse time).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "ExpectationOutcome",
    "Masker",
    "RunInfo",
    "SuiteError",
    "SuiteSpec",
    "TableNotFound",
    "ValidationOutcome",
    "load_suite",
    "mask_value",
    "record_outcome",
    "run_gate",
    "scrub_text",
    "validate_dataframe",
    "validation_results_path",
    "volume_band",
]

_LOCATIONS = {
    "ExpectationOutcome": "scv.quality.outcome",
    "ValidationOutcome": "scv.quality.outcome",
    "Masker": "scv.quality.masking",
    "mask_value": "scv.quality.masking",
    "scrub_text": "scv.quality.masking",
    "SuiteError": "scv.quality.suites",
    "SuiteSpec": "scv.quality.suites",
    "load_suite": "scv.quality.suites",
    "RunInfo": "scv.quality.gate",
    "TableNotFound": "scv.quality.gate",
    "run_gate": "scv.quality.gate",
    "validate_dataframe": "scv.quality.validation",
    "record_outcome": "scv.quality.ops",
    "validation_results_path": "scv.quality.ops",
    "volume_band": "scv.quality.ops",
}

if TYPE_CHECKING:
    from scv.quality.gate import RunInfo, TableNotFound, run_gate
    from scv.quality.masking import Masker, mask_value, scrub_text
    from scv.quality.ops import record_outcome, validation_results_path, volume_band
    from scv.quality.outcome import ExpectationOutcome, ValidationOutcome
    from scv.quality.suites import SuiteError, SuiteSpec, load_suite
    from scv.quality.validation import validate_dataframe


def __getattr__(name: str):
    if name in _LOCATIONS:
        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'scv.quality' has no attribute {name!r}")
