"""Native Spark column rules: emails, phones (pre-cleaning), postcodes, dates of birth,
addresses, cities and countries.

Every rule is a pure ``Column`` builder with no Python UDF, so it runs in the JVM. Rules work
in two steps: a ``prepare_*`` expression (folding, keys, word splitting) computed once per
field in an early projection, and the rule proper, which reads the prepared column as often as
it needs to. Folding is a long ``translate``; writing it once per field keeps plans small and
avoids recomputing it.

A rule that can null a value returns a :class:`Rule`: the value plus the two reasons for nulling
it, which feed ``placeholder_count`` and the standardisation report.

Regular expressions are used only where nothing else will do (email syntax, postcode formats,
digits of a phone number): each costs a conversion to a Java string and a match, a microsecond
or two per value, and there are a dozen text fields per record. Keys and word breaks use
translate() and plain replaces, date layouts are told apart by their separators, and no lambda
functions are used (they would switch off whole-stage code generation).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from pyspark.sql import Column
from pyspark.sql import functions as F

from scv.standardise.reference import EmailProvider
from scv.standardise.text import SEPARATOR_CHARS, fold_table


class Rule(NamedTuple):
    value: Column  # the standardised value; null when absent, a placeholder or invalid
    placeholder: Column  # boolean, never null: the input was non-blank junk
    invalid: Column  # boolean, never null: non-blank, not junk, and failed the rule


# A sane address, not RFC 5322: dot-atoms around one @, a domain of labels and a letter TLD.
# Possessive quantifiers keep the match linear on long junk.
EMAIL_PATTERN = (
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]++(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]++)*+"
    r"@([a-z0-9]++(-++[a-z0-9]++)*+\.)++[a-z]{2,}+$"
)
# Top-level domains reserved by RFC 2606 for tests and documentation: never a real mailbox.
_RESERVED_TLDS = ("test", "example", "invalid", "localhost")

GB_POSTCODE = r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$"
IE_EIRCODE = r"^([AC-FHKNPRTV-Y][0-9]{2}|D6W)([0-9AC-FHKNPRTV-Y]{4})$"
# Crown dependencies use the UK format.
_GB_FORMAT_COUNTRIES = ("GB", "GG", "JE", "IM")


# --- shared primitives -------------------------------------------------------------------------


def present(column: Column) -> Column:
    """True when the value is a non-blank string (never null)."""
    return F.coalesce(F.trim(column) != F.lit(""), F.lit(False))


def fold(column: Column) -> Column:
    """Accented Latin letters and typographic punctuation to ASCII, as
    :func:`scv.standardise.text.fold_latin` does; other scripts are kept. ASCII values (equal
    character and byte lengths), the vast majority, skip the translation."""
    table = fold_table()
    singles = {k: v for k, v in table.items() if len(v) == 1}
    folded = F.translate(column, "".join(singles), "".join(singles.values()))
    for char, replacement in sorted((k, v) for k, v in table.items() if len(v) > 1):
        folded = F.replace(folded, F.lit(char), F.lit(replacement))
    return F.when(F.length(column) != F.octet_length(column), folded).otherwise(column)


def _delete_separators(column: Column) -> Column:
    return F.translate(column, SEPARATOR_CHARS, "")


def value_key(column: Column) -> Column:
    """Folded, lower-case, without punctuation and white space; exactly as
    :func:`scv.standardise.text.value_key`."""
    return _delete_separators(F.lower(fold(column)))


def _all_one_character(key: Column) -> Column:
    return F.replace(key, F.substring(key, 1, 1), F.lit("")) == F.lit("")


def is_junk_key(key: Column, placeholders: Iterable[str]) -> Column:
    """As :func:`scv.standardise.text.is_junk_key`; a null key is not junk."""
    junk = (
        (key == F.lit(""))
        | key.isin(sorted(placeholders))
        | ((F.length(key) >= 3) & _all_one_character(key))
    )
    return F.coalesce(junk, F.lit(False))


def _rule(value: Column, placeholder: Column, invalid: Column) -> Rule:
    placeholder = F.coalesce(placeholder, F.lit(False))
    invalid = F.coalesce(invalid, F.lit(False)) & ~placeholder
    return Rule(F.when(~placeholder & ~invalid, value), placeholder, invalid)


# --- email --------------------------------------------------------------------------------------


class EmailParts(NamedTuple):
    address: Column  # trimmed, lower-case, without a mailto: prefix
    local: Column  # before the first @
    domain: Column  # after the last @


def prepare_email(column: Column) -> EmailParts:
    """The address trimmed and lower-cased, and its two parts (computed once per row)."""
    trimmed = F.lower(F.trim(column))
    address = F.when(trimmed.startswith("mailto:"), F.substring(trimmed, 8, 1_000)).otherwise(trimmed)
    return EmailParts(address, F.substring_index(address, "@", 1), F.substring_index(address, "@", -1))


def _reserved_domain(domain: Column) -> Column:
    checks = [(domain == F.lit(t)) | domain.endswith(f".{t}") for t in _RESERVED_TLDS]
    result = checks[0]
    for check in checks[1:]:
        result = result | check
    return result


def email(
    parts: EmailParts,
    *,
    providers: Mapping[str, EmailProvider],
    placeholder_addresses: Iterable[str],
    placeholder_locals: Iterable[str],
    placeholder_domains: Iterable[str],
    placeholder_values: Iterable[str],
) -> Rule:
    """A validated address with provider aliases removed (``parts`` from :func:`prepare_email`).

    For providers in the table the domain becomes its canonical domain (googlemail.com ->
    gmail.com), ``+tags`` are dropped where the provider delivers them to the base mailbox and
    dots in the local part are dropped where the provider ignores them (gmail). The result is a
    matching key, not necessarily a deliverable address.
    """
    address, local, domain = parts
    has_at = address.contains("@")
    # Addresses are ASCII, so their keys need no folding.
    placeholder = present(address) & F.when(
        has_at,
        address.isin(sorted(placeholder_addresses))
        | domain.isin(sorted(placeholder_domains))
        | _reserved_domain(domain)
        | is_junk_key(_delete_separators(local), placeholder_locals),
    ).otherwise(is_junk_key(_delete_separators(address), placeholder_values))
    canonical_domain = domain
    for name, provider in sorted(providers.items()):
        if provider.canonical_domain != name:
            canonical_domain = F.when(domain == name, F.lit(provider.canonical_domain)).otherwise(
                canonical_domain
            )
    plus_domains = sorted(d for d, p in providers.items() if p.plus_tags)
    dotless_domains = sorted(d for d, p in providers.items() if p.ignores_dots)
    local = F.when(domain.isin(plus_domains), F.substring_index(local, "+", 1)).otherwise(local)
    local = F.when(domain.isin(dotless_domains), F.replace(local, F.lit("."), F.lit(""))).otherwise(
        local
    )
    valid = address.rlike(EMAIL_PATTERN) & (F.length(address) <= 254) & (local != F.lit(""))
    invalid = present(address) & ~F.coalesce(valid, F.lit(False))
    return _rule(F.concat(local, F.lit("@"), canonical_domain), placeholder, invalid)


# --- phone --------------------------------------------------------------------------------------


def prepare_phone(column: Column) -> Column:
    """Trimmed, without an extension ("x 12", "ext. 12") or the UK "(0)" after a country code."""
    trimmed = F.trim(column)
    may_have_extension = F.lower(trimmed).contains("x") | trimmed.contains("#")
    without_extension = F.when(
        may_have_extension,
        F.regexp_replace(trimmed, r"(?i)\s*(ext\.?|extension|x|#)\s*[0-9]+\s*$", ""),
    ).otherwise(trimmed)
    return F.replace(without_extension, F.lit("(0)"), F.lit(""))


class PhoneInput(NamedTuple):
    number: Column  # "+digits" or "digits"; null when absent or a placeholder
    placeholder: Column


def phone_input(prepared: Column, *, placeholder_digits: Iterable[str]) -> PhoneInput:
    """The number reduced to an optional leading ``+`` and its digits, for the phonenumbers UDF.

    A value with no digits ("n/a"), one digit repeated ("000-000", "999"), a subscriber number
    of seven equal digits ("+44 0000 000000", "07000000000") or a listed dummy sequence
    ("0123456789") is a placeholder.
    """
    digits = F.regexp_replace(prepared, r"[^0-9]", "")
    placeholder = present(prepared) & (
        (digits == F.lit(""))
        | _all_one_character(digits)
        | ((F.length(digits) >= 7) & _all_one_character(F.substring(digits, -7, 7)))
        | digits.isin(sorted(placeholder_digits))
    )
    number = F.concat(F.when(prepared.startswith("+"), F.lit("+")).otherwise(F.lit("")), digits)
    return PhoneInput(F.when(present(prepared) & ~placeholder, number), placeholder)


# --- postcode -----------------------------------------------------------------------------------


def prepare_postcode(column: Column) -> Column:
    """Folded, upper-case letters and digits only."""
    return F.upper(_delete_separators(fold(column)))


def postcode(raw: Column, compact: Column, country: Column, *, placeholders: Iterable[str]) -> Rule:
    """Postcode normalised for its country (an ISO alpha-2 column).

    GB (and GG, JE, IM): upper-case, one space before the inward code, validated.
    US: the 5-digit ZIP (ZIP+4 truncated). DE, FR: 5 digits, an optional D/F prefix removed.
    US/DE/FR codes of 4 digits get their leading zero back (spreadsheets drop it).
    IE: an Eircode, "A65 F4E2", validated. Other or unknown countries: upper-case letters and
    digits only. A value failing its country's format is invalid.
    """
    placeholder = present(raw) & is_junk_key(F.lower(compact), placeholders)

    # Both formats end in a fixed-length part after the space: insert it by position.
    spaced_before_last_3 = F.concat(
        F.left(compact, F.length(compact) - F.lit(3)),
        F.lit(" "),
        F.substring(compact, -3, 3),
    )
    spaced_after_first_3 = F.concat(F.substring(compact, 1, 3), F.lit(" "), F.substring(compact, 4, 4))
    gb = F.when(compact.rlike(GB_POSTCODE) | (compact == F.lit("GIR0AA")), spaced_before_last_3)
    ie = F.when(compact.rlike(IE_EIRCODE), spaced_after_first_3)

    def five_digits(pattern: str) -> Column:
        digits = F.regexp_extract(compact, pattern, 1)
        return F.when(digits != F.lit(""), F.lpad(digits, 5, "0"))

    value = (
        F.when(country.isin(*_GB_FORMAT_COUNTRIES), gb)
        .when(country == F.lit("US"), five_digits(r"^([0-9]{4,5})(?:[0-9]{4})?$"))
        .when(country == F.lit("DE"), five_digits(r"^D?([0-9]{4,5})$"))
        .when(country == F.lit("FR"), five_digits(r"^F?([0-9]{4,5})$"))
        .when(country == F.lit("IE"), ie)
        .otherwise(F.when(compact != F.lit(""), compact))
    )
    return _rule(value, placeholder, present(raw) & value.isNull())


# --- date of birth ------------------------------------------------------------------------------


class BirthDate(NamedTuple):
    value: Column
    placeholder: Column
    unparseable: Column
    implausible: Column


def parse_date_text(text: Column, default_country: Column) -> Column:
    """A date from text in one of the supported layouts, or null.

    The layout is chosen from the separator and its position (cheap character tests rather than
    a regex per layout); try_to_date then rejects anything that does not fit it exactly. Month
    names are matched case-insensitively, in English.
    """
    fifth = F.substring(text, 5, 1)
    # An ISO date may carry a time ("1980-03-05T00:00:00", "1980-03-05 00:00").
    iso_date = F.substring_index(F.substring_index(text, "T", 1), " ", 1)
    # Java knows "Sep", not the common "Sept"; commas are optional ("March 5, 1980").
    month_text = F.replace(F.lower(text), F.lit(","), F.lit(""))
    month_text = F.replace(month_text, F.lit("sept "), F.lit("sep "))
    return (
        F.when(fifth == F.lit("-"), F.try_to_date(iso_date, "yyyy-M-d"))
        .when(fifth == F.lit("/"), F.try_to_date(text, "yyyy/M/d"))
        .when(F.upper(text) != F.lower(text), F.try_to_date(month_text, _MONTH_NAME_LAYOUTS))
        .when(
            text.contains("/"),
            # Day first everywhere except US sources, where month first is the convention.
            F.when(default_country == F.lit("US"), F.try_to_date(text, "M/d/yyyy")).otherwise(
                F.try_to_date(text, "d/M/yyyy")
            ),
        )
        .when(text.contains("."), F.try_to_date(text, "d.M.yyyy"))
        .when(text.contains("-"), F.try_to_date(text, "d-M-yyyy"))
        .when(F.length(text) == F.lit(8), F.try_to_date(text, "yyyyMMdd"))
    )


# One pattern with optional sections: each of these layouts in a single parse.
_MONTH_NAME_LAYOUTS = "[d MMMM yyyy][d MMM yyyy][MMMM d yyyy][MMM d yyyy]"


def date_of_birth(
    parsed: Column,
    raw_present: Column,
    text_placeholder: Column,
    as_of: Column,
    *,
    placeholder_dates: Iterable[str],
) -> BirthDate:
    """A plausible date of birth, or null.

    ``parsed`` is the input as a date (see :func:`parse_date_text` for text), ``raw_present``
    whether the input was non-blank, ``text_placeholder`` whether it was placeholder text ("n/a").
    Implausible dates (before 1900, or a person younger than 16 on ``as_of``, which includes
    future dates) and placeholder dates (1900-01-01) are nulled.
    """
    dates = [dt.date.fromisoformat(d) for d in sorted(placeholder_dates)]
    placeholder = F.coalesce(text_placeholder | parsed.isin(dates), F.lit(False))
    unparseable = raw_present & parsed.isNull() & ~placeholder
    too_old = parsed < F.lit(dt.date(1900, 1, 1))
    too_young = parsed > F.add_months(as_of, -16 * 12)
    implausible = F.coalesce(~placeholder & (too_old | too_young), F.lit(False))
    return BirthDate(F.when(~placeholder & ~implausible, parsed), placeholder, unparseable, implausible)


# --- address, city ------------------------------------------------------------------------------


def prepare_words(column: Column) -> Column:
    """Folded, lower-case words of letters and digits separated by single spaces ('' if none).
    Apostrophes join their neighbours (St John's -> st johns)."""
    # translate() maps every separator to a space and deletes the apostrophes, which come last
    # in the matching string and have no replacement character.
    separators = SEPARATOR_CHARS.replace("'", "").replace("`", "")
    text = F.translate(F.lower(fold(column)), separators + "'`", " " * len(separators))
    for _ in range(3):  # collapses runs of up to 8 spaces
        text = F.replace(text, F.lit("  "), F.lit(" "))
    return F.trim(text)


def _abbreviate(words: Column, abbreviations: Mapping[str, str]) -> Column:
    # Whole-word replaces as plain substring replaces on the space-padded text: UTF8String.replace
    # needs no regex and no conversion to a Java string, and unlike transform() over the split
    # words it keeps the projection eligible for whole-stage code generation. (A word repeated
    # back to back, "road road", is replaced once: the two matches would share a space.)
    padded = F.concat(F.lit(" "), words, F.lit(" "))
    for word, short in sorted(abbreviations.items()):
        padded = F.replace(padded, F.lit(f" {word} "), F.lit(f" {short} "))
    return F.trim(padded)


def address_text(
    raw: Column,
    words: Column,
    *,
    abbreviations: Mapping[str, str],
    placeholders: Iterable[str],
    german_street_suffix: bool = False,
) -> Rule:
    """Lower-case folded words (``words`` from :func:`prepare_words`) with abbreviations
    normalised word by word (street -> st, road -> rd).

    With ``german_street_suffix``, compounds ending in -strasse (folded -straße) end in -str like
    the standalone abbreviation, so "Hauptstraße" and "Hauptstr." agree.
    """
    placeholder = present(raw) & is_junk_key(F.replace(words, F.lit(" "), F.lit("")), placeholders)
    text = words
    if german_street_suffix:
        text = F.when(
            words.contains("strasse"), F.regexp_replace(words, r"(\p{L})strasse\b", "$1str")
        ).otherwise(words)
    value = F.when(words != F.lit(""), _abbreviate(text, abbreviations))
    return _rule(value, placeholder, F.lit(False))


# --- country ------------------------------------------------------------------------------------


def country(raw: Column, key: Column, iso_code: Column, *, placeholders: Iterable[str]) -> Rule:
    """ISO alpha-2 from the alias lookup (``key`` is :func:`value_key` of the raw value and
    ``iso_code`` the joined alias table); a non-blank value that is neither a placeholder nor a
    known alias is invalid ("unrecognised")."""
    placeholder = present(raw) & is_junk_key(key, placeholders)
    return _rule(iso_code, placeholder, present(raw) & iso_code.isNull())
