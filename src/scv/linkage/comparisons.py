"""Splink comparisons for the silver person-record columns (see docs/data-contracts.md).

Each function returns a fresh Splink ``ComparisonCreator``; levels are listed from the most to the
least specific, and a record pair falls into the first level whose condition holds. Custom levels
are written in Spark SQL and marked as such (``base_dialect_str="spark"``), so that Splink can
translate them when the same comparisons run on DuckDB (the benchmark's baseline).

The silver columns these read are produced by standardisation: names are lower-case and folded,
``first_name_canonical`` maps nicknames to a canonical form (bill -> william), the ``*_phonetic``
columns hold a Double Metaphone code, ``date_of_birth`` is a ``DateType``, ``phone`` is E.164.
"""

from __future__ import annotations

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator


def _spark_level(sql_condition: str, label: str) -> cll.CustomLevel:
    return cll.CustomLevel(sql_condition, label_for_charts=label, base_dialect_str="spark")


def first_name_comparison() -> ComparisonCreator:
    """Exact, nickname-canonical, near-typo, phonetic, initial, swapped and loose levels.

    The canonical level sits above the typo levels because "bill" and "william" are far apart by
    any string distance but are the same name; its own term-frequency adjustment keeps a shared
    common name ("william") worth less than a shared rare one. An initial ("j") agrees with any
    name it starts. A first name equal to the other record's last name is a swapped pair that
    standardisation did not resolve. Only what reaches the bottom level is a conflict of names.
    """
    return cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            cll.NullLevel("first_name"),
            cll.ExactMatchLevel("first_name", term_frequency_adjustments=True),
            cll.ExactMatchLevel("first_name_canonical", term_frequency_adjustments=True)
            .configure(label_for_charts="Same canonical name (nickname)"),
            cll.JaroWinklerLevel("first_name", 0.92),
            _spark_level(
                "first_name_phonetic_l = first_name_phonetic_r", "Same phonetic code"
            ),
            _spark_level(
                "(length(first_name_l) = 1 OR length(first_name_r) = 1) "
                "AND substr(first_name_l, 1, 1) = substr(first_name_r, 1, 1)",
                "Initial agrees",
            ),
            _spark_level(
                "first_name_l = last_name_r OR first_name_r = last_name_l",
                "Equals the other last name (swapped)",
            ),
            cll.JaroWinklerLevel("first_name", 0.8),
            cll.ElseLevel(),
        ],
    )


def last_name_comparison() -> ComparisonCreator:
    """Exact (term-frequency adjusted), near-typo, phonetic, swapped and loose levels."""
    return cl.CustomComparison(
        output_column_name="last_name",
        comparison_levels=[
            cll.NullLevel("last_name"),
            cll.ExactMatchLevel("last_name", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("last_name", 0.92),
            _spark_level("last_name_phonetic_l = last_name_phonetic_r", "Same phonetic code"),
            _spark_level(
                "last_name_l = first_name_r OR last_name_r = first_name_l",
                "Equals the other first name (swapped)",
            ),
            cll.JaroWinklerLevel("last_name", 0.8),
            cll.ElseLevel(),
        ],
    )


def date_of_birth_comparison() -> ComparisonCreator:
    """Exact, day/month transposed, one of year/month/day off, same year.

    Twins share a date of birth, so this comparison alone never decides a match; the first-name
    comparison separates them.
    """
    same_year = "year(date_of_birth_l) = year(date_of_birth_r)"
    same_month = "month(date_of_birth_l) = month(date_of_birth_r)"
    same_day = "dayofmonth(date_of_birth_l) = dayofmonth(date_of_birth_r)"
    return cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_levels=[
            cll.NullLevel("date_of_birth"),
            cll.ExactMatchLevel("date_of_birth"),
            _spark_level(
                f"{same_year} AND month(date_of_birth_l) = dayofmonth(date_of_birth_r) "
                "AND dayofmonth(date_of_birth_l) = month(date_of_birth_r)",
                "Day and month transposed",
            ),
            _spark_level(
                f"({same_year} AND {same_month}) OR ({same_year} AND {same_day}) "
                f"OR ({same_month} AND {same_day})",
                "One of year, month, day differs",
            ),
            _spark_level(same_year, "Same year"),
            cll.ElseLevel(),
        ],
    )


def _username(side: str) -> str:
    # Everything before the first "@" (silver builds every address as local@domain). Not
    # regexp_extract: the u sample scores millions of pairs and the regex made email the
    # costliest comparison (9,041,878 pairs at 100,000 people: 12.1 s -> 6.9 s, same levels for
    # every pair); not substring_index (5.1 s), which DuckDB, the benchmark's baseline, lacks.
    return f"substr(email_{side}, 1, instr(email_{side}, '@') - 1)"


def email_comparison() -> ComparisonCreator:
    """Exact address; the same user name with a digit at another domain; the same user name
    without one, which counts neither way.

    User names are mostly built from names ("andrew.johnson", "cjones"), so namesakes share
    them, and a plain "same user name" level, whose u probability comes from random pairs,
    cannot know that: at 100,000 generated people it linked thousands of pairs of different
    people (same name, another provider, no date of birth) and precision fell to 0.914. A digit
    ("j.smith71", a birth year) makes a user name far more individual, so only then is it
    evidence. Without one it is a neutral level (a null level: no weight, like a missing
    value), not "another email", which would count against a true match that only changed
    provider. The test deliberately reads no other column: a level that read the names would
    make EM treat email as blocked by the name training rule and leave its m values untrained.
    There is deliberately no fuzzy user-name level, for the same reason as above.
    """
    user_l, user_r = _username("l"), _username("r")
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email"),
            _spark_level(
                f"{user_l} = {user_r} AND {user_l} RLIKE '[0-9]'", "Same user name with a digit"
            ),
            _spark_level(f"{user_l} = {user_r}", "Same user name, no digit").configure(
                is_null_level=True
            ),
            cll.ElseLevel(),
        ],
    )


def phone_comparison() -> ComparisonCreator:
    """Exact E.164 number, or the same last eight digits (a wrong default country code)."""
    return cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone"),
            cll.ExactMatchLevel("phone"),
            _spark_level("right(phone_l, 8) = right(phone_r, 8)", "Same last 8 digits"),
            cll.ElseLevel(),
        ],
    )


def address_comparison() -> ComparisonCreator:
    """First address line, postcode and city compared together.

    They are one comparison, not three, because they agree or disagree together: a household's
    members share all three, and scoring them as independent evidence would count one shared
    address three times, enough to merge a couple or twins. Levels: same address; same postcode
    with a near-typo first line; same postcode (a neighbour); same first line and city (postcode
    missing or mistyped); same postcode prefix; same city. Postcode levels are term-frequency
    adjusted (a postcode shared by a block of flats says less).
    """

    def postcode_tf(level: ComparisonLevelCreator) -> ComparisonLevelCreator:
        return level.configure(tf_adjustment_column="postcode", tf_adjustment_weight=1.0)

    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            _spark_level(
                "(address_line1_l IS NULL OR address_line1_r IS NULL) "
                "AND (postcode_l IS NULL OR postcode_r IS NULL)",
                "No address line or postcode to compare",
            ).configure(is_null_level=True),
            postcode_tf(
                cll.And(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("address_line1"))
                .configure(label_for_charts="Same address")
            ),
            postcode_tf(
                cll.And(
                    cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("address_line1", 0.9)
                ).configure(label_for_charts="Same postcode, first line Jaro-Winkler >= 0.9")
            ),
            postcode_tf(
                cll.ExactMatchLevel("postcode").configure(label_for_charts="Same postcode")
            ),
            _spark_level(
                "address_line1_l = address_line1_r AND city_l = city_r",
                "Same first line and city",
            ),
            _spark_level(
                "substr(postcode_l, 1, 3) = substr(postcode_r, 1, 3)", "Same postcode prefix"
            ),
            _spark_level("city_l = city_r", "Same city"),
            cll.ElseLevel(),
        ],
    )


def identifier_comparison(column: str) -> ComparisonCreator:
    """An identifier (a national or membership number): exact, then one or two edits apart
    (Damerau-Levenshtein, so a transposition is one edit). Not in the default model: the silver
    contract has no such identifier; the FEBRL benchmark uses it."""
    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.DamerauLevenshteinLevel(column, 1),
            cll.DamerauLevenshteinLevel(column, 2),
            cll.ElseLevel(),
        ],
    )


def default_comparisons() -> tuple[ComparisonCreator, ...]:
    """The model's comparisons, one per silver field used for linkage."""
    return (
        first_name_comparison(),
        last_name_comparison(),
        date_of_birth_comparison(),
        email_comparison(),
        phone_comparison(),
        address_comparison(),
    )
