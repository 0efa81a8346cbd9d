"""Reference tables for standardisation, read once on the driver from ``include/reference``.

Everything the rules need (country aliases, nickname map, name vocabulary, placeholder lists,
address abbreviations) is loaded into one immutable :class:`StandardisationReference`. Spark
code turns it into literals, a small broadcast table and UDF closures, so executors never read
these files (they need not be shipped with the wheel).

``python -m scv.standardise.reference countries`` regenerates the CLDR-derived rows of
``country_aliases.csv`` from the installed ``babel`` and keeps the hand-maintained rows;
``python -m scv.standardise.reference names MALE FEMALE LAST`` rebuilds
``name_frequencies.csv`` from the US Census Bureau's 1990 name files (see the README there).
"""

from __future__ import annotations

import csv
import hashlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from scv.config import PROJECT_ROOT
from scv.standardise.nicknames import published_nicknames, resolve_nicknames
from scv.standardise.text import value_key

DEFAULT_REFERENCE_DIR = PROJECT_ROOT / "include" / "reference"

PLACEHOLDER_SCOPES = (
    "any",  # every free-text field
    "name",  # first_name, last_name, full_name
    "not_name",  # every free-text field except names
    "email",  # a whole address
    "email_local",  # the part before @, keyed
    "email_domain",  # the part after @
    "phone",  # the digits of a phone number
    "postcode",
    "date_of_birth",  # ISO dates
)
NAME_TOKEN_KINDS = ("title", "suffix", "company", "particle")


class ReferenceError(ValueError):
    """A reference file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class NameRules:
    """The name vocabulary the Python name standardiser needs; picklable (it travels to the
    executors inside the UDF closure).

    ``frequencies`` maps a folded name to (per cent of people with it as a given name, per cent
    with it as a surname), used to resolve swapped fields. ``placeholders`` are value keys (see
    :func:`scv.standardise.text.value_key`).
    """

    nicknames: dict[str, str]
    frequencies: dict[str, tuple[float, float]]
    titles: frozenset[str]
    suffixes: frozenset[str]
    company_markers: frozenset[str]
    particles: frozenset[str]
    placeholders: frozenset[str]

    @property
    def fingerprint(self) -> str:
        """A digest of the content: equal rules, equal fingerprint (keys per-worker caches)."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            parts.append(sorted(value.items()) if isinstance(value, dict) else sorted(value))
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


class EmailProvider(NamedTuple):
    canonical_domain: str  # googlemail.com delivers to gmail.com
    ignores_dots: bool  # j.smith@ and jsmith@ are one mailbox
    plus_tags: bool  # jsmith+shop@ delivers to jsmith@


@dataclass(frozen=True)
class StandardisationReference:
    """All reference data, immutable. Build it with :func:`load_reference`."""

    country_aliases: Mapping[str, str]  # value key -> ISO 3166-1 alpha-2
    country_codes: frozenset[str]  # the ISO 3166-1 alpha-2 codes
    names: NameRules
    placeholders: Mapping[str, frozenset[str]]  # scope -> keys, as _placeholder_key makes them
    address_abbreviations: Mapping[str, str]
    city_abbreviations: Mapping[str, str]
    email_providers: Mapping[str, EmailProvider]  # lower-case domain -> its rules
    source_dir: str = field(default="", compare=False)

    def placeholder_keys(self, *scopes: str) -> frozenset[str]:
        """The union of the placeholder sets of the given scopes."""
        return frozenset().union(*(self.placeholders.get(s, frozenset()) for s in scopes))


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise ReferenceError(f"reference file not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise ReferenceError(f"{path.name}: missing columns {sorted(missing)}")
        return [{k: (row[k] or "").strip() for k in columns} for row in reader]


def _placeholder_key(scope: str, value: str) -> str:
    """How a placeholder value is compared: most scopes by value key; emails and domains as
    lower-case text (their dots and @ matter); dates as ISO text; phones as digits."""
    if scope in ("email", "email_domain", "date_of_birth"):
        return value.lower()
    if scope == "phone":
        return "".join(ch for ch in value if ch.isdigit())
    return value_key(value)


def load_reference(reference_dir: str | os.PathLike | None = None) -> StandardisationReference:
    """Read and validate the reference tables (default: ``include/reference`` of the project).

    Cached per directory for the life of the process (the result is immutable; a job that must
    see edited files runs in a new process). Raises :class:`ReferenceError` naming the file and
    the problem when a table is missing, lacks a column, or uses an unknown scope or kind.
    """
    return _load_reference(str(Path(reference_dir or DEFAULT_REFERENCE_DIR).resolve()))


@lru_cache(maxsize=8)
def _load_reference(directory: str) -> StandardisationReference:
    base = Path(directory)

    aliases: dict[str, str] = {}
    codes: set[str] = set()
    for row in _read_csv(base / "country_aliases.csv", ("alias", "iso_alpha2", "source")):
        code = row["iso_alpha2"].upper()
        if len(code) != 2 or not code.isalpha():
            raise ReferenceError(f"country_aliases.csv: bad code {code!r} for {row['alias']!r}")
        codes.add(code)
        key = value_key(row["alias"])
        if key and aliases.setdefault(key, code) != code:
            raise ReferenceError(
                f"country_aliases.csv: {row['alias']!r} maps to both {aliases[key]} and {code}"
            )

    placeholders: dict[str, set[str]] = {scope: set() for scope in PLACEHOLDER_SCOPES}
    for row in _read_csv(base / "placeholders.csv", ("value", "scope")):
        if row["scope"] not in placeholders:
            raise ReferenceError(f"placeholders.csv: unknown scope {row['scope']!r}")
        placeholders[row["scope"]].add(_placeholder_key(row["scope"], row["value"]))

    tokens: dict[str, set[str]] = {kind: set() for kind in NAME_TOKEN_KINDS}
    for row in _read_csv(base / "name_tokens.csv", ("token", "kind")):
        if row["kind"] not in tokens:
            raise ReferenceError(f"name_tokens.csv: unknown kind {row['kind']!r}")
        tokens[row["kind"]].add(row["token"].lower())

    overrides = {
        row["name"].lower(): row["canonical"].lower()
        for row in _read_csv(base / "nickname_overrides.csv", ("name", "canonical"))
    }
    nickname_map = resolve_nicknames(published_nicknames(), overrides)
    frequencies = {
        row["name"].lower(): (float(row["given_pct"]), float(row["surname_pct"]))
        for row in _read_csv(base / "name_frequencies.csv", ("name", "given_pct", "surname_pct"))
    }

    abbreviations: dict[str, dict[str, str]] = {"address": {}, "city": {}}
    for row in _read_csv(base / "address_abbreviations.csv", ("word", "abbreviation", "scope")):
        if row["scope"] not in abbreviations:
            raise ReferenceError(f"address_abbreviations.csv: unknown scope {row['scope']!r}")
        abbreviations[row["scope"]][row["word"].lower()] = row["abbreviation"].lower()

    providers: dict[str, EmailProvider] = {}
    for row in _read_csv(
        base / "email_providers.csv", ("domain", "canonical_domain", "ignores_dots", "plus_tags")
    ):
        flags = [row["ignores_dots"].lower(), row["plus_tags"].lower()]
        if any(f not in ("true", "false") for f in flags):
            raise ReferenceError(f"email_providers.csv: flags of {row['domain']!r} must be true/false")
        providers[row["domain"].lower()] = EmailProvider(
            row["canonical_domain"].lower(), flags[0] == "true", flags[1] == "true"
        )

    name_placeholders = frozenset(placeholders["any"] | placeholders["name"])
    return StandardisationReference(
        country_aliases=MappingProxyType(aliases),
        country_codes=frozenset(codes),
        names=NameRules(
            nicknames=nickname_map,
            frequencies=frequencies,
            titles=frozenset(tokens["title"]),
            suffixes=frozenset(tokens["suffix"]),
            company_markers=frozenset(tokens["company"]),
            particles=frozenset(tokens["particle"]),
            placeholders=name_placeholders,
        ),
        placeholders=MappingProxyType({k: frozenset(v) for k, v in placeholders.items()}),
        address_abbreviations=MappingProxyType(abbreviations["address"]),
        city_abbreviations=MappingProxyType(abbreviations["city"]),
        email_providers=MappingProxyType(providers),
        source_dir=directory,
    )


# ISO 3166-1 has no entry for these CLDR territories (EU, UN, pseudo and outlying regions).
_NOT_ISO_3166_1 = set("AC CP CQ DG EA EU EZ IC QO TA UN XA XB XK ZZ".split())
_CLDR_LOCALES = ("en", "de", "fr", "es", "it", "nl", "pt", "ga")


def build_country_aliases(manual_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Country alias rows: ISO alpha-2 and alpha-3 codes and CLDR names in a few European
    languages (from ``babel``), plus the hand-maintained ``manual`` rows.

    Precedence when two aliases fold to the same key: manual, alpha-2, alpha-3, English, then
    the other locales in order; a lower-precedence alias that collides is dropped.
    """
    from babel import Locale
    from babel.core import get_global

    english = Locale("en").territories
    codes = sorted(c for c in english if len(c) == 2 and c.isalpha() and c not in _NOT_ISO_3166_1)
    code_set = set(codes)
    rows = [dict(r, source="manual") for r in manual_rows]
    rows += [{"alias": c, "iso_alpha2": c, "source": "iso-alpha2"} for c in codes]
    for alias, targets in sorted(get_global("territory_aliases").items()):
        if len(alias) == 3 and alias.isalpha() and len(targets) == 1 and targets[0] in code_set:
            rows.append({"alias": alias, "iso_alpha2": targets[0], "source": "iso-alpha3"})
    for locale in _CLDR_LOCALES:
        names = Locale(locale).territories
        rows += [
            {"alias": names[c], "iso_alpha2": c, "source": f"cldr-{locale}"}
            for c in codes
            if c in names
        ]
    kept: dict[str, dict[str, str]] = {}
    for row in rows:
        kept.setdefault(value_key(row["alias"]), row)
    return list(kept.values())


def _rebuild_countries(reference_dir: Path) -> None:
    path = reference_dir / "country_aliases.csv"
    current = _read_csv(path, ("alias", "iso_alpha2", "source")) if path.exists() else []
    manual = [
        {"alias": r["alias"], "iso_alpha2": r["iso_alpha2"]} for r in current if r["source"] == "manual"
    ]
    rows = build_country_aliases(manual)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["alias", "iso_alpha2", "source"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} aliases ({len(manual)} manual) to {path}")


# Surnames rarer than this (per cent of the population) are left out: below it the census file
# rounds every frequency to 0.000, and the swap rule needs a frequency to compare.
_MIN_SURNAME_PCT = 0.001


def build_name_frequencies(male: Path, female: Path, last: Path) -> list[dict[str, str]]:
    """Rows (name, given_pct, surname_pct) from the census files ``dist.male.first``,
    ``dist.female.first`` and ``dist.all.last`` (fixed-width: name, per cent, cumulative, rank).

    ``given_pct`` is the larger of the male and female frequency halved (each is a per cent of
    one sex), so that it compares with ``surname_pct`` (a per cent of everyone).
    """

    def read(path: Path) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in path.read_text(encoding="latin-1").splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0].isalpha() and parts[0] != "NAME":
                out[parts[0].lower()] = float(parts[1])
        return out

    given: dict[str, float] = {}
    for table in (read(male), read(female)):
        for name, pct in table.items():
            given[name] = max(given.get(name, 0.0), pct / 2)
    surnames = {n: p for n, p in read(last).items() if p >= _MIN_SURNAME_PCT}
    return [
        {
            "name": n,
            "given_pct": f"{given.get(n, 0.0):.4f}",
            "surname_pct": f"{surnames.get(n, 0.0):.3f}",
        }
        for n in sorted(set(given) | set(surnames))
    ]


def _rebuild_names(reference_dir: Path, male: str, female: str, last: str) -> None:
    rows = build_name_frequencies(Path(male), Path(female), Path(last))
    path = reference_dir / "name_frequencies.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["name", "given_pct", "surname_pct"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} names to {path}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["countries"] and len(sys.argv) == 2:
        _rebuild_countries(DEFAULT_REFERENCE_DIR)
    elif sys.argv[1:2] == ["names"] and len(sys.argv) == 5:
        _rebuild_names(DEFAULT_REFERENCE_DIR, *sys.argv[2:])
    else:
        sys.exit(
            "usage: python -m scv.standardise.reference countries\n"
            "       python -m scv.standardise.reference names "
            "dist.male.first dist.female.first dist.all.last"
        )
