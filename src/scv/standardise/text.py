"""Pure-Python text primitives shared by the Python UDFs and the native Spark expressions.

The native expressions in :mod:`scv.standardise.columns` must fold and key values exactly as
the Python code does (country aliases are keyed here and looked up there), so the folding table
and the key rules live in one place and both sides are built from them.
"""

from __future__ import annotations

import string
from functools import lru_cache

from unidecode import unidecode

# Latin-1 Supplement, Latin Extended-A/B and Latin Extended Additional cover the accented letters
# of European names and addresses; other scripts are left alone by the native fold (names, which
# go through Python, are transliterated fully by unidecode).
_FOLD_RANGES = ((0x00C0, 0x0250), (0x1E00, 0x1F00))
# Letters that fold to several ASCII letters (ß -> ss, æ -> ae) are each a separate replace in
# Spark, so only the European ones are kept: Latin-1, Latin Extended-A and the capital sharp s.
_MULTI_LETTER_RANGE = (0x00C0, 0x0180)
_CAPITAL_SHARP_S = "\u1e9e"
# Typographic quotes, dashes and no-break spaces, which word processors put into exported data.
_FOLD_PUNCTUATION = "\u00a0\u2010\u2011\u2012\u2013\u2014\u2018\u2019\u201a\u201b\u201c\u201d"


@lru_cache(maxsize=1)
def fold_table() -> dict[str, str]:
    """Character -> ASCII replacement for the Latin ranges, derived from unidecode.

    Guarantees: every key is a single non-ASCII character; values are ASCII (possibly several
    characters, e.g. ``ß -> ss``, ``æ -> ae``); ``ü -> u`` (not ``ue``: see the package docs
    for how German transliterations are matched).
    """
    table: dict[str, str] = {}
    for low, high in _FOLD_RANGES:
        for code_point in range(low, high):
            char = chr(code_point)
            folded = unidecode(char)
            if not folded or not folded.isascii() or not folded.strip() or folded == char:
                continue
            multi_allowed = _MULTI_LETTER_RANGE[0] <= code_point < _MULTI_LETTER_RANGE[1]
            if len(folded) == 1 or multi_allowed or char == _CAPITAL_SHARP_S:
                table[char] = folded
    for char in _FOLD_PUNCTUATION:
        table[char] = unidecode(char) or " "
    return table


@lru_cache(maxsize=1)
def _translation() -> dict[int, str]:
    return str.maketrans(fold_table())


def fold_latin(value: str) -> str:
    """Replace accented Latin letters and typographic punctuation by ASCII; keep everything else."""
    return value.translate(_translation())


# Punctuation and white space, deleted from keys and turned into word breaks in addresses. A
# fixed character set rather than a regex class, so that Spark can apply it with translate()
# (no regex per value) and the Python and Spark keys agree exactly.
SEPARATOR_CHARS = string.punctuation + string.whitespace + "\u00ab\u00bb\u00bf\u00a1\u00b7\u00b0\u00a7"
_DELETE_SEPARATORS = str.maketrans("", "", SEPARATOR_CHARS)


def value_key(value: str) -> str:
    """The comparison key of a free-text value: folded, lower-case, without punctuation and
    white space.

    ``"N/A"``, ``"n.a."`` and ``" na "`` all give ``"na"``; ``"Walk-in Guest"`` gives
    ``"walkinguest"``; a value of punctuation only (``"-"``, ``"?"``) gives ``""``.
    """
    return fold_latin(value).lower().translate(_DELETE_SEPARATORS)


def is_junk_key(key: str, placeholders: frozenset[str]) -> bool:
    """True when a keyed value carries no information: empty, a listed placeholder, or one
    character repeated three or more times (``xxx``, ``0000``)."""
    return key == "" or key in placeholders or (len(key) >= 3 and key.replace(key[0], "") == "")


def transliterate(value: str) -> str:
    """Full transliteration to ASCII (any script), used for personal names."""
    return unidecode(value)
