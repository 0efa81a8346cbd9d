"""The two vectorised Python UDFs: names (unidecode, nicknames, Double Metaphone) and phones.

Both are scalar pandas UDFs so that Spark evaluates them together, in one Arrow round trip per
batch (iterator UDFs would each get their own). The memoising standardisers live in this
module, not in the UDF closure: Python workers are reused across tasks and the closure is
deserialised afresh for every task, so a module-level memo keeps repeated values (common names,
shared numbers) warm for the worker's whole life.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from scv.standardise.names import NameStandardiser, StandardisedName
from scv.standardise.phones import PhoneStandardiser
from scv.standardise.reference import NameRules

_BOOLEAN_FIELDS = {"looks_like_company", "first_name_junk", "last_name_junk", "full_name_junk"}
NAME_STRUCT = StructType(
    [
        StructField(name, BooleanType() if name in _BOOLEAN_FIELDS else StringType())
        for name in StandardisedName._fields
    ]
)


# Per worker process: rules fingerprint -> standardiser; the phone standardiser has no rules.
_NAME_STANDARDISERS: dict[str, NameStandardiser] = {}
_PHONE_STANDARDISER: list[PhoneStandardiser] = []


def _name_standardiser(rules: NameRules, fingerprint: str) -> NameStandardiser:
    standardiser = _NAME_STANDARDISERS.get(fingerprint)
    if standardiser is None:
        _NAME_STANDARDISERS.clear()  # a new reference version replaces the old memo
        standardiser = _NAME_STANDARDISERS[fingerprint] = NameStandardiser(rules)
    return standardiser


def _phone_standardiser() -> PhoneStandardiser:
    if not _PHONE_STANDARDISER:
        _PHONE_STANDARDISER.append(PhoneStandardiser())
    return _PHONE_STANDARDISER[0]


def names_udf(rules: NameRules):
    """A pandas UDF ``(first_name, last_name, full_name) -> struct`` of :class:`StandardisedName`.

    ``rules`` travels inside the closure, so executors need no reference files.
    """
    fingerprint = rules.fingerprint

    @pandas_udf(NAME_STRUCT)
    def standardise_names(first: pd.Series, last: pd.Series, full: pd.Series) -> pd.DataFrame:
        standardiser = _name_standardiser(rules, fingerprint)
        rows = [standardiser(*values) for values in zip(_values(first), _values(last), _values(full))]
        return pd.DataFrame.from_records(rows, columns=StandardisedName._fields)

    return standardise_names


def phones_udf():
    """A pandas UDF ``(number, region) -> E.164 or null`` (see :func:`phones.to_e164`)."""

    @pandas_udf(StringType())
    def standardise_phones(numbers: pd.Series, regions: pd.Series) -> pd.Series:
        standardiser = _phone_standardiser()
        pairs = zip(_values(numbers), _values(regions))
        return pd.Series([standardiser(n, r) for n, r in pairs], dtype=object)

    return standardise_phones


def _values(series: pd.Series) -> list:
    """Python values with nulls as None (Arrow may hand over NaN for an all-null column)."""
    return series.astype(object).where(series.notna(), None).tolist()
