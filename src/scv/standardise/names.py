"""Personal names: folding, titles and suffixes, "Last, First", swapped fields, nicknames, phonetics.

Pure Python (unidecode and Double Metaphone have no Spark equivalent); the Spark side calls
:class:`NameStandardiser` from a pandas UDF, one instance per Python worker so its memos live
across tasks and Arrow batches. Everything here is deterministic: the same three inputs and
rules always give the same :class:`StandardisedName`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from metaphone import doublemetaphone

from scv.standardise.reference import NameRules
from scv.standardise.text import is_junk_key, transliterate


class StandardisedName(NamedTuple):
    first_name: str | None
    last_name: str | None
    first_name_canonical: str | None
    first_name_phonetic: str | None
    last_name_phonetic: str | None
    looks_like_company: bool
    # Each is True when that input was non-blank but nulled as a placeholder or junk.
    first_name_junk: bool
    last_name_junk: bool
    full_name_junk: bool


# Apostrophes and dots join their neighbours (O'Brien -> obrien, J.R. -> jr); every other
# non-letter separates words, except the comma, which marks "Last, First".
_JOINERS = re.compile(r"['`.]")
_SEPARATORS = re.compile(r"[^a-z,]+")
# German umlaut transliterations (mueller, jaeger) collapse for the phonetic key only: in the
# name itself the rule would also hit samuel, michael and joel.
_UMLAUT_DIGRAPHS = re.compile(r"(?<=.)([aou])e")


class _Parsed(NamedTuple):
    parts: tuple[tuple[str, ...], ...]  # comma-separated parts, each a tuple of words
    junk: bool  # non-blank, but a placeholder, or no name left once titles/suffixes are gone
    company: bool


_NOTHING = _Parsed((), False, False)


def _parse(raw: str | None, rules: NameRules) -> _Parsed:
    if raw is None or not raw.strip():
        return _NOTHING
    text = _SEPARATORS.sub(" ", _JOINERS.sub("", transliterate(raw).lower()))
    parts = tuple(tuple(p.split()) for p in text.split(","))
    parts = tuple(p for p in parts if p)
    words = [w for p in parts for w in p]
    company = any(w in rules.company_markers for w in words)
    core = [w for w in words if w not in rules.titles and w not in rules.suffixes]
    # Junk as written ("walk-in guest") or once titles are gone ("Mr Test", "Mr").
    if any(is_junk_key("".join(w), rules.placeholders) for w in (words, core)):
        return _Parsed((), True, company)
    return _Parsed(parts, False, company)


def _given(words: tuple[str, ...] | list[str], rules: NameRules) -> tuple[str, ...]:
    """Given-name words without leading titles, trailing suffixes and middle initials."""
    words = list(words)
    while words and words[0] in rules.titles:
        words.pop(0)
    while len(words) > 1 and words[-1] in rules.suffixes:
        words.pop()
    if any(len(w) > 1 for w in words):
        words = [w for w in words if len(w) > 1]
    return tuple(words)


def _family(words: tuple[str, ...] | list[str], rules: NameRules) -> tuple[str, ...]:
    """Family-name words without leading titles and trailing suffixes (never emptied by a
    suffix alone: a surname that is only "junior" stays)."""
    words = list(words)
    while words and words[0] in rules.titles:
        words.pop(0)
    while len(words) > 1 and words[-1] in rules.suffixes:
        words.pop()
    return tuple(words)


def _split_full(parsed: _Parsed, rules: NameRules) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(given words, family words, order_was_explicit) of a one-field name."""
    parts = [
        p for p in parsed.parts if not all(w in rules.titles or w in rules.suffixes for w in p)
    ]
    if len(parts) >= 2:  # "Last, First" (further parts, e.g. a middle name list, are ignored)
        return _given(parts[1], rules), _family(parts[0], rules), True
    if not parts:
        return (), (), False
    words = list(_family(_given_titles_only(parts[0], rules), rules))
    if len(words) == 1:
        # One word: a first name if it is more often a given name than a surname.
        given_pct, surname_pct = rules.frequencies.get(words[0], (0.0, 0.0))
        return (tuple(words), (), False) if given_pct > surname_pct else ((), tuple(words), False)
    start = len(words) - 1
    while start > 1 and words[start - 1] in rules.particles:  # van der Berg, de la Cruz
        start -= 1
    return _given(words[:start], rules), tuple(words[start:]), False


def _is_one_letter(parsed: _Parsed) -> bool:
    return len(parsed.parts) == 1 and len(parsed.parts[0]) == 1 and len(parsed.parts[0][0]) == 1


def _given_titles_only(words: tuple[str, ...], rules: NameRules) -> list[str]:
    words = list(words)
    while words and words[0] in rules.titles:
        words.pop(0)
    return words


@lru_cache(maxsize=200_000)
def _phonetic(word: str) -> str | None:
    code = doublemetaphone(_UMLAUT_DIGRAPHS.sub(r"\1", word))[0]
    return code or None


# Swapping two single-word names needs strong evidence: the likelihood ratio (census
# frequency as a surname over frequency as a given name, smoothed) of the first word times the
# inverse ratio of the last word must reach SWAP_EVIDENCE, with each word leaning its own way.
# "Smith Colin" and "Hughes Malcolm" swap; "Martin Thomas" (both common either way) and names
# the census does not know (many Irish, German, French names) stay as they are.
SWAP_EVIDENCE = 25.0
_SMOOTHING = 0.0005  # per cent: about the frequency of the rarest listed surnames


def _surname_ratio(word: str, rules: NameRules) -> float:
    given_pct, surname_pct = rules.frequencies.get(word, (0.0, 0.0))
    return (surname_pct + _SMOOTHING) / (given_pct + _SMOOTHING)


def _looks_swapped(given: tuple[str, ...], family: tuple[str, ...], rules: NameRules) -> bool:
    """True for "Smith" / "Colin": a first name that is clearly a surname next to a surname that
    is clearly a given name."""
    if len(given) != 1 or len(family) != 1:
        return False
    first, last = _surname_ratio(given[0], rules), _surname_ratio(family[0], rules)
    return first > 1 > last and first / last >= SWAP_EVIDENCE


def standardise_name(
    first_name: str | None,
    last_name: str | None,
    full_name: str | None,
    rules: NameRules,
    *,
    parse: Callable[[str | None], _Parsed] | None = None,
) -> StandardisedName:
    """Standardise one record's name fields.

    Separate first/last fields win; a missing one is filled from ``full_name``. A comma in any
    field means "Last, First". Results are lower-case ASCII words separated by single spaces,
    or None. ``first_name_canonical`` and ``first_name_phonetic`` are of the first given word;
    ``last_name_phonetic`` is of the whole surname without spaces. ``parse`` may replace the
    per-field parser by a memoised equivalent.
    """
    parse = parse or (lambda raw: _parse(raw, rules))
    first, last, full = parse(first_name), parse(last_name), parse(full_name)

    given: tuple[str, ...] = ()
    family: tuple[str, ...] = ()
    explicit = False
    if len(first.parts) >= 2 and not last.parts:  # "Smith, John" typed into the first-name field
        given, family, explicit = _split_full(first, rules)
    elif len(last.parts) >= 2 and not first.parts:
        given, family, explicit = _split_full(last, rules)
    else:
        given = _given([w for p in first.parts for w in p], rules)
        family = _family([w for p in last.parts for w in p], rules)
    if (not given or not family) and full.parts:
        full_given, full_family, full_explicit = _split_full(full, rules)
        if not given and not family:
            explicit = full_explicit
        given = given or full_given
        family = family or full_family
    if not explicit and _looks_swapped(given, family, rules):
        given, family = family, given
    # A one-letter surname ("X", or an initial typed into the wrong field) identifies nobody.
    one_letter_surname = len(family) == 1 and len(family[0]) == 1
    if one_letter_surname:
        family = ()

    first_out = " ".join(given) or None
    last_out = " ".join(family) or None
    head = given[0] if given else None
    return StandardisedName(
        first_name=first_out,
        last_name=last_out,
        first_name_canonical=rules.nicknames.get(head, head) if head else None,
        first_name_phonetic=_phonetic(head) if head else None,
        last_name_phonetic=_phonetic("".join(family)) if family else None,
        looks_like_company=first.company or last.company or full.company,
        first_name_junk=first.junk,
        last_name_junk=last.junk or (one_letter_surname and _is_one_letter(last)),
        full_name_junk=full.junk,
    )


class NameStandardiser:
    """:func:`standardise_name` with bounded memos of whole records and of single fields.

    Names repeat a lot (many Smiths, many Johns), so most rows are a dictionary hit and most
    new records reuse parsed fields. Not thread-safe: one per Python worker.
    """

    def __init__(self, rules: NameRules, max_entries: int = 100_000):
        self._rules = rules
        self._max = max_entries
        self._records: dict[tuple, StandardisedName] = {}
        self._fields: dict[str | None, _Parsed] = {}

    def _parse(self, raw: str | None) -> _Parsed:
        hit = self._fields.get(raw)
        if hit is None:
            if len(self._fields) >= self._max:
                self._fields.clear()
            hit = self._fields[raw] = _parse(raw, self._rules)
        return hit

    def __call__(self, first: str | None, last: str | None, full: str | None) -> StandardisedName:
        key = (first, last, full)
        hit = self._records.get(key)
        if hit is None:
            if len(self._records) >= self._max:
                self._records.clear()
            hit = standardise_name(first, last, full, self._rules, parse=self._parse)
            self._records[key] = hit
        return hit
