"""Column profiles, blocking coverage, the profiling job, and the generic bronze suite.

Both the profiling job and ``bronze_default`` serve sources onboarded by a contract alone: they
take what they need to know about a source (key, required columns, which columns are personal)
from its YAML contract, so they are tested together here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from scv.contracts import load_contracts
from scv.quality import RunInfo, run_gate, validation_results_path
from scv.quality.gate import contract_parameters, tolerant_expression
from scv.quality.masking import Masker
from scv.quality.profiling import blocking_coverage, contract_masker, coverage_profile, profile_markdown, profile_table

SOURCES_DIR = Path(__file__).resolve().parents[2] / "include" / "sources"
RAW_EMAILS = ["henrietta.pemberton@example.com", "octavius.quill@example.org", "zebedee.q@example.net"]
RAW_PHONES = ["+447700900777", "07700 900888"]
RAW_NAMES = ["Henrietta", "Octavius"]
RAW_DOBS = ["1961-03-17", "1990-12-02"]


def _person_frame(spark):
    rows = [
        ("k1", RAW_NAMES[0], RAW_EMAILS[0], RAW_PHONES[0], RAW_DOBS[0], "GB", 10, ("1 High St", "London")),
        ("k2", RAW_NAMES[1], RAW_EMAILS[1], RAW_PHONES[1], RAW_DOBS[1], "GB", 9, ("2 Low Rd", "Leeds")),
        ("k3", RAW_NAMES[0], RAW_EMAILS[2], None, "", "IE", 100, None),
        ("k4", "  ", None, None, None, "GB", None, ("3 Mid Ln", "York")),
        ("k5", None, None, None, None, "GB", None, (None, None)),
    ]
    return spark.createDataFrame(
        rows,
        "id string, first_name string, email string, phone string, date_of_birth string, country string, "
        "amount int, address struct<line1:string, city:string>",
    )


def _by_column(profile):
    return {r["column"]: r.asDict(recursive=True) for r in profile.collect()}


def test_profile_counts_completeness_cardinality_top_values_and_lengths(spark):
    masker = Masker(unmasked_columns=["id", "country", "amount"])

    profile = _by_column(profile_table(spark, _person_frame(spark), top_n=2, masker=masker))

    assert list(profile) == ["id", "first_name", "email", "phone", "date_of_birth", "country", "amount", "address"]
    email, first, dob, country = profile["email"], profile["first_name"], profile["date_of_birth"], profile["country"]
    assert (email["row_count"], email["null_count"], email["blank_count"]) == (5, 2, 0)
    assert email["completeness"] == pytest.approx(0.6)
    assert (first["null_count"], first["blank_count"], first["completeness"]) == (1, 1, 0.6)  # blank is missing
    assert (dob["null_count"], dob["blank_count"], dob["completeness"]) == (2, 1, 0.4)
    assert (email["distinct_count"], email["distinct_share"], email["distinct_is_approx"]) == (3, 1.0, False)
    assert (first["distinct_count"], first["distinct_share"]) == (2, pytest.approx(2 / 3))
    # Top values: most frequent first, with count and share of the present values.
    assert country["top_values"] == [{"value": "GB", "count": 4, "share": 0.8}, {"value": "IE", "count": 1, "share": 0.2}]
    assert first["top_values"][0]["count"] == 2 and first["top_values"][0]["share"] == pytest.approx(2 / 3)
    assert (profile["id"]["min_value"], profile["id"]["max_value"]) == ("k1", "k5")
    assert (email["min_length"], email["max_length"]) == (min(map(len, RAW_EMAILS)), max(map(len, RAW_EMAILS)))
    assert email["avg_length"] == pytest.approx(sum(map(len, RAW_EMAILS)) / 3)
    # Numbers compare as numbers (9 < 10 < 100), nested values are profiled as JSON.
    assert (profile["amount"]["min_value"], profile["amount"]["max_value"]) == ("9", "100")
    address = profile["address"]
    assert address["data_type"].startswith("struct")
    as_json = [json.dumps({"line1": a, "city": c}, separators=(",", ":"))
               for a, c in [("1 High St", "London"), ("2 Low Rd", "Leeds"), ("3 Mid Ln", "York")]]
    assert (address["min_length"], address["max_length"]) == (min(map(len, as_json)), max(map(len, as_json)))
    # A struct whose fields are all NULL is as missing as a NULL struct.
    assert (address["null_count"], address["blank_count"], address["completeness"]) == (1, 1, 0.6)


def test_profile_masks_every_personal_value(spark):
    frame = _person_frame(spark)

    profile = profile_table(spark, frame, top_n=5)  # default masker: classified by column name

    by_column = _by_column(profile)
    assert by_column["email"]["masking"] == "email" and by_column["phone"]["masking"] == "phone"
    assert by_column["date_of_birth"]["masking"] == "date" and by_column["first_name"]["masking"] == "name"
    assert by_column["id"]["masking"] == "text"  # unclassified columns are tokenised (default deny)
    emails = sorted(t["value"] for t in by_column["email"]["top_values"])
    assert [e.split("#")[0] for e in emails] == ["h***@***.com", "o***@***.org", "z***@***.net"]
    assert all(len(e.split("#")[1]) == 8 for e in emails)  # a keyed token keeps equal masks apart
    assert by_column["date_of_birth"]["min_value"] == "1961-**-**"
    assert by_column["first_name"]["top_values"][0]["value"].startswith("H***#")
    assert by_column["id"]["top_values"][0]["value"].startswith("***#")
    text = json.dumps([r.asDict(recursive=True) for r in profile.collect()], default=str)
    text += profile_markdown([r.asDict(recursive=True) for r in profile.collect()], title="t")
    for raw in RAW_EMAILS + RAW_PHONES + RAW_NAMES + RAW_DOBS + ["High St", "London", "k1"]:
        assert raw not in text, raw


def test_profile_approximates_distinct_counts_of_big_tables_and_handles_empty_ones(spark):
    frame = spark.range(0, 400).selectExpr("cast(id % 50 as string) AS code", "cast(id AS string) AS seq")
    masker = Masker(unmasked_columns=["code", "seq"])

    profile = _by_column(profile_table(spark, frame, top_n=1, masker=masker, exact_distinct_max_rows=100))

    assert profile["code"]["distinct_is_approx"] and profile["seq"]["distinct_is_approx"]
    assert profile["code"]["distinct_count"] == pytest.approx(50, rel=0.1)
    assert profile["seq"]["distinct_count"] == pytest.approx(400, rel=0.1)
    assert profile["code"]["row_count"] == 400 and profile["code"]["completeness"] == 1.0
    assert len(profile["code"]["top_values"]) == 1  # counted on a sample, still reported

    empty = _by_column(profile_table(spark, frame.where("false"), masker=masker))
    assert empty["code"]["row_count"] == 0 and empty["code"]["completeness"] is None
    assert empty["code"]["top_values"] == [] and empty["code"]["distinct_count"] == 0

    with pytest.raises(ValueError, match="nope"):
        profile_table(spark, frame, ["code", "nope"])


def test_coverage_profile_has_the_full_profiles_coverage_figures_and_no_values(spark):
    frame = _person_frame(spark)
    columns = ["first_name", "email", "phone", "date_of_birth", "country", "amount", "address"]
    full = _by_column(profile_table(spark, frame, columns, top_n=1))
    quick = {row["column"]: row for row in coverage_profile(frame, columns)}
    assert list(quick) == columns
    for column in columns:
        for figure in ("row_count", "completeness", "distinct_count", "distinct_share"):
            assert quick[column][figure] == full[column][figure], (column, figure)
        assert [t["share"] for t in quick[column]["top_values"]] == [t["share"] for t in full[column]["top_values"]]
        assert all(set(t) == {"count", "share"} for t in quick[column]["top_values"])  # no value kept
    assert quick["first_name"]["completeness"] == 0.6  # NULL and blank are not present
    assert quick["country"]["top_values"] == [{"count": 4, "share": 0.8}]
    assert blocking_coverage(quick.values(), columns).warnings == blocking_coverage(full.values(), columns).warnings

    empty = {row["column"]: row for row in coverage_profile(frame.where("false"), ["email"])}
    assert empty["email"]["row_count"] == 0 and empty["email"]["completeness"] is None
    assert empty["email"]["top_values"] == [] and empty["email"]["distinct_count"] == 0
    with pytest.raises(ValueError, match="nope"):
        coverage_profile(frame, ["email", "nope"])


def test_contract_masker_classifies_raw_columns_by_what_the_contract_maps_them_to():
    contracts = load_contracts(SOURCES_DIR)
    crm = contract_masker(contracts.get("crm"))
    webshop = contract_masker(contracts.get("webshop"))
    pos = contract_masker(contracts.get("pos"))

    assert [crm.kind(c) for c in ("emailaddress1", "mobilephone", "telephone1", "birthdate", "firstname",
                                  "companyname", "address1_postalcode")] == \
        ["email", "phone", "phone", "date", "name", "name", "text"]
    assert [crm.kind(c) for c in ("contactid", "donotemail", "address1_country", "modifiedon", "_source_file")] == \
        ["public"] * 5
    assert crm.kind("notes") == "text"  # a column the contract does not read is tokenised
    assert webshop.kind("full_name") == "name" and webshop.kind("address") == "text"
    assert pos.kind("amount") == "public" and pos.kind("card_no") == "public"


def _coverage_profile(spark):
    rows = [(f"{i:03d}", "AB1" if i % 2 else None, "GB", f"p{i % 40}") for i in range(200)]
    frame = spark.createDataFrame(rows, "dob string, sparse string, country string, postcode string")
    return profile_table(spark, frame, masker=Masker(unmasked_columns=frame.columns))


def test_blocking_coverage_warns_about_sparse_uniform_and_missing_fields(spark):
    profile = _coverage_profile(spark)

    good = blocking_coverage(profile, ["dob", "postcode"])
    assert good.ok and good.warnings == []
    assert good.fields["dob"].completeness == 1.0 and good.fields["dob"].distinct_share == 1.0
    assert good.fields["postcode"].distinct_count == 40 and good.fields["postcode"].top_value_share == 0.025

    bad = blocking_coverage(profile, ["sparse", "country", "email"])
    assert not bad.ok
    assert bad.fields["sparse"].completeness == 0.5 and bad.fields["country"].distinct_count == 1
    assert not bad.fields["email"].profiled
    text = "\n".join(bad.warnings)
    assert "'sparse'" in text and "'country'" in text and "'email' is not in the profile" in text
    assert any("'country'" in w and "distinct" in w for w in bad.warnings)
    assert any("'country'" in w and "most frequent value covers 100.0%" in w for w in bad.warnings)
    # Stricter completeness threshold: 50% is not enough any more.
    assert any("'sparse' is present in 50.0%" in w
               for w in blocking_coverage(profile, ["sparse"], min_completeness=0.6).warnings)
    assert blocking_coverage(profile, ["sparse"], min_completeness=0.4, min_distinct_share=0.001,
                             max_top_value_share=1.0).ok
    assert json.dumps(bad.as_dict())

    with pytest.raises(ValueError, match="several rows"):
        blocking_coverage(profile.unionByName(profile), ["dob"])


# --- the profiling job --------------------------------------------------------------------------

CRM_COLUMNS = ("contactid firstname lastname companyname emailaddress1 mobilephone telephone1 birthdate "
               "address1_line1 address1_city address1_postalcode address1_country donotemail modifiedon").split()
DAY_1, DAY_2 = dt.date(2024, 1, 5), dt.date(2024, 1, 6)


def _crm_rows(day, n, emails=None):
    emails = emails or [f"person{i}.{day:%d}@example.com" for i in range(n)]
    return [
        (f"c{day:%d}{i}", RAW_NAMES[i % 2], "Quill", None, emails[i], RAW_PHONES[0], None, RAW_DOBS[i % 2],
         "1 High St", "London", "SW1A 1AA", "GB", "0", "2024-01-05T09:30:00Z",
         f"file:/landing/crm/crm_contacts_{day:%Y%m%d}.csv", i + 2, dt.datetime(2024, 1, 5), f"scheduled__{day}",
         day, "h")
        for i in range(n)
    ]


def _write_bronze_crm(spark, settings, rows, mode="overwrite"):
    schema = (", ".join(f"{c} string" for c in CRM_COLUMNS)
              + ", _source_file string, _line_number long, _ingested_at timestamp, _run_id string, "
                "_logical_date date, _row_hash string")
    spark.createDataFrame(rows, schema).write.format("delta").mode(mode).save(settings.table_path("bronze", "crm"))


def test_profiling_job_writes_ops_rows_and_a_masked_report_idempotently(spark, settings):
    from scv.jobs.profiling import column_profiles_path, report_path, run

    _write_bronze_crm(spark, settings, _crm_rows(DAY_1, 3, RAW_EMAILS) + _crm_rows(DAY_2, 5))

    summary = run(spark, settings, source="crm", logical_date=str(DAY_1), run_id="scheduled__2024-01-05")
    run(spark, settings, source="crm", logical_date=str(DAY_2), run_id="scheduled__2024-01-06")
    again = run(spark, settings, source="crm", logical_date=str(DAY_1), run_id="manual__rerun")

    assert summary["rows"] == 3 and summary["columns"] == len(CRM_COLUMNS)
    assert set(summary["empty_columns"]) == {"companyname", "telephone1"}
    assert again["rows"] == 3
    ops = spark.read.format("delta").load(column_profiles_path(settings))
    # One profile per column and date: the rerun replaced day 1, day 2 is untouched.
    assert ops.count() == 2 * len(CRM_COLUMNS)
    day_1 = {r["column"]: r for r in ops.where(f"source = 'crm' AND logical_date = DATE '{DAY_1}'").collect()}
    assert set(day_1) == set(CRM_COLUMNS)  # lineage columns are not profiled
    assert {r.run_id for r in day_1.values()} == {"manual__rerun"}
    assert day_1["emailaddress1"].row_count == 3 and day_1["emailaddress1"].distinct_count == 3
    assert day_1["emailaddress1"].masking == "email" and day_1["contactid"].masking == "public"
    assert ops.where(f"logical_date = DATE '{DAY_2}'").first().row_count == 5

    report = Path(report_path(settings, "crm", DAY_1))
    assert report == Path(settings.artifacts_dir, "profiles", "crm", "2024-01-05.md") and report.is_file()
    text = report.read_text(encoding="utf-8")
    assert "| emailaddress1 | string | email | 100.0% | 3 |" in text
    assert "h***@***.com#" in text and "GB (3)" in text
    published = text + ops.toPandas().to_json()
    for raw in RAW_EMAILS + RAW_PHONES + RAW_NAMES + RAW_DOBS + ["High St", "SW1A 1AA"]:
        assert raw not in published, raw
    assert not [f for f in os.listdir(report.parent) if f.startswith(".profile-")]


def test_profiling_job_fails_clearly_without_a_bronze_table(spark, settings):
    from scv.jobs.profiling import run
    from scv.quality.gate import TableNotFound

    with pytest.raises(TableNotFound, match="not ingested yet"):
        run(spark, settings, source="crm", logical_date="2024-01-05", run_id="r")
    with pytest.raises(KeyError, match="no source contract named 'nowhere'"):
        run(spark, settings, source="nowhere", logical_date="2024-01-05", run_id="r")


# --- bronze_default: the generic bronze suite, parameterised by the source's contract -------------


def test_contract_parameters_and_tolerant_expressions():
    assert tolerant_expression("coalesce(to_date(d, 'dd/MM/yyyy'), CAST(x AS date), to_date)") == \
        "coalesce(try_to_date(d, 'dd/MM/yyyy'), try_cast(x AS date), to_date)"
    assert tolerant_expression("concat('to_timestamp(', a)") == "concat('to_timestamp(', a)"
    contracts = load_contracts(SOURCES_DIR)

    loyalty = contract_parameters(contracts.get("loyalty"))
    assert loyalty["required_columns"] == ["card_no", "forename", "surname", "last_updated"]
    assert loyalty["primary_key_expression"] == "nullif(trim(CAST((card_no) AS STRING)), '')"
    assert "try_to_timestamp(last_updated, 'dd/MM/yyyy HH:mm')" in loyalty["updated_at_expression"]
    assert "`last_updated`" in loyalty["updated_at_given"] and loyalty["updated_at_declared"] == "true"
    assert contract_parameters(contracts.get("pos"))["updated_at_declared"] == "false"


def _gate(spark, settings, table_path="bronze/crm", day=DAY_1, **kwargs):
    return run_gate(spark, settings, table_path=table_path, suite="bronze_default",
                    row_filter=f"_logical_date = '{day}'",
                    run=RunInfo(run_id=f"scheduled__{day}", dag_id="scv_daily", task_id="gate"), **kwargs)


def test_bronze_default_passes_a_good_batch_per_source(spark, settings):
    _write_bronze_crm(spark, settings, _crm_rows(DAY_1, 4) + _crm_rows(DAY_2, 2))

    outcome = _gate(spark, settings, build_docs=False)

    assert outcome.status == "passed", outcome.report()
    assert outcome.table == "bronze/crm" and outcome.suite == "bronze_default"
    assert outcome.parameters["source"] == "crm"
    assert [r.name for r in outcome.results] == [
        "required_columns_present", "has_lineage", "pk_not_null", "pk_unique", "updated_at_present",
        "updated_at_parseable", "row_count_band"]
    ops = spark.read.format("delta").load(validation_results_path(settings))
    assert {(r.table, r.suite) for r in ops.collect()} == {("bronze/crm", "bronze_default")}
    assert ops.where("expectation = 'row_count_band'").first().observed_value == "4"


def test_bronze_default_fails_null_blank_and_duplicate_keys_bad_timestamps_and_missing_columns(spark, settings):
    rows = _crm_rows(DAY_1, 6, RAW_EMAILS + ["a@example.com", "b@example.com", "c@example.com"])
    rows[0] = (None, *rows[0][1:])
    rows[1] = ("  ", *rows[1][1:])
    rows[3] = (rows[2][0], *rows[3][1:])  # the same key twice
    rows[4] = (*rows[4][:13], "05/01/2024 nine-ish", *rows[4][14:])
    rows[5] = (*rows[5][:13], None, *rows[5][14:])
    _write_bronze_crm(spark, settings, rows)
    spark.read.format("delta").load(settings.table_path("bronze", "crm")).drop("lastname").write.format(
        "delta").mode("overwrite").option("overwriteSchema", "true").save(settings.table_path("bronze", "crm"))

    outcome = _gate(spark, settings, build_docs=False, record=False)

    by_name = {r.name: r for r in outcome.results}
    assert {f.name for f in outcome.critical_failures} == {
        "required_columns_present", "pk_not_null", "pk_unique", "updated_at_parseable"}
    assert {f.name for f in outcome.warning_failures} == {"updated_at_present"}
    assert by_name["pk_not_null"].unexpected_count == 2 and by_name["pk_not_null"].error is None
    assert by_name["pk_unique"].unexpected_count == 2
    assert by_name["updated_at_parseable"].unexpected_count == 1 and by_name["updated_at_parseable"].error is None
    assert by_name["updated_at_present"].unexpected_count == 1
    published = outcome.report() + json.dumps(outcome.summary()) + repr(outcome)
    for raw in RAW_EMAILS + RAW_NAMES + ["05/01/2024 nine-ish"]:
        assert raw not in published


def test_bronze_default_serves_a_source_onboarded_by_yaml_alone(spark, settings, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "kiosk.yml").write_text(
        "name: kiosk\nformat: csv\npath: kiosk/*.csv\nprimary_key: concat(store, '-', ticket)\n"
        "updated_at: to_timestamp(seen, 'dd/MM/yyyy')\ncolumns: {email: mail}\n", encoding="utf-8")
    (sources / "tills.yml").write_text(
        "name: tills\nformat: csv\npath: tills/*.csv\nprimary_key: till_id\nkind: event\n"
        "person_ref: {source: kiosk, key: ticket}\nevent_time: to_timestamp(at)\n", encoding="utf-8")
    settings = settings.with_overrides(sources_dir=str(sources))
    lineage = "_source_file string, _line_number long, _logical_date date"
    kiosk = [("s1", "1", "05/01/2024", RAW_EMAILS[0]), ("s1", "2", "31/02/2024", RAW_EMAILS[1]),
             ("s2", "1", "06/01/2024", None), (None, "3", "06/01/2024", None)]
    spark.createDataFrame(
        [(*r, "k.csv", i, DAY_1) for i, r in enumerate(kiosk)],
        f"store string, ticket string, seen string, mail string, {lineage}",
    ).write.format("delta").save(settings.table_path("bronze", "kiosk"))
    spark.createDataFrame([("t1", "1", "2024-01-05T10:00:00", "t.csv", 1, DAY_1)],
                          f"till_id string, ticket string, at string, {lineage}").write.format("delta").save(
        settings.table_path("bronze", "tills"))

    kiosk_outcome = _gate(spark, settings, "bronze/kiosk", build_docs=False, record=False)
    tills_outcome = _gate(spark, settings, "bronze/tills", build_docs=False, record=False)

    assert kiosk_outcome.table == "bronze/kiosk"
    # concat(NULL, ...) is NULL: one missing key; 31/02 does not parse and is counted, not an error.
    assert {f.name: f.unexpected_count for f in kiosk_outcome.critical_failures} == {
        "pk_not_null": 1, "updated_at_parseable": 1}
    assert tills_outcome.status == "passed", tills_outcome.report()  # no updated_at: those checks pass
    _write_bronze_crm(spark, settings, _crm_rows(DAY_1, 1))
    with pytest.raises(KeyError, match="no source contract named 'crm'"):
        _gate(spark, settings, build_docs=False, record=False)
