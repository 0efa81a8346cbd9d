"""Standardisation on Spark: every rule, table-driven, against one small standardised frame.

All cases are rows of one canonical frame, standardised and collected once per module (a Spark
action costs seconds); each test looks up its rows by record id.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from scv.standardise import (
    CANONICAL_COLUMNS,
    ISSUE_KEYS,
    ISSUES_COLUMN,
    SILVER_COLUMNS,
    InputContractError,
    StandardisationReport,
    standardise_person_records,
)

AS_OF = dt.date(2026, 1, 15)
UPDATED = dt.datetime(2026, 1, 1, 12, 0)

_TYPES = {"email_opt_in": BooleanType(), "updated_at": TimestampType(), "precedence": IntegerType()}
CANONICAL_SCHEMA = StructType(
    [StructField(name, _TYPES.get(name, StringType())) for name in CANONICAL_COLUMNS]
)

# A plain, linkable person; each case overrides a few fields.
BASE = {
    "first_name": "Anna",
    "last_name": "Baker",
    "full_name": None,
    "company_name": None,
    "email": "anna.baker@mail.co.uk",
    "phone": None,
    "date_of_birth": None,
    "address_line1": "1 Mill Lane",
    "city": "Leeds",
    "postcode": "LS1 4AP",
    "country": "GB",
    "email_opt_in": True,
    "default_country": "GB",
}

CASES: dict[str, dict] = {
    # names
    "name:jose": {"first_name": "José", "last_name": "Müller"},
    "name:mueller": {"first_name": "Jose", "last_name": "Mueller"},
    "name:obrien": {"first_name": "Seán", "last_name": "O'Brien"},
    "name:titles": {"first_name": "Dr. Bill", "last_name": "Smith Jr"},
    "name:last-first": {"first_name": None, "last_name": None, "full_name": "Jones, Mrs Peggy"},
    "name:full": {"first_name": None, "last_name": None, "full_name": "Meg van der Berg"},
    "name:swapped": {"first_name": "Smith", "last_name": "Colin"},
    # phones
    "phone:gb-national": {"phone": "07911 123456"},
    "phone:gb-trunk": {"phone": "+44 (0)20 7946 0958"},
    "phone:gb-idd": {"phone": "0044 7911 123456"},
    "phone:us": {"phone": "(212) 555-1234", "default_country": "US", "country": "USA"},
    "phone:us-1": {"phone": "1-212-555-1234", "default_country": "US", "country": "US"},
    "phone:de-by-country": {"phone": "030 1234567", "default_country": None, "country": "Deutschland"},
    "phone:ext": {"phone": "020 7946 0958 ext. 12"},
    "phone:invalid": {"phone": "12345"},
    "phone:zeros": {"phone": "000-000"},
    "phone:repeated": {"phone": "99999999999"},
    "phone:zero-subscriber": {"phone": "+44 0000 000000"},
    "phone:text": {"phone": "n/a"},
    # emails
    "email:trim-lower": {"email": "  Anna.Baker@Mail.CO.UK "},
    "email:gmail": {"email": "A.Baker+shop@gmail.com"},
    "email:googlemail": {"email": "a.baker@googlemail.com"},
    "email:outlook-tag": {"email": "a.baker+news@outlook.com"},
    "email:other-plus": {"email": "a.baker+news@web.de"},
    "email:no-at": {"email": "anna.baker.mail.co.uk"},
    "email:double-dot": {"email": "anna..baker@mail.co.uk"},
    "email:noemail": {"email": "noemail@gmail.com"},
    "email:test": {"email": "test@test.com"},
    "email:na": {"email": "n/a"},
    "email:reserved": {"email": "anna@shop.invalid"},
    # postcodes
    "postcode:gb-compact": {"postcode": "sw1a1aa"},
    "postcode:gb-spaces": {"postcode": " EC1A  1BB "},
    "postcode:gb-invalid": {"postcode": "12345"},
    "postcode:gb-placeholder": {"postcode": "ZZ99 9ZZ"},
    "postcode:us-zip4": {"postcode": "02134-1234", "country": "US", "default_country": "US"},
    "postcode:us-lost-zero": {"postcode": "2134", "country": "US", "default_country": "US"},
    "postcode:de": {"postcode": "D-80331", "country": "DE"},
    "postcode:fr-lost-zero": {"postcode": "1000", "country": "France"},
    "postcode:ie": {"postcode": "a65f4e2", "country": "Éire"},
    "postcode:ie-invalid": {"postcode": "Dublin 4", "country": "IE"},
    "postcode:nl": {"postcode": "1234 ab", "country": "NL"},
    "postcode:default-country": {"postcode": "m11ae", "country": None},
    # dates of birth (strings; DateType input has its own test)
    "dob:iso": {"date_of_birth": "1980-03-05"},
    "dob:iso-time": {"date_of_birth": "1980-03-05T00:00:00"},
    "dob:compact": {"date_of_birth": "19800305"},
    "dob:slash": {"date_of_birth": "05/03/1980"},
    "dob:slash-us": {"date_of_birth": "03/05/1980", "default_country": "US", "country": "US"},
    "dob:dots": {"date_of_birth": "5.3.1980"},
    "dob:month-name": {"date_of_birth": "5 Mar 1980"},
    "dob:month-long": {"date_of_birth": "5 MARCH 1980"},
    "dob:month-first": {"date_of_birth": "March 5, 1980"},
    "dob:future": {"date_of_birth": "2030-01-01"},
    "dob:too-old": {"date_of_birth": "1850-06-01"},
    "dob:too-young": {"date_of_birth": "2015-01-01"},
    "dob:placeholder": {"date_of_birth": "1900-01-01"},
    "dob:text": {"date_of_birth": "unknown"},
    "dob:impossible": {"date_of_birth": "31/02/1980"},
    # countries
    "country:uk": {"country": "UK"},
    "country:united-kingdom": {"country": "United Kingdom"},
    "country:england": {"country": "england"},
    "country:gbr": {"country": "GBR"},
    "country:deutschland": {"country": "Deutschland"},
    "country:usa": {"country": "U.S.A."},
    "country:eire": {"country": "Éire"},
    "country:unknown": {"country": "Atlantis"},
    "country:placeholder": {"country": "n/a"},
    # addresses and cities
    "address:abbrev": {"address_line1": "Flat 3, 12 High Street", "city": "Saint Albans"},
    "address:german": {"address_line1": "Hauptstraße 5", "city": "München", "country": "DE"},
    "address:junk": {"address_line1": "-", "city": "unknown"},
    # companies and linkability
    "company:field": {"company_name": "Acme Ltd"},
    "company:name": {"first_name": None, "last_name": "Summit Builders Limited"},
    "company:placeholder": {"company_name": "n/a"},
    "link:last-only": {"first_name": None, "email": None, "postcode": None, "address_line1": None},
    "link:last-postcode": {"first_name": None, "email": None},
    "link:email-only": {"first_name": None, "last_name": None, "postcode": None},
    "link:all-junk": {
        "first_name": "Walk-in", "last_name": "Guest", "email": "test@test.com", "phone": "000-000",
        "date_of_birth": "n/a", "address_line1": "n/a", "city": "-", "postcode": "xxx",
        "country": "unknown", "company_name": "none",
    },
}


def _row(record_id: str, overrides: dict) -> dict:
    source, _, key = record_id.partition(":")
    return {
        **BASE,
        **overrides,
        "record_id": record_id,
        "source_system": source,
        "source_record_id": key,
        "updated_at": UPDATED,
        "precedence": 1,
    }


@pytest.fixture(scope="module")
def canonical(spark):
    rows = [_row(record_id, case) for record_id, case in CASES.items()]
    return spark.createDataFrame([[r[c] for c in CANONICAL_COLUMNS] for r in rows], CANONICAL_SCHEMA)


@pytest.fixture(scope="module")
def contract_frame(canonical):
    return standardise_person_records(canonical, as_of=AS_OF)


@pytest.fixture(scope="module")
def silver_frame(canonical):
    return standardise_person_records(canonical, as_of=AS_OF, with_issues=True)


@pytest.fixture(scope="module")
def silver(silver_frame):
    return {row["record_id"]: row.asDict() for row in silver_frame.collect()}


def _get(silver, record_id, column):
    return silver[record_id][column]


def _issues(silver, record_id):
    return set(silver[record_id][ISSUES_COLUMN])


# --- shape --------------------------------------------------------------------------------------


def test_output_is_exactly_the_silver_contract(contract_frame):
    assert tuple(contract_frame.columns) == SILVER_COLUMNS
    types = {f.name: f.dataType for f in contract_frame.schema.fields}
    assert types["date_of_birth"] == DateType()
    assert types["updated_at"] == TimestampType()
    assert types["precedence"] == IntegerType()
    assert types["placeholder_count"] == IntegerType()
    assert {types[c] for c in ("email_opt_in", "is_company", "is_linkable")} == {BooleanType()}


def test_every_record_is_kept_once(canonical, silver):
    assert sorted(silver) == sorted(CASES)


def test_with_issues_adds_only_the_issue_column(silver_frame):
    assert tuple(silver_frame.columns) == SILVER_COLUMNS + (ISSUES_COLUMN,)


def test_python_udfs_run_once_per_row_in_one_round_trip(contract_frame):
    plan = contract_frame._jdf.queryExecution().executedPlan().toString()
    assert plan.count("ArrowEvalPython") == 1
    assert plan.count("standardise_names(") == 1 and plan.count("standardise_phones(") == 1


def test_missing_canonical_column_fails_fast(canonical):
    with pytest.raises(InputContractError, match="default_country"):
        standardise_person_records(canonical.drop("default_country"))


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_id", "first", "last", "canonical_first"),
    [
        ("name:jose", "jose", "muller", "jose"),
        ("name:mueller", "jose", "mueller", "jose"),
        ("name:obrien", "sean", "obrien", "sean"),
        ("name:titles", "bill", "smith", "william"),
        ("name:last-first", "peggy", "jones", "margaret"),
        ("name:full", "meg", "van der berg", "margaret"),
        ("name:swapped", "colin", "smith", "colin"),
    ],
)
def test_names(silver, record_id, first, last, canonical_first):
    row = silver[record_id]
    names = (row["first_name"], row["last_name"], row["first_name_canonical"])
    assert names == (first, last, canonical_first)


def test_muller_and_mueller_share_phonetic_codes(silver):
    codes = {_get(silver, r, "last_name_phonetic") for r in ("name:jose", "name:mueller")}
    assert codes == {"MLR"}
    assert _get(silver, "name:jose", "first_name_phonetic") == "JS"


# --- phones -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_id", "e164"),
    [
        ("phone:gb-national", "+447911123456"),
        ("phone:gb-trunk", "+442079460958"),
        ("phone:gb-idd", "+447911123456"),
        ("phone:us", "+12125551234"),
        ("phone:us-1", "+12125551234"),
        ("phone:de-by-country", "+49301234567"),
        ("phone:ext", "+442079460958"),
    ],
)
def test_phones_to_e164(silver, record_id, e164):
    assert _get(silver, record_id, "phone") == e164
    assert not {"phone:invalid", "phone:placeholder"} & _issues(silver, record_id)


@pytest.mark.parametrize(
    ("record_id", "issue"),
    [
        ("phone:invalid", "phone:invalid"),
        ("phone:zeros", "phone:placeholder"),
        ("phone:repeated", "phone:placeholder"),
        ("phone:zero-subscriber", "phone:placeholder"),
        ("phone:text", "phone:placeholder"),
    ],
)
def test_bad_phones_are_nulled_with_a_reason(silver, record_id, issue):
    assert _get(silver, record_id, "phone") is None
    assert issue in _issues(silver, record_id)


# --- emails -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_id", "email"),
    [
        ("email:trim-lower", "anna.baker@mail.co.uk"),
        ("email:gmail", "abaker@gmail.com"),
        ("email:googlemail", "abaker@gmail.com"),
        ("email:outlook-tag", "a.baker@outlook.com"),
        ("email:other-plus", "a.baker+news@web.de"),
    ],
)
def test_emails_are_canonical(silver, record_id, email):
    assert _get(silver, record_id, "email") == email


@pytest.mark.parametrize(
    ("record_id", "issue"),
    [
        ("email:no-at", "email:invalid"),
        ("email:double-dot", "email:invalid"),
        ("email:noemail", "email:placeholder"),
        ("email:test", "email:placeholder"),
        ("email:na", "email:placeholder"),
        ("email:reserved", "email:placeholder"),
    ],
)
def test_bad_emails_are_nulled_with_a_reason(silver, record_id, issue):
    assert _get(silver, record_id, "email") is None
    assert issue in _issues(silver, record_id)


# --- postcodes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_id", "postcode"),
    [
        ("postcode:gb-compact", "SW1A 1AA"),
        ("postcode:gb-spaces", "EC1A 1BB"),
        ("postcode:us-zip4", "02134"),
        ("postcode:us-lost-zero", "02134"),
        ("postcode:de", "80331"),
        ("postcode:fr-lost-zero", "01000"),
        ("postcode:ie", "A65 F4E2"),
        ("postcode:nl", "1234AB"),
        ("postcode:default-country", "M1 1AE"),
    ],
)
def test_postcodes_per_country(silver, record_id, postcode):
    assert _get(silver, record_id, "postcode") == postcode


@pytest.mark.parametrize(
    ("record_id", "issue"),
    [
        ("postcode:gb-invalid", "postcode:invalid"),
        ("postcode:ie-invalid", "postcode:invalid"),
        ("postcode:gb-placeholder", "postcode:placeholder"),
    ],
)
def test_bad_postcodes_are_nulled_with_a_reason(silver, record_id, issue):
    assert _get(silver, record_id, "postcode") is None
    assert issue in _issues(silver, record_id)


# --- dates of birth -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record_id",
    [
        "dob:iso",
        "dob:iso-time",
        "dob:compact",
        "dob:slash",
        "dob:slash-us",
        "dob:dots",
        "dob:month-name",
        "dob:month-long",
        "dob:month-first",
    ],
)
def test_dates_of_birth_in_many_layouts(silver, record_id):
    assert _get(silver, record_id, "date_of_birth") == dt.date(1980, 3, 5)


@pytest.mark.parametrize(
    ("record_id", "issue"),
    [
        ("dob:future", "date_of_birth:implausible"),
        ("dob:too-old", "date_of_birth:implausible"),
        ("dob:too-young", "date_of_birth:implausible"),
        ("dob:placeholder", "date_of_birth:placeholder"),
        ("dob:text", "date_of_birth:placeholder"),
        ("dob:impossible", "date_of_birth:unparseable"),
    ],
)
def test_bad_dates_of_birth_are_nulled_with_a_reason(silver, record_id, issue):
    assert _get(silver, record_id, "date_of_birth") is None
    assert issue in _issues(silver, record_id)


def test_date_and_timestamp_inputs_pass_through(spark, canonical):
    as_dates = canonical.where(F.col("record_id") == "dob:iso")
    for cast in ("date", "timestamp"):
        typed = as_dates.withColumn("date_of_birth", F.to_date("date_of_birth").cast(cast))
        typed = typed.unionByName(
            typed.withColumn("record_id", F.lit("dob:young")).withColumn(
                "date_of_birth", F.lit(dt.date(2020, 1, 1)).cast(cast)
            )
        )
        result = standardise_person_records(typed, as_of=AS_OF).collect()
        rows = {r["record_id"]: r["date_of_birth"] for r in result}
        assert rows == {"dob:iso": dt.date(1980, 3, 5), "dob:young": None}


# --- countries, addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_id", "country"),
    [
        ("country:uk", "GB"),
        ("country:united-kingdom", "GB"),
        ("country:england", "GB"),
        ("country:gbr", "GB"),
        ("country:deutschland", "DE"),
        ("country:usa", "US"),
        ("country:eire", "IE"),
    ],
)
def test_countries_to_iso_alpha2(silver, record_id, country):
    assert _get(silver, record_id, "country") == country


@pytest.mark.parametrize(
    ("record_id", "issue"),
    [("country:unknown", "country:unrecognised"), ("country:placeholder", "country:placeholder")],
)
def test_bad_countries_are_nulled_with_a_reason(silver, record_id, issue):
    assert _get(silver, record_id, "country") is None
    assert issue in _issues(silver, record_id)


@pytest.mark.parametrize(
    ("record_id", "address", "city"),
    [
        ("address:abbrev", "flat 3 12 high st", "st albans"),
        ("address:german", "hauptstr 5", "munchen"),
        ("address:junk", None, None),
    ],
)
def test_addresses_and_cities(silver, record_id, address, city):
    row = silver[record_id]
    assert (row["address_line1"], row["city"]) == (address, city)


# --- placeholders, companies, linkability -------------------------------------------------------


def test_placeholders_are_counted(silver):
    row = silver["link:all-junk"]
    expected = {
        "first_name:placeholder", "last_name:placeholder", "email:placeholder", "phone:placeholder",
        "date_of_birth:placeholder", "address_line1:placeholder", "city:placeholder",
        "postcode:placeholder", "country:placeholder", "company_name:placeholder",
    }
    assert set(row[ISSUES_COLUMN]) == expected
    assert row["placeholder_count"] == len(expected)
    nulled = ("first_name", "last_name", "email", "phone", "date_of_birth", "postcode")
    assert all(row[c] is None for c in nulled)
    assert silver["email:gmail"]["placeholder_count"] == 0


def test_invalid_values_are_not_counted_as_placeholders(silver):
    assert silver["email:no-at"]["placeholder_count"] == 0
    assert silver["dob:future"]["placeholder_count"] == 0


@pytest.mark.parametrize(
    ("record_id", "is_company", "is_linkable"),
    [
        ("company:field", True, False),
        ("company:name", True, False),
        ("company:placeholder", False, True),
        ("link:last-only", False, False),
        ("link:last-postcode", False, True),
        ("link:email-only", False, True),
        ("link:all-junk", False, False),
        ("name:jose", False, True),
    ],
)
def test_companies_and_linkability(silver, record_id, is_company, is_linkable):
    row = silver[record_id]
    assert (row["is_company"], row["is_linkable"]) == (is_company, is_linkable)


def test_unlinkable_records_keep_what_they_have(silver):
    row = silver["link:last-only"]
    assert row["last_name"] == "baker" and row["is_linkable"] is False


def test_as_of_decides_the_age_rule(canonical):
    one = canonical.where(F.col("record_id") == "dob:too-young")
    later = standardise_person_records(one, as_of=dt.date(2035, 1, 1)).first()
    assert later["date_of_birth"] == dt.date(2015, 1, 1)


# --- report -------------------------------------------------------------------------------------


def test_report_counts(silver_frame, silver):
    report = StandardisationReport.from_silver(silver_frame)
    assert report.records == len(CASES)
    assert report.companies == 2
    assert report.unlinkable == sum(not r["is_linkable"] for r in silver.values())
    assert report.unlinkable_people == 2
    assert report.placeholders_nulled == sum(r["placeholder_count"] for r in silver.values())
    assert set(report.issues) == set(ISSUE_KEYS)
    assert report.issues["email:invalid"] == 2
    assert report.issues["phone:placeholder"] == 5
    assert report.coverage["email"] == sum(r["email"] is not None for r in silver.values())
    values = list(report.as_dict()["coverage"].values()) + list(report.as_dict()["issues"].values())
    assert all(isinstance(v, int) for v in values)  # counts only, never raw values


def test_report_of_a_contract_only_frame_has_no_issue_counts(contract_frame):
    report = StandardisationReport.from_silver(contract_frame)
    assert report.issues == {} and report.records == len(CASES)
