"""Pure-Python parts of standardisation: keys, nickname merging, names, phones, reference tables."""

from __future__ import annotations

import shutil

import pytest

from scv.standardise.names import NameStandardiser, standardise_name
from scv.standardise.nicknames import resolve_nicknames
from scv.standardise.phones import PhoneStandardiser, to_e164
from scv.standardise.reference import DEFAULT_REFERENCE_DIR, ReferenceError, load_reference
from scv.standardise.text import fold_latin, is_junk_key, value_key


@pytest.fixture(scope="module")
def ref():
    return load_reference()


@pytest.fixture(scope="module")
def rules(ref):
    return ref.names


# --- keys and junk ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("N/A", "na"),
        (" n.a. ", "na"),
        ("Walk-in Guest", "walkinguest"),
        ("-", ""),
        ("Éire", "eire"),
        ("U.K.", "uk"),
        ("Straße", "strasse"),
        ("O’Brien", "obrien"),
    ],
)
def test_value_key(raw, key):
    assert value_key(raw) == key


@pytest.mark.parametrize(
    ("key", "junk"),
    [("", True), ("xxx", True), ("0000", True), ("xx", False), ("na", True), ("nathan", False)],
)
def test_is_junk_key(key, junk):
    assert is_junk_key(key, frozenset({"na"})) is junk


def test_fold_latin_keeps_other_scripts():
    assert fold_latin("Müller Łódź Ærø") == "Muller Lodz AEro"
    assert fold_latin("Москва") == "Москва"


# --- nickname merging ---------------------------------------------------------------------------


def test_resolve_nicknames_rules():
    graph = {
        "margaret": {"peggy", "meg"},
        "megan": {"meg"},
        "robert": {"bob", "bill"},
        "william": {"bill", "will"},
        "will": {"bill"},  # will is a canonical of its own (rule 1)
        "bob": {"bobby"},
    }
    mapping = resolve_nicknames(graph, {"bill": "william", "bobby": "robert"})
    assert mapping["peggy"] == "margaret"
    assert mapping["meg"] == "margaret"  # same first letter, then most nicknames
    assert "will" not in mapping  # has nicknames itself: kept as its own canonical
    assert mapping["bill"] == "william"  # the override wins over robert
    assert mapping["bobby"] == "robert"


def test_resolve_nicknames_is_idempotent_and_follows_chains():
    graph = {"robert": {"rob"}, "rob": {"robbie"}, "roberta": {"bobbie"}, "bob": {"bobbie"}}
    mapping = resolve_nicknames(graph, {"rob": "robert", "bobbie": "bob", "bob": "robert"})
    assert mapping["robbie"] == "robert"  # robbie -> rob (published) -> robert (override)
    assert mapping["bobbie"] == "robert"  # bobbie -> bob -> robert, both overrides
    assert all(mapping.get(v, v) == v for v in mapping.values())


def test_resolve_nicknames_is_deterministic():
    graph = {"alexander": {"alex", "sandy"}, "alexandra": {"alex", "sandy"}, "sandra": {"sandy"}}
    first = resolve_nicknames(graph, {})
    second = resolve_nicknames(dict(reversed(list(graph.items()))), {})
    assert first == second


def test_published_list_and_overrides(rules):
    nick = rules.nicknames
    for name in ("bill", "will", "billy", "willy"):
        assert nick[name] == "william"
    for name in ("peggy", "meg", "maggie"):
        assert nick[name] == "margaret"
    assert nick["bob"] == "robert"
    assert nick.get("william", "william") == "william"
    assert nick.get("daisy", "daisy") == "daisy"  # a blocking override row
    assert all(nick.get(v, v) == v for v in nick.values())


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "full", "expected_first", "expected_last"),
    [
        ("José", "Müller", None, "jose", "muller"),
        ("JOSÉ", "  MÜLLER ", None, "jose", "muller"),
        ("Seán", "O'Brien", None, "sean", "obrien"),
        ("Mary-Jane", "Smith-Jones", None, "mary jane", "smith jones"),
        ("Dr John", "Smith Jr.", None, "john", "smith"),
        ("Mrs. Anne", "Hughes PhD", None, "anne", "hughes"),
        ("John A.", "Smith", None, "john", "smith"),  # middle initial dropped
        ("J.", "Smith", None, "j", "smith"),  # a lone initial stays
        (None, None, "Smith, John", "john", "smith"),
        (None, None, "Smith, Mr Bill Jr", "bill", "smith"),
        (None, None, "Mr John Smith III", "john", "smith"),
        (None, None, "Ludwig van Beethoven", "ludwig", "van beethoven"),
        (None, None, "Maria de la Cruz", "maria", "de la cruz"),
        (None, None, "Mary Ann Smith", "mary ann", "smith"),
        ("Smith, John", None, None, "john", "smith"),  # "Last, First" in the first-name field
        ("Smith", "Colin", None, "colin", "smith"),  # swapped fields
        ("Jones", "David", None, "david", "jones"),
        ("HUGHES", "MALCOLM", None, "malcolm", "hughes"),
        (None, None, "Davies Nicola", "nicola", "davies"),  # swapped inside a full name
        ("Martin", "Thomas", None, "martin", "thomas"),  # both common either way: left alone
        ("Tadhg", "Murphy", None, "tadhg", "murphy"),  # unknown to the census: left alone
        ("John", None, "Smith, John", "john", "smith"),  # the missing surname from full_name
        (None, None, "Smith", None, "smith"),
        (None, None, "David", "david", None),
    ],
)
def test_name_parts(rules, first, last, full, expected_first, expected_last):
    result = standardise_name(first, last, full, rules)
    assert (result.first_name, result.last_name) == (expected_first, expected_last)


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        (("Müller", "Mueller", "Muller"), "last_name_phonetic"),
        (("Schröder", "Schroeder", "Schroder"), "last_name_phonetic"),
        (("Jäger", "Jaeger"), "last_name_phonetic"),
        (("Krüger", "Krueger"), "last_name_phonetic"),
        (("Smith", "Smyth"), "last_name_phonetic"),
    ],
)
def test_german_transliterations_share_the_phonetic_key(rules, variants, field):
    codes = {getattr(standardise_name("Anna", v, None, rules), field) for v in variants}
    assert len(codes) == 1 and None not in codes


def test_mueller_keeps_its_spelling_in_the_name(rules):
    assert standardise_name(None, "Müller", None, rules).last_name == "muller"
    assert standardise_name(None, "Mueller", None, rules).last_name == "mueller"


@pytest.mark.parametrize(
    ("first", "canonical", "phonetic"),
    [
        ("Bill", "william", "PL"),
        ("Will", "william", "AL"),
        ("Billy", "william", "PL"),
        ("William", "william", "ALM"),
        ("Peggy", "margaret", "PK"),
        ("Meg", "margaret", "MK"),
        ("Zoë", "zoe", "S"),
        ("Xanthe", "xanthe", "SN0"),  # unknown names are their own canonical
    ],
)
def test_nickname_canonical_and_phonetic(rules, first, canonical, phonetic):
    result = standardise_name(first, "Smith", None, rules)
    assert result.first_name_canonical == canonical
    assert result.first_name_phonetic == phonetic


@pytest.mark.parametrize(
    ("first", "last", "full", "junk"),
    [
        ("Walk-in", "Guest", None, (True, True, False)),
        ("X", "X", None, (True, True, False)),
        ("Guest", "", None, (True, False, False)),
        (None, None, "Guest Customer", (False, False, True)),
        (None, None, "Walk-in Guest", (False, False, True)),
        (None, None, "test test", (False, False, True)),
        ("Test", "Test", None, (True, True, False)),
        ("n/a", "Smith", None, (True, False, False)),
        ("Unknown", "NONE", None, (True, True, False)),
        ("-", "xxx", None, (True, True, False)),
        ("Mr", "Smith", None, (True, False, False)),  # a title and nothing else
        ("123", "Smith", None, (True, False, False)),
    ],
)
def test_placeholders_are_nulled_and_flagged(rules, first, last, full, junk):
    result = standardise_name(first, last, full, rules)
    assert (result.first_name_junk, result.last_name_junk, result.full_name_junk) == junk
    if junk[0]:
        assert result.first_name is None and result.first_name_canonical is None
    if junk[1] or junk[2]:
        assert result.last_name is None and result.last_name_phonetic is None


def test_one_letter_surname_is_junk_but_an_initial_is_not(rules):
    result = standardise_name("J", "K", None, rules)
    assert (result.first_name, result.last_name, result.last_name_junk) == ("j", None, True)


@pytest.mark.parametrize(
    ("first", "last", "full", "company"),
    [
        (None, "Acme Ltd", None, True),
        (None, None, "Summit Builders Limited", True),
        ("Brightside", "GmbH", None, True),
        (None, None, "Apex Consulting S.A.R.L.", True),
        ("John", "Smith", None, False),
        (None, None, "Incy Wincy", False),
    ],
)
def test_company_names(rules, first, last, full, company):
    assert standardise_name(first, last, full, rules).looks_like_company is company


def test_blank_input_gives_nothing(rules):
    result = standardise_name(None, "  ", "", rules)
    assert result.first_name is None and result.last_name is None
    assert not (result.first_name_junk or result.last_name_junk or result.full_name_junk)


def test_memoised_standardiser_agrees_with_the_function(rules):
    standardiser = NameStandardiser(rules, max_entries=2)
    inputs = [
        ("Bill", "Smith", None),
        (None, None, "Jones, Peggy"),
        ("Bill", "Smith", None),
        ("A", "B", "C"),
    ]
    for args in inputs * 2:
        assert standardiser(*args) == standardise_name(*args, rules)


# --- phones -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "region", "e164"),
    [
        ("07911 123456", "GB", "+447911123456"),
        ("+447911123456", "GB", "+447911123456"),
        ("00447911123456", "GB", "+447911123456"),
        ("447911123456", "GB", "+447911123456"),
        ("+4402079460958", "GB", "+442079460958"),  # "+44 (0)20 ..." after the (0) went
        ("2125551234", "US", "+12125551234"),
        ("12125551234", "US", "+12125551234"),  # "1-212-555-1234"
        ("+12125551234", "DE", "+12125551234"),  # foreign numbers keep their own country
        ("0301234567", "DE", "+49301234567"),
        ("0142685300", "FR", "+33142685300"),
        ("0871234567", "IE", "+353871234567"),
        ("+33142685300", None, "+33142685300"),
        ("0142685300", None, None),  # national number without a region
        ("07700900123", "GB", None),  # Ofcom's drama range is not a valid number
        ("123", "GB", None),
        ("", "GB", None),
        (None, "GB", None),
    ],
)
def test_to_e164(number, region, e164):
    assert to_e164(number, region) == e164


def test_phone_standardiser_memo():
    standardiser = PhoneStandardiser(max_entries=1)
    assert standardiser("07911123456", "GB") == "+447911123456"
    assert standardiser("0871234567", "IE") == "+353871234567"
    assert standardiser("07911123456", "GB") == "+447911123456"


# --- reference tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "code"),
    [
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("United Kingdom", "GB"),
        ("England", "GB"),
        ("GBR", "GB"),
        ("gb", "GB"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("USA", "US"),
        ("United States of America", "US"),
        ("Éire", "IE"),
        ("Ireland", "IE"),
        ("Irlande", "IE"),
        ("France", "FR"),
        ("Holland", "NL"),
    ],
)
def test_country_aliases(ref, alias, code):
    assert ref.country_aliases[value_key(alias)] == code


def test_country_codes_are_iso_3166_alpha2(ref):
    assert len(ref.country_codes) == 249
    assert {"GB", "US", "DE", "FR", "IE"} <= ref.country_codes
    assert not {"UK", "EU", "XK"} & ref.country_codes


def test_fingerprint_tracks_content(ref):
    assert ref.names.fingerprint == load_reference().names.fingerprint
    assert len(ref.names.fingerprint) == 16


def test_missing_reference_file_is_named(tmp_path):
    shutil.copytree(DEFAULT_REFERENCE_DIR, tmp_path / "ref")
    (tmp_path / "ref" / "placeholders.csv").unlink()
    with pytest.raises(ReferenceError, match="placeholders.csv"):
        load_reference(tmp_path / "ref")


def test_unknown_placeholder_scope_is_rejected(tmp_path):
    shutil.copytree(DEFAULT_REFERENCE_DIR, tmp_path / "ref")
    with (tmp_path / "ref" / "placeholders.csv").open("a") as handle:
        handle.write("dunno,anywhere\n")
    with pytest.raises(ReferenceError, match="unknown scope 'anywhere'"):
        load_reference(tmp_path / "ref")


def test_conflicting_country_alias_is_rejected(tmp_path):
    shutil.copytree(DEFAULT_REFERENCE_DIR, tmp_path / "ref")
    with (tmp_path / "ref" / "country_aliases.csv").open("a") as handle:
        handle.write("England,FR,manual\n")
    with pytest.raises(ReferenceError, match="England"):
        load_reference(tmp_path / "ref")
