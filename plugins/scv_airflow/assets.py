"""Airflow Assets for the lakehouse tables, shared by every DAG that produces or consumes them.

URIs are logical (``scv://lakehouse/<layer>/<table>``) so that they stay the same whether the
lakehouse is on local disk, S3 or ADLS.
"""

from __future__ import annotations

from airflow.sdk import Asset


def table_asset(layer: str, table: str) -> Asset:
    return Asset(name=f"{layer}/{table}", uri=f"scv://lakehouse/{layer}/{table}", group="scv")


def bronze(source: str) -> Asset:
    return table_asset("bronze", source)


SILVER_PERSON_RECORDS = table_asset("silver", "person_records")
SILVER_EVENTS = table_asset("silver", "events")
SILVER_RECORD_CUSTOMER = table_asset("silver", "record_customer")
SILVER_MATCH_PAIRS = table_asset("silver", "match_pairs")
GOLD_CUSTOMER_XREF = table_asset("gold", "customer_xref")
GOLD_CUSTOMER_GOLDEN = table_asset("gold", "customer_golden")
GOLD_CUSTOMER_FEATURES = table_asset("gold", "customer_features")
GOLD_PROPENSITY_SCORES = table_asset("gold", "propensity_scores")
