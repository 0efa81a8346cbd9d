"""Hold-out metrics computed in Spark: ROC AUC, average precision, Brier score, reliability bins.

All metrics are exact (no score binning): rows are grouped by distinct score, so tied scores
count half in the AUC and form one threshold in the average precision, as in scikit-learn's
``roc_auc_score`` and ``average_precision_score``. The cumulative sums run over the distinct
scores in one partition, which is fine for one row per customer up to tens of millions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


@dataclass(frozen=True)
class CalibrationBin:
    lower: float
    upper: float
    rows: int
    mean_score: float
    positive_rate: float


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model on one labelled set."""

    rows: int
    positives: int
    auc: float
    average_precision: float
    brier: float
    expected_calibration_error: float
    mean_score: float
    bins: tuple[CalibrationBin, ...]

    @property
    def positive_rate(self) -> float:
        return self.positives / self.rows if self.rows else 0.0

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat numeric metrics for experiment tracking."""
        return {
            f"{prefix}auc": self.auc,
            f"{prefix}average_precision": self.average_precision,
            f"{prefix}brier": self.brier,
            f"{prefix}ece": self.expected_calibration_error,
            f"{prefix}mean_score": self.mean_score,
            f"{prefix}positive_rate": self.positive_rate,
            f"{prefix}rows": float(self.rows),
            f"{prefix}positives": float(self.positives),
        }

    def as_dict(self) -> dict:
        return {**asdict(self), "positive_rate": self.positive_rate}


def ranking_metrics(scored: DataFrame, score_col: str = "score", label_col: str = "label") -> dict[str, float]:
    """``auc`` and ``average_precision`` of ``score_col`` against a 0/1 ``label_col``.

    Both are NaN when the labels are all positive or all negative.
    """
    label = F.col(label_col).cast("double")
    per_score = scored.groupBy(F.col(score_col).alias("_s")).agg(
        F.sum(label).alias("_tp"), F.sum(1.0 - label).alias("_fp")
    )
    running = Window.orderBy(F.col("_s").desc()).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    cumulative = per_score.withColumn("_ctp", F.sum("_tp").over(running)).withColumn("_cfp", F.sum("_fp").over(running))
    row = cumulative.agg(
        F.sum("_tp").alias("p"),
        F.sum("_fp").alias("n"),
        # each negative at score s is outranked by the positives above s; ties count half
        F.sum(F.col("_fp") * (F.col("_ctp") - F.col("_tp") / 2.0)).alias("auc_num"),
        F.sum(F.col("_tp") * F.col("_ctp") / (F.col("_ctp") + F.col("_cfp"))).alias("ap_num"),
    ).first()
    p, n = float(row["p"] or 0.0), float(row["n"] or 0.0)
    if p == 0.0 or n == 0.0:
        return {"auc": float("nan"), "average_precision": float("nan")}
    return {"auc": float(row["auc_num"]) / (p * n), "average_precision": float(row["ap_num"]) / p}


def calibration(scored: DataFrame, bins: int = 10, score_col: str = "score", label_col: str = "label") -> dict:
    """Brier score, expected calibration error and equal-width reliability bins on [0, 1]."""
    label = F.col(label_col).cast("double")
    score = F.col(score_col)
    b = F.least(F.floor(score * bins), F.lit(bins - 1)).cast("int")
    per_bin = (
        scored.groupBy(b.alias("bin"))
        .agg(F.count("*").alias("rows"), F.avg(score).alias("mean_score"), F.avg(label).alias("positive_rate"))
        .orderBy("bin")
        .collect()
    )
    totals = scored.agg(
        F.count("*").alias("rows"), F.sum(label).alias("positives"), F.avg((score - label) ** 2).alias("brier"), F.avg(score).alias("mean_score")
    ).first()
    rows = int(totals["rows"] or 0)
    out_bins = tuple(
        CalibrationBin(
            lower=r["bin"] / bins, upper=(r["bin"] + 1) / bins, rows=int(r["rows"]), mean_score=float(r["mean_score"]), positive_rate=float(r["positive_rate"])
        )
        for r in per_bin
    )
    ece = sum(x.rows * abs(x.mean_score - x.positive_rate) for x in out_bins) / rows if rows else float("nan")
    return {
        "rows": rows,
        "positives": int(totals["positives"] or 0),
        "brier": float(totals["brier"]) if rows else float("nan"),
        "mean_score": float(totals["mean_score"]) if rows else float("nan"),
        "expected_calibration_error": ece,
        "bins": out_bins,
    }


def evaluate(scored: DataFrame, bins: int = 10, score_col: str = "score", label_col: str = "label") -> Evaluation:
    """Every hold-out metric of ``scored`` (a frame with a probability ``score_col`` and 0/1 labels)."""
    ranking = ranking_metrics(scored, score_col, label_col)
    cal = calibration(scored, bins, score_col, label_col)
    return Evaluation(
        rows=cal["rows"],
        positives=cal["positives"],
        auc=ranking["auc"],
        average_precision=ranking["average_precision"],
        brier=cal["brier"],
        expected_calibration_error=cal["expected_calibration_error"],
        mean_score=cal["mean_score"],
        bins=cal["bins"],
    )
