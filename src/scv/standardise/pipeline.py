"""Canonical person records -> silver ``person_records`` (see docs/data-contracts.md)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from scv.standardise import columns as C
from scv.standardise.reference import StandardisationReference, load_reference
from scv.standardise.udfs import names_udf, phones_udf

CANONICAL_COLUMNS = (
    "record_id",
    "source_system",
    "source_record_id",
    "first_name",
    "last_name",
    "full_name",
    "company_name",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "city",
    "postcode",
    "country",
    "email_opt_in",
    "updated_at",
    "precedence",
    "default_country",
)

SILVER_COLUMNS = (
    "record_id",
    "source_system",
    "source_record_id",
    "first_name",
    "last_name",
    "first_name_canonical",
    "first_name_phonetic",
    "last_name_phonetic",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "city",
    "postcode",
    "country",
    "email_opt_in",
    "updated_at",
    "precedence",
    "is_company",
    "is_linkable",
    "placeholder_count",
)

ISSUES_COLUMN = "standardisation_issues"

# Every "field:reason" that can appear in ISSUES_COLUMN; "placeholder" reasons are the ones
# counted in placeholder_count.
ISSUE_KEYS = (
    "first_name:placeholder",
    "last_name:placeholder",
    "full_name:placeholder",
    "company_name:placeholder",
    "email:placeholder",
    "email:invalid",
    "phone:placeholder",
    "phone:invalid",
    "date_of_birth:placeholder",
    "date_of_birth:unparseable",
    "date_of_birth:implausible",
    "address_line1:placeholder",
    "city:placeholder",
    "postcode:placeholder",
    "postcode:invalid",
    "country:placeholder",
    "country:unrecognised",
)


class InputContractError(ValueError):
    """The input frame does not have the canonical person record columns."""


def standardise_person_records(
    records: DataFrame,
    *,
    reference: StandardisationReference | None = None,
    as_of: dt.date | None = None,
    with_issues: bool = False,
) -> DataFrame:
    """Standardise canonical person records into the silver ``person_records`` contract.

    Lazy and pure: returns a plan, reads nothing but the small reference tables (on the driver,
    default ``include/reference``), writes nothing. One output row per input row, in the
    ``SILVER_COLUMNS`` order; no row is ever dropped: records with nothing left to link on are
    kept with ``is_linkable = false``. Deterministic for a given ``as_of`` (default: the current
    date, used only for the "younger than 16" rule).

    Bad input: a missing canonical column raises :class:`InputContractError` at once; bad
    values never fail the job, they are nulled and counted (``placeholder_count`` counts the
    fields nulled as placeholders/junk; invalid values are nulled but not counted there). With
    ``with_issues=True`` the frame also has ``standardisation_issues`` (array of
    ``"field:reason"``, see ``ISSUE_KEYS``), which :class:`StandardisationReport` aggregates;
    it holds no raw values.
    """
    missing = [c for c in CANONICAL_COLUMNS if c not in records.columns]
    if missing:
        raise InputContractError(f"canonical person records lack columns {missing}")
    ref = reference or load_reference()
    dob_is_text = _dob_kind(records) == "text"
    prepared = _prepare(records, ref)
    standardised = _standardise(
        prepared, records, ref, F.lit(as_of) if as_of else F.current_date(), dob_is_text=dob_is_text
    )
    return _finish(standardised, with_issues)


def _dob_kind(records: DataFrame) -> str:
    """Whether dates of birth arrive as dates ("date": date or timestamp columns) or as "text"."""
    type_name = records.schema["date_of_birth"].dataType.simpleString()
    return "date" if type_name == "date" or type_name.startswith("timestamp") else "text"


def _prepare(records: DataFrame, ref: StandardisationReference) -> DataFrame:
    """Per-field folding and keys, computed once, and the country alias lookup."""
    if _dob_kind(records) == "date":
        dob = F.to_date("date_of_birth")
    else:
        dob = F.trim(F.col("date_of_birth").cast("string"))
    prepared = records.select(
        *CANONICAL_COLUMNS,
        C.value_key(F.col("country")).alias("_country_key"),
        C.value_key(F.col("company_name")).alias("_company_key"),
        *[c.alias(f"_email_{n}") for n, c in C.prepare_email(F.col("email"))._asdict().items()],
        C.prepare_phone(F.col("phone")).alias("_phone"),
        C.prepare_postcode(F.col("postcode")).alias("_postcode"),
        C.prepare_words(F.col("address_line1")).alias("_address"),
        C.prepare_words(F.col("city")).alias("_city"),
        dob.alias("_dob"),
        F.upper(F.trim(F.col("default_country"))).alias("_default_country"),
    )
    aliases = records.sparkSession.createDataFrame(
        sorted(ref.country_aliases.items()),
        StructType(
            [StructField("_country_key", StringType()), StructField("_country_iso", StringType())]
        ),
    )
    return prepared.join(F.broadcast(aliases), "_country_key", "left")


def _standardise(
    prepared: DataFrame,
    records: DataFrame,
    ref: StandardisationReference,
    as_of: Column,
    *,
    dob_is_text: bool,
) -> DataFrame:
    """Every rule, as one projection over the prepared columns: both Python UDFs are evaluated
    here once per row (one Arrow round trip per batch); later projections only read results."""
    any_text = ref.placeholder_keys("any", "not_name")

    country = C.country(
        F.col("country"), F.col("_country_key"), F.col("_country_iso"), placeholders=any_text
    )
    default_country = F.when(
        F.col("_default_country").isin(sorted(ref.country_codes)), F.col("_default_country")
    )
    phone = C.phone_input(F.col("_phone"), placeholder_digits=ref.placeholders["phone"])
    email = C.email(
        C.EmailParts(F.col("_email_address"), F.col("_email_local"), F.col("_email_domain")),
        providers=ref.email_providers,
        placeholder_addresses=ref.placeholders["email"],
        placeholder_locals=ref.placeholders["email_local"],
        placeholder_domains=ref.placeholders["email_domain"],
        placeholder_values=any_text,
    )
    if dob_is_text:
        parsed_dob = C.parse_date_text(F.col("_dob"), default_country)
        # Only text that is not a date can be placeholder text ("n/a", "unknown").
        dob_text_junk = F.when(
            parsed_dob.isNull() & C.present(F.col("_dob")),
            C.is_junk_key(C.value_key(F.col("_dob")), any_text),
        ).otherwise(F.lit(False))
    else:
        parsed_dob, dob_text_junk = F.col("_dob"), F.lit(False)
    dob = C.date_of_birth(
        parsed_dob,
        C.present(F.col("_dob").cast("string")),
        dob_text_junk,
        as_of,
        placeholder_dates=ref.placeholders["date_of_birth"],
    )
    postcode_country = F.coalesce(country.value, default_country)
    postcode = C.postcode(
        F.col("postcode"),
        F.col("_postcode"),
        postcode_country,
        placeholders=ref.placeholder_keys("any", "not_name", "postcode"),
    )
    address = C.address_text(
        F.col("address_line1"),
        F.col("_address"),
        abbreviations=ref.address_abbreviations,
        placeholders=any_text,
        german_street_suffix=True,
    )
    city = C.address_text(
        F.col("city"), F.col("_city"), abbreviations=ref.city_abbreviations, placeholders=any_text
    )
    company_placeholder = C.present(F.col("company_name")) & C.is_junk_key(
        F.col("_company_key"), any_text
    )
    region = F.coalesce(default_country, country.value)

    return prepared.select(
        "record_id",
        "source_system",
        "source_record_id",
        names_udf(ref.names)("first_name", "last_name", "full_name").alias("name"),
        phones_udf()(phone.number, region).alias("phone_e164"),
        _flags(
            company_placeholder=company_placeholder,
            has_company=C.present(F.col("company_name")) & ~company_placeholder,
            phone_placeholder=phone.placeholder,
            phone_tried=phone.number.isNotNull(),
        ).alias("flags"),
        _struct(email._asdict()).alias("email"),
        _struct(dob._asdict()).alias("dob"),
        _struct(postcode._asdict()).alias("postcode"),
        _struct(address._asdict()).alias("address"),
        _struct(city._asdict()).alias("city"),
        _struct(country._asdict()).alias("country"),
        _as_type(records, "email_opt_in", "boolean"),
        _as_type(records, "updated_at", "timestamp"),
        _as_type(records, "precedence", "int"),
    )


def _finish(standardised: DataFrame, with_issues: bool) -> DataFrame:
    """Silver columns, flags and counts from the standardised structs."""
    phone_invalid = F.col("flags.phone_tried") & F.col("phone_e164").isNull()
    issues = {
        "first_name:placeholder": F.col("name.first_name_junk"),
        "last_name:placeholder": F.col("name.last_name_junk"),
        "full_name:placeholder": F.col("name.full_name_junk"),
        "company_name:placeholder": F.col("flags.company_placeholder"),
        "email:placeholder": F.col("email.placeholder"),
        "email:invalid": F.col("email.invalid"),
        "phone:placeholder": F.col("flags.phone_placeholder"),
        "phone:invalid": phone_invalid,
        "date_of_birth:placeholder": F.col("dob.placeholder"),
        "date_of_birth:unparseable": F.col("dob.unparseable"),
        "date_of_birth:implausible": F.col("dob.implausible"),
        "address_line1:placeholder": F.col("address.placeholder"),
        "city:placeholder": F.col("city.placeholder"),
        "postcode:placeholder": F.col("postcode.placeholder"),
        "postcode:invalid": F.col("postcode.invalid"),
        "country:placeholder": F.col("country.placeholder"),
        "country:unrecognised": F.col("country.invalid"),
    }
    assert tuple(issues) == ISSUE_KEYS, "ISSUE_KEYS and the issue flags must list the same keys"
    placeholder_count = F.lit(0)
    for key, flag in issues.items():
        if key.endswith(":placeholder"):
            placeholder_count = placeholder_count + F.coalesce(flag, F.lit(False)).cast("int")

    first_name, last_name = F.col("name.first_name"), F.col("name.last_name")
    is_company = F.col("flags.has_company") | F.coalesce(F.col("name.looks_like_company"), F.lit(False))
    identifying = (
        F.col("email.value").isNotNull()
        | F.col("phone_e164").isNotNull()
        | (
            last_name.isNotNull()
            & (
                first_name.isNotNull()
                | F.col("dob.value").isNotNull()
                | F.col("postcode.value").isNotNull()
            )
        )
    )
    issue_column = []
    if with_issues:
        issue_column = [
            # array_except drops the nulls; array_compact would be a lambda function, which
            # disables whole-stage code generation for the projection.
            F.array_except(
                F.array(*[F.when(flag, F.lit(key)) for key, flag in issues.items()]),
                F.array(F.lit(None).cast("string")),
            ).alias(ISSUES_COLUMN)
        ]
    return standardised.select(
        "record_id",
        "source_system",
        "source_record_id",
        first_name.alias("first_name"),
        last_name.alias("last_name"),
        F.col("name.first_name_canonical").alias("first_name_canonical"),
        F.col("name.first_name_phonetic").alias("first_name_phonetic"),
        F.col("name.last_name_phonetic").alias("last_name_phonetic"),
        F.col("email.value").alias("email"),
        F.col("phone_e164").alias("phone"),
        F.col("dob.value").alias("date_of_birth"),
        F.col("address.value").alias("address_line1"),
        F.col("city.value").alias("city"),
        F.col("postcode.value").alias("postcode"),
        F.col("country.value").alias("country"),
        "email_opt_in",
        "updated_at",
        "precedence",
        is_company.alias("is_company"),
        (~is_company & identifying).alias("is_linkable"),
        placeholder_count.cast("int").alias("placeholder_count"),
        *issue_column,
    )


def _struct(fields: dict[str, Column]) -> Column:
    return F.struct(*[column.alias(name) for name, column in fields.items()])


def _flags(**fields: Column) -> Column:
    return _struct(fields)


def _as_type(records: DataFrame, name: str, type_name: str) -> Column:
    """Column ``name`` in the contract's type; values that do not convert become null."""
    column = F.col(name)
    if records.schema[name].dataType.simpleString() != type_name:
        column = column.try_cast(type_name)
    return column.alias(name)
