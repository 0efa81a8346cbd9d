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


def gold(table: str) -> Asset:
    return table_asset("gold", table)


def summary_to_event_extra(asset: Asset, *keys: str):
    """A ``post_execute`` hook copying ``keys`` of the task's returned summary into the extra of
    ``asset``'s event (e.g. ``as_of_date``, so consumers know which snapshot was written)."""

    def hook(context, result=None) -> None:
        summary = result if isinstance(result, dict) else {}
        context["outlet_events"][asset].extra = {k: summary[k] for k in keys if summary.get(k) is not None}

    return hook
