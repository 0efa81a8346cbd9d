"""Silver jobs: canonical person records and events from bronze, standardised.

``silver/person_records`` is rebuilt from the latest version of every bronze record of every
person source (a full snapshot, so reruns are idempotent); ``silver/events`` likewise from the
event sources.
"""

from __future__ import annotations

import logging
from functools import reduce

from pyspark.sql import DataFrame, SparkSession

from scv import delta_io
from scv.canonical import events, person_records
from scv.config import Settings
from scv.contracts import load_contracts
from scv.jobs import parse_date
from scv.standardise import StandardisationReport, standardise_person_records

log = logging.getLogger(__name__)

SILVER_PERSON_PROPERTIES = delta_io.stats_columns_property(["record_id", "source_system", "updated_at"])
SILVER_EVENT_PROPERTIES = delta_io.stats_columns_property(["source_system", "event_time", "event_type", "product_category"])


def _union(frames: list[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.unionByName(b), frames)


def run(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str) -> dict:
    contracts = load_contracts(settings.sources_dir)
    persons = [c for c in contracts.persons() if delta_io.table_exists(spark, settings.table_path("bronze", c.name))]
    if not persons:
        raise RuntimeError(f"no bronze table of any person source under {settings.lakehouse_root}/bronze")
    canonical = _union([person_records(spark, settings, c) for c in persons])
    silver = standardise_person_records(canonical, as_of=parse_date(logical_date))
    delta_io.overwrite(silver, settings.table_path("silver", "person_records"), properties=SILVER_PERSON_PROPERTIES)
    written = spark.read.format("delta").load(settings.table_path("silver", "person_records"))
    report = StandardisationReport.from_silver(written).as_dict()
    log.info("silver person_records: %s", report)

    event_sources = [c for c in contracts.events() if delta_io.table_exists(spark, settings.table_path("bronze", c.name))]
    event_count = 0
    if event_sources:
        all_events = _union([events(spark, settings, c) for c in event_sources])
        delta_io.overwrite(all_events, settings.table_path("silver", "events"), properties=SILVER_EVENT_PROPERTIES)
        event_count = spark.read.format("delta").load(settings.table_path("silver", "events")).count()
    log.info("silver events: %d from %s", event_count, [c.name for c in event_sources])
    return {
        "logical_date": logical_date,
        "run_id": run_id,
        "person_sources": [c.name for c in persons],
        "standardisation": report,
        "events": event_count,
    }
