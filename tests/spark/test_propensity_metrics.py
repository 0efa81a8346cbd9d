"""Hold-out metrics against scikit-learn, and point-in-time labels on hand-made events."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from scv.propensity.dataset import purchase_labels
from scv.propensity.metrics import calibration, evaluate, ranking_metrics

EVENT_SCHEMA = (
    "source_system string, event_id string, person_record_id string, event_time timestamp, event_type string, "
    "channel string, product_category string, amount double, quantity int"
)


def test_ranking_metrics_match_sklearn_with_ties(spark):
    rng = np.random.default_rng(3)
    labels = rng.random(500) < 0.2
    # Rounded scores create many ties; informative but noisy.
    scores = np.round(np.clip(0.2 + 0.25 * labels + rng.normal(0, 0.2, 500), 0, 1), 2)
    frame = spark.createDataFrame([(float(s), float(y)) for s, y in zip(scores, labels)], "score double, label double")
    got = ranking_metrics(frame)
    assert got["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert got["average_precision"] == pytest.approx(average_precision_score(labels, scores), abs=1e-9)

    result = evaluate(frame, bins=5)
    assert result.brier == pytest.approx(brier_score_loss(labels, scores), abs=1e-9)
    assert (result.rows, result.positives) == (500, int(labels.sum()))
    assert sum(b.rows for b in result.bins) == 500
    assert all(b.lower <= b.mean_score <= b.upper for b in result.bins)


def test_calibration_of_a_perfectly_calibrated_toy(spark):
    rows = [(0.25, 1.0)] + [(0.25, 0.0)] * 3 + [(0.75, 1.0)] * 3 + [(0.75, 0.0)]
    frame = spark.createDataFrame(rows, "score double, label double")
    result = calibration(frame, bins=4)
    assert result["expected_calibration_error"] == pytest.approx(0.0)
    assert [(b.lower, b.rows, b.positive_rate) for b in result["bins"]] == [(0.25, 4, 0.25), (0.75, 4, 0.75)]


def test_one_class_gives_undefined_ranking_metrics(spark):
    frame = spark.createDataFrame([(0.1, 0.0), (0.2, 0.0)], "score double, label double")
    assert all(np.isnan(v) for v in ranking_metrics(frame).values())


def test_labels_look_only_at_the_horizon_after_each_cutoff(spark):
    def purchase(eid, record, when, category, amount=10.0):
        return ("pos", eid, record, dt.datetime.fromisoformat(when), "purchase", "store", category, amount, 1)

    events = spark.createDataFrame(
        [
            purchase("a", "loyalty:1", "2026-01-31T23:59:59", "garden"),  # before the cutoff
            purchase("b", "loyalty:1", "2026-02-01T00:00:00", "garden"),  # first instant: in
            purchase("c", "loyalty:2", "2026-03-02T23:59:59", "home"),  # last second of 30 days: in
            purchase("d", "loyalty:3", "2026-03-03T00:00:00", "garden"),  # day 31: out
            purchase("e", "loyalty:4", "2026-02-10T00:00:00", "toys"),  # other category
            purchase("f", "loyalty:5", "2026-02-10T00:00:00", "garden", -5.0),  # a refund is no purchase
        ],
        EVENT_SCHEMA,
    )
    xref = spark.createDataFrame(
        [(f"loyalty:{i}", f"c{i}") for i in range(1, 6)] + [("crm:6", "c6")], "record_id string, customer_id string"
    )
    labels = purchase_labels(events, xref, [dt.date(2026, 2, 1), dt.date(2026, 3, 1)], ["home", "garden"], 30)
    got = {(r.customer_id, r.as_of_date.isoformat()): r.label for r in labels.collect()}
    assert len(got) == 12  # every customer at every cutoff
    positives = {k for k, v in got.items() if v == 1.0}
    assert positives == {("c1", "2026-02-01"), ("c2", "2026-02-01"), ("c2", "2026-03-01"), ("c3", "2026-03-01")}
