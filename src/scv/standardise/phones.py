"""Phone numbers to E.164 with ``phonenumbers`` (the Python port of libphonenumber).

The Spark side strips each number to ``+digits`` / ``digits`` and removes placeholders first,
so equal numbers written differently share one memo entry here.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException


def to_e164(number: str | None, region: str | None) -> str | None:
    """E.164 form of ``number`` (``+447911123456``), or None when it is not a valid number.

    ``region`` (ISO alpha-2) is how a number without an international prefix is read; with no
    region only ``+``-prefixed numbers can be valid. Validity is libphonenumber's
    ``is_valid_number`` (length and number ranges per country), so fictional ranges such as
    Ofcom's drama numbers (07700 900xxx) are invalid.
    """
    if not number:
        return None
    region = region.upper() if region else None
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return None
    # Checking against the expected region first is about twice as fast as the general check,
    # which must first find the region of the number; foreign numbers still fall through to it.
    if not (
        (region and phonenumbers.is_valid_number_for_region(parsed, region))
        or phonenumbers.is_valid_number(parsed)
    ):
        return None
    return f"+{parsed.country_code}{phonenumbers.national_significant_number(parsed)}"


class PhoneStandardiser:
    """:func:`to_e164` with a bounded memo keyed by (number, region). One per task."""

    def __init__(self, max_entries: int = 100_000):
        self._max = max_entries
        self._memo: dict[tuple[str | None, str | None], str | None] = {}

    def __call__(self, number: str | None, region: str | None) -> str | None:
        key = (number, region)
        try:
            return self._memo[key]
        except KeyError:
            if len(self._memo) >= self._max:
                self._memo.clear()
            result = self._memo[key] = to_e164(number, region)
            return result
