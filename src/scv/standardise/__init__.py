"""Standardisation: canonical person records -> silver ``person_records``.

Public surface::

    from scv.standardise import standardise_person_records, StandardisationReport

    silver = standardise_person_records(canonical_df, as_of=run_date)   # lazy, the contract
    report = StandardisationReport.from_silver(silver)                   # counts only, one action

``standardise_person_records(..., with_issues=True)`` adds ``standardisation_issues`` (which
field was nulled and why), from which the report also counts placeholders and invalid values
per field; drop it before writing the silver table.

Names and phones go through two vectorised Python UDFs (unidecode, nicknames, Double Metaphone,
phonenumbers), evaluated together once per row; everything else is native Spark. Reference data
lives in ``include/reference`` (see its README) and is read once on the driver by
:func:`load_reference`.

German umlauts fold to the base letter (Müller -> muller); the transliteration (Mueller ->
mueller) is kept as written in the name and agrees with it on the phonetic key, where ue/oe/ae
collapse before Double Metaphone (MLR for both).
"""

from scv.standardise.pipeline import (
    CANONICAL_COLUMNS,
    ISSUE_KEYS,
    ISSUES_COLUMN,
    SILVER_COLUMNS,
    InputContractError,
    standardise_person_records,
)
from scv.standardise.reference import ReferenceError, StandardisationReference, load_reference
from scv.standardise.report import StandardisationReport

__all__ = [
    "CANONICAL_COLUMNS",
    "ISSUE_KEYS",
    "ISSUES_COLUMN",
    "SILVER_COLUMNS",
    "InputContractError",
    "ReferenceError",
    "StandardisationReference",
    "StandardisationReport",
    "load_reference",
    "standardise_person_records",
]
