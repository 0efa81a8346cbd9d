"""Bronze jobs: ingest one source for a logical date."""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

from scv.config import Settings
from scv.contracts import load_contracts
from scv.ingest.bronze import ingest_source
from scv.jobs import parse_date

log = logging.getLogger(__name__)


def run(spark: SparkSession, settings: Settings, *, source: str, logical_date: str, run_id: str) -> dict:
    """Ingest ``source``'s files for ``logical_date``; fails on a broken contract or missing files."""
    contract = load_contracts(settings.sources_dir).get(source)
    report = ingest_source(spark, settings, contract, parse_date(logical_date), run_id)
    summary = report.as_dict()
    log.info(
        "bronze %s %s: read %d, bronze %d, quarantined %d, reasons %s, new columns %s",
        source, logical_date, report.rows_read, report.rows_bronze, report.rows_quarantined,
        report.quarantine_reasons, report.new_columns or "none",
    )
    summary.pop("files")
    summary["files"] = len(report.files)
    return summary
