"""Counts describing one standardisation run, for logs and run metadata (never raw values)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from scv.standardise.pipeline import ISSUE_KEYS, ISSUES_COLUMN

# Silver fields whose coverage (non-null count) is worth watching from run to run.
COVERAGE_FIELDS = (
    "first_name",
    "last_name",
    "first_name_phonetic",
    "last_name_phonetic",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "city",
    "postcode",
    "country",
)


@dataclass(frozen=True)
class StandardisationReport:
    """Aggregate counts of a silver frame.

    ``issues`` (per ``"field:reason"``, e.g. ``"email:invalid"``) is filled only when the frame
    carries ``standardisation_issues`` (``standardise_person_records(..., with_issues=True)``);
    from a contract-only silver frame it is empty. ``placeholders_nulled`` is the sum of
    ``placeholder_count``.
    """

    records: int
    companies: int
    unlinkable: int
    unlinkable_people: int  # not companies, nothing identifying left
    records_with_placeholders: int
    placeholders_nulled: int
    coverage: dict[str, int] = field(default_factory=dict)
    issues: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_silver(cls, silver: DataFrame) -> "StandardisationReport":
        """Compute the report in one aggregation pass over ``silver`` (an action)."""
        aggregates = [
            F.count(F.lit(1)).alias("records"),
            F.count_if(F.col("is_company")).alias("companies"),
            F.count_if(~F.col("is_linkable")).alias("unlinkable"),
            F.count_if(~F.col("is_linkable") & ~F.col("is_company")).alias("unlinkable_people"),
            F.count_if(F.col("placeholder_count") > 0).alias("records_with_placeholders"),
            F.coalesce(F.sum("placeholder_count"), F.lit(0)).alias("placeholders_nulled"),
        ]
        aggregates += [F.count(c).alias(f"coverage:{c}") for c in COVERAGE_FIELDS]
        with_issues = ISSUES_COLUMN in silver.columns
        if with_issues:
            aggregates += [
                F.count_if(F.array_contains(ISSUES_COLUMN, key)).alias(f"issue:{key}")
                for key in ISSUE_KEYS
            ]
        row = silver.agg(*aggregates).first().asDict()
        return cls(
            records=row["records"],
            companies=row["companies"],
            unlinkable=row["unlinkable"],
            unlinkable_people=row["unlinkable_people"],
            records_with_placeholders=row["records_with_placeholders"],
            placeholders_nulled=int(row["placeholders_nulled"]),
            coverage={c: row[f"coverage:{c}"] for c in COVERAGE_FIELDS},
            issues={k: row[f"issue:{k}"] for k in ISSUE_KEYS} if with_issues else {},
        )

    def as_dict(self) -> dict:
        """Plain JSON-serialisable counts, for logging or run metadata."""
        return asdict(self)
