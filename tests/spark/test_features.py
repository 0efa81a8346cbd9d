"""Customer features on hand-made events: hand-computed aggregates, point-in-time, idempotent job."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row

from scv.features import FeatureSpec, customer_features, customer_features_at, feature_columns, feature_kind, model_input_columns
from scv.propensity.config import ProductGroup

AS_OF = dt.date(2026, 3, 1)
GROUPS = (
    ProductGroup("electronics", ("electronics",)),
    ProductGroup("home_garden", ("home", "garden")),
    ProductGroup("grocery", ("grocery",)),
)
EVENT_SCHEMA = (
    "source_system string, event_id string, person_record_id string, event_time timestamp, event_type string, "
    "channel string, product_category string, amount double, quantity int"
)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def event(eid, record, when, etype="purchase", channel="store", category=None, amount=None):
    source = "pos" if channel == "store" else "web_events"
    return (source, eid, record, ts(when), etype, channel, category, amount, 1 if etype == "purchase" else None)


EVENTS = [
    # c1 holds loyalty:L1 and webshop:W1 (and a CRM record without events)
    event("e1", "loyalty:L1", "2026-02-28T10:00:00", category="electronics", amount=100.0),
    event("e2", "loyalty:L1", "2026-01-15T12:00:00", category="Garden ", amount=50.0),
    event("e3", "loyalty:L1", "2026-02-20T09:00:00", category="electronics", amount=-20.0),  # refund
    event("e4", "webshop:W1", "2025-06-01T08:00:00", channel="web", category="home", amount=30.0),
    event("e5", "webshop:W1", "2026-02-25T20:00:00", "page_view", "web", "electronics"),
    event("e6", "webshop:W1", "2026-02-25T20:01:00", "add_to_cart", "web", "electronics"),
    event("e7", "webshop:W1", "2026-01-01T20:00:00", "page_view", "web", "toys"),
    event("e8", "webshop:W1", "2024-12-01T08:00:00", channel="web", category="electronics", amount=10.0),
    # c2 holds loyalty:L2: one purchase a second before the cutoff, one exactly at it
    event("e9", "loyalty:L2", "2026-02-28T23:59:59", category="grocery", amount=1.10),
    event("e10", "loyalty:L2", "2026-03-01T00:00:00", category="grocery", amount=5.55),
    # not a known customer: ignored
    event("e11", "loyalty:ZZZ", "2026-02-27T10:00:00", category="grocery", amount=99.0),
    event("e12", None, "2026-02-27T10:00:00", category="grocery", amount=99.0),
]
XREF = [("crm:1", "c1"), ("loyalty:L1", "c1"), ("webshop:W1", "c1"), ("loyalty:L2", "c2"), ("crm:3", "c3")]


@pytest.fixture
def frames(spark):
    events = spark.createDataFrame(EVENTS, EVENT_SCHEMA)
    xref = spark.createDataFrame(XREF, "record_id string, customer_id string")
    return events, xref


def by_customer(df) -> dict[str, Row]:
    return {row["customer_id"]: row for row in df.collect()}


def test_features_match_hand_computed_aggregates(frames):
    events, xref = frames
    features = customer_features(events, xref, AS_OF, GROUPS)
    assert features.columns == ["customer_id", "as_of_date", *feature_columns(GROUPS, FeatureSpec())]
    rows = by_customer(features)
    assert set(rows) == {"c1", "c2", "c3"}

    c1 = rows["c1"].asDict()
    expected_c1 = {
        "as_of_date": AS_OF,
        "purchases_30d": 1, "purchases_90d": 2, "purchases_365d": 3,  # the refund is no purchase
        "spend_30d": 80.0, "spend_90d": 130.0, "spend_365d": 160.0,  # spend is net of the refund
        "last_purchase_date": dt.date(2026, 2, 28), "days_since_last_purchase": 1,
        "store_share_365d": pytest.approx(2 / 3), "web_share_365d": pytest.approx(1 / 3),
        "page_views_30d": 1, "add_to_cart_30d": 1,  # the toys view is 59 days old
        "electronics_purchases_30d": 1, "electronics_purchases_90d": 1, "electronics_purchases_365d": 1,
        "electronics_spend_30d": 80.0, "electronics_spend_90d": 80.0, "electronics_spend_365d": 80.0,
        "electronics_last_purchase_date": dt.date(2026, 2, 28), "electronics_days_since_last_purchase": 1,
        "electronics_page_views_30d": 1, "electronics_add_to_cart_30d": 1,
        "home_garden_purchases_30d": 0, "home_garden_purchases_90d": 1, "home_garden_purchases_365d": 2,
        "home_garden_spend_30d": 0.0, "home_garden_spend_90d": 50.0, "home_garden_spend_365d": 80.0,
        "home_garden_last_purchase_date": dt.date(2026, 1, 15), "home_garden_days_since_last_purchase": 45,
        "home_garden_page_views_30d": 0, "home_garden_add_to_cart_30d": 0,
        "grocery_purchases_365d": 0, "grocery_spend_365d": 0.0,
        "grocery_last_purchase_date": None, "grocery_days_since_last_purchase": None,
    }
    assert {k: c1[k] for k in expected_c1} == expected_c1

    c2 = rows["c2"]
    # The purchase at exactly 00:00 of the as-of date belongs to that day: not counted.
    assert (c2.purchases_30d, c2.spend_30d, c2.days_since_last_purchase) == (1, pytest.approx(1.10), 1)
    assert (c2.grocery_purchases_30d, c2.store_share_365d, c2.web_share_365d) == (1, 1.0, 0.0)

    # A customer without events has zeros, and null recency ("never purchased").
    c3 = rows["c3"].asDict()
    for name in feature_columns(GROUPS, FeatureSpec()):
        kind = feature_kind(name)
        if kind in ("recency", "date"):
            assert c3[name] is None, name
        else:
            assert c3[name] == 0, name


def test_events_after_the_cutoff_do_not_change_features(spark, frames):
    events, xref = frames
    before = customer_features(events, xref, AS_OF, GROUPS)
    later = spark.createDataFrame(
        [
            event("x1", "loyalty:L1", "2026-03-01T00:00:00", category="electronics", amount=500.0),
            event("x2", "webshop:W1", "2026-03-05T08:00:00", "page_view", "web", "grocery"),
            event("x3", "loyalty:L2", "2027-01-01T08:00:00", category="home", amount=7.0),
            event("x4", "crm:3", "2026-03-02T08:00:00", category="home", amount=7.0),
        ],
        EVENT_SCHEMA,
    )
    after = customer_features(events.unionByName(later), xref, AS_OF, GROUPS)
    assert sorted(after.collect()) == sorted(before.collect())
    # ...while a later as-of date does see them.
    moved = by_customer(customer_features(events.unionByName(later), xref, dt.date(2026, 3, 3), GROUPS))
    assert moved["c1"].electronics_purchases_30d == 2 and moved["c3"].purchases_30d == 1


def test_several_dates_in_one_pass_equal_one_date_at_a_time(frames):
    events, xref = frames
    dates = [dt.date(2026, 1, 20), AS_OF]
    together = customer_features_at(events, xref, dates, GROUPS)
    one_by_one = customer_features(events, xref, dates[0], GROUPS).unionByName(customer_features(events, xref, dates[1], GROUPS))
    assert together.count() == 3 * len(dates)
    assert sorted(together.collect()) == sorted(one_by_one.collect())


def test_windows_are_configurable(frames):
    events, xref = frames
    spec = FeatureSpec(windows_days=(7, 60), engagement_window_days=90)
    row = by_customer(customer_features(events, xref, AS_OF, GROUPS[:1], spec))["c1"]
    assert (row.purchases_7d, row.purchases_60d, row.spend_60d) == (1, 2, 130.0)
    assert (row.store_share_60d, row.page_views_90d, row.electronics_page_views_90d) == (1.0, 2, 1)


def test_feature_names_kinds_and_clashes():
    columns = feature_columns(GROUPS, FeatureSpec())
    assert len(columns) == len(set(columns))
    assert feature_kind("home_garden_spend_90d") == "amount"
    assert feature_kind("electronics_days_since_last_purchase") == "recency"
    assert feature_kind("web_share_365d") == "share"
    assert feature_kind("grocery_add_to_cart_30d") == "count"
    inputs = model_input_columns(["customer_id", "as_of_date", *columns])
    assert "last_purchase_date" not in inputs and "customer_id" not in inputs and "purchases_30d" in inputs
    with pytest.raises(ValueError, match="clashing"):
        feature_columns([ProductGroup("a", ("x",)), ProductGroup("a", ("y",))], FeatureSpec())
