"""The suite files in include/expectations: well-formed, and good data passes every one of them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from scv.quality.gate import expectations_dir, run_parameters
from scv.quality.suites import SuiteError, load_suite, parse_suite
from scv.quality.validation import validate_dataframe

SUITES_DIR = Path(__file__).resolve().parents[2] / "include" / "expectations"
SUITES = sorted(p.stem for p in SUITES_DIR.glob("*.json"))


def test_there_is_a_suite_per_table_and_layer():
    assert {"bronze_crm", "bronze_webshop", "bronze_loyalty", "bronze_pos", "bronze_web_events",
            "silver_person_records", "gold_customer_golden", "gold_customer_xref"} <= set(SUITES)


@pytest.mark.parametrize("name", SUITES)
def test_suite_file_builds_a_gx_suite(name):
    suite = load_suite(name, str(SUITES_DIR))
    assert suite.name == name and suite.table
    params = {p: "1" for p in suite.referenced_parameters()}
    gx_suite = suite.to_gx_suite(params)
    assert len(gx_suite.expectations) == len(suite.expectations)
    for expectation in gx_suite.expectations:
        assert expectation.meta["severity"] in ("critical", "warning")
        assert expectation.severity.value == expectation.meta["severity"]
    assert any(e.severity == "critical" for e in suite.expectations)


def _suite(**changes):
    doc = {"name": "s", "meta": {"table": "t/x"},
           "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "a"},
                             "meta": {"severity": "critical"}}]}
    doc["expectations"][0].update(changes)
    return doc


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (_suite(meta={}), "meta.severity must be one of"),
        (_suite(meta={"severity": "fatal"}), "meta.severity must be one of"),
        ({"name": "s", "expectations": []}, "non-empty list"),
        ({"expectations": [{}]}, "'name'"),
    ],
)
def test_broken_suites_fail_with_file_and_reason(doc, problem):
    with pytest.raises(SuiteError, match=problem) as error:
        parse_suite(doc, "include/expectations/s.json")
    assert "include/expectations/s.json" in str(error.value)


def test_duplicate_names_unknown_types_and_missing_parameters_are_errors():
    doc = _suite()
    doc["expectations"].append(dict(doc["expectations"][0]))
    with pytest.raises(SuiteError, match="used twice"):
        parse_suite(doc, "s.json")

    with pytest.raises(SuiteError, match="expect_nothing"):
        parse_suite(_suite(type="expect_nothing"), "s.json").to_gx_suite({})

    sql = {"unexpected_rows_query": "SELECT * FROM {batch} WHERE n > ${limit}"}
    suite = parse_suite(_suite(type="unexpected_rows_expectation", kwargs=sql), "s.json")
    with pytest.raises(SuiteError, match="limit"):
        suite.to_gx_suite({})
    assert suite.resolved_expectations({"limit": 3})[0].kwargs["unexpected_rows_query"].endswith("n > 3")


def test_missing_suite_names_where_it_looked(settings):
    with pytest.raises(SuiteError, match="not found"):
        load_suite("bronze_nowhere", expectations_dir(settings))


# --- good data passes every gate -------------------------------------------------------------

LINEAGE = {"_run_id": "scheduled__2024-01-05", "_logical_date": "2024-01-05", "_source_file": "f.csv"}


def _frame(spark, rows: list[dict]):
    keys = list(rows[0])
    schema = ", ".join(f"`{k}` string" for k in keys)
    return spark.createDataFrame([tuple(r[k] for k in keys) for r in rows], schema)


def good_frames(spark):
    crm = [dict(contactid=f"c{i}", firstname="Ann", lastname="Lee", companyname=None,
                emailaddress1=f"ann{i}@example.com", mobilephone="07700 900001", telephone1=None,
                birthdate="1984-02-29", address1_line1="1 High St", address1_city="London",
                address1_postalcode="SW1A 1AA", address1_country="GB", donotemail="0",
                modifiedon="2024-01-05T09:30:00Z", **LINEAGE) for i in range(3)]
    loyalty = [dict(card_no=f"L{i}", title="Mrs", forename="Ann", surname="Lee", dob="29/02/1984",
                    phone="07700 900001", email=f"ann{i}@example.com", street="1 High St", town="London",
                    postcode="SW1A 1AA", country="GB", email_consent="Y", last_updated="05/01/2024 09:30",
                    **LINEAGE) for i in range(3)]
    pos = [dict(transaction_id=f"t{i}", card_no="L1" if i else None, store_id="s1",
                transaction_ts="2024-01-05T09:30:00Z", product_category="food", quantity="2", amount="9.99",
                **LINEAGE) for i in range(3)]
    web_events = [dict(event_id=f"e{i}", account_id="a1", event_type=t, event_ts="2024-01-05T09:30:00+00:00",
                       product_category="toys", value="12.50" if t == "purchase" else None, **LINEAGE)
                  for i, t in enumerate(["page_view", "add_to_cart", "purchase"])]
    webshop = spark.createDataFrame(
        [(f"a{i}", "Lee, Ann", f"ann{i}@example.com", "+447700900001", "1984-02-29",
          ("1 High St", "London", "SW1A 1AA", "GB"), "true", "2023-01-01T00:00:00Z", "2024-01-05T09:30:00Z",
          *LINEAGE.values()) for i in range(3)],
        "account_id string, full_name string, email string, phone string, date_of_birth string, "
        "address struct<line1:string, city:string, postcode:string, country_code:string>, "
        "marketing_opt_in string, created_at string, updated_at string, "
        "_run_id string, _logical_date string, _source_file string",
    )
    silver = spark.createDataFrame(
        [(f"crm:c{i}", "crm", f"c{i}", "ann", "lee", "ann", "AN", "L", f"ann{i}@example.com", "+447700900001",
          dt.date(1984, 2, 29), "1 high st", "london", pc, country, True, dt.datetime(2024, 1, 5, 9, 30), 1,
          False, True, 0)
         for i, (pc, country) in enumerate([("SW1A 1AA", "GB"), ("D02 X285", "IE"), ("1012 AB", "NL"),
                                            ("75001", "FR"), ("10115", "DE"), (None, None)])],
        "record_id string, source_system string, source_record_id string, first_name string, last_name string, "
        "first_name_canonical string, first_name_phonetic string, last_name_phonetic string, email string, "
        "phone string, date_of_birth date, address_line1 string, city string, postcode string, country string, "
        "email_opt_in boolean, updated_at timestamp, precedence int, is_company boolean, is_linkable boolean, "
        "placeholder_count int",
    )
    return {
        "bronze_crm": _frame(spark, crm),
        "bronze_webshop": webshop,
        "bronze_loyalty": _frame(spark, loyalty),
        "bronze_pos": _frame(spark, pos),
        "bronze_web_events": _frame(spark, web_events),
        "silver_person_records": silver,
    }


@pytest.mark.parametrize("name", ["bronze_crm", "bronze_webshop", "bronze_loyalty", "bronze_pos",
                                  "bronze_web_events", "silver_person_records"])
def test_good_data_passes_every_bronze_and_silver_gate(spark, settings, name):
    suite = load_suite(name, expectations_dir(settings))
    frame = good_frames(spark)[name]
    params = run_parameters(spark, settings, suite, table=suite.table, run_id="r1")

    outcome = validate_dataframe(frame, suite, table=suite.table, run_id="r1", parameters=params)

    assert outcome.status == "passed", outcome.report()
    assert json.dumps(outcome.summary())  # XCom-ready
