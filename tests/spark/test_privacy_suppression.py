"""The suppression rule at bronze (a real Delta suppression list, the real crm and webshop
contracts): the erased person's rows are dropped by email, by phone with their first name, or by
record id; a household member sharing their landline is kept."""

from __future__ import annotations

from scv.contracts import load_contracts
from scv.privacy import suppression
from scv.privacy.keyed_hash import keyed_hash
from scv.privacy.subject import SubjectFingerprint, SubjectMatcher, phone_key

KEY = b"test-suppression-key"
LANDLINE = "020 7946 0958"
EMAIL = "zeb.q@larkspur-mail.co.uk"


def _fingerprint() -> SubjectFingerprint:
    fingerprint = SubjectFingerprint.from_identifiers(
        KEY, [EMAIL], ["+44 7911 123456", LANDLINE], ["Zebedee"], ["Quarrington-Vask"]
    )
    return fingerprint.with_shared([keyed_hash(phone_key(LANDLINE), KEY)])


def test_shared_landline_counts_only_next_to_the_subjects_first_name():
    matcher = SubjectMatcher(_fingerprint(), KEY)
    assert matcher.kinds(["Agatha,Quarrington-Vask,+44 20 7946 0958"]) == set()
    assert matcher.kinds(["ZEBEDEE;Quarrington-Vask;02079460958"]) == {"phone", "name"}
    assert matcher.kinds(["Zeb,Q,07911 123456"]) == {"phone"}  # the mobile is nobody else's
    assert matcher.kinds(["x", f"someone, {EMAIL.upper()}"]) == {"email"}


def test_bronze_drops_the_erased_person_and_keeps_the_household(spark, settings):
    contracts = load_contracts(settings.sources_dir)
    added = suppression.add(spark, settings, _fingerprint(), ["crm:crm-0001"], KEY, "DSR-1")
    hashes = suppression.load_hashes(spark, settings)
    assert added == sum(len(v) for v in hashes.values())
    assert set(hashes) == {"email", "phone_name", "record"}  # no bare phone: it would drop the household
    stored = {h for v in hashes.values() for h in v}
    assert keyed_hash(phone_key(LANDLINE), KEY) not in stored

    crm = contracts.get("crm")
    columns = list(crm.raw_columns) + ["_source_file"]

    def row(**values):
        return tuple(values.get(c, "") for c in columns)

    rows = [
        row(contactid="crm-0001", firstname="Zeb", lastname="Q", emailaddress1="", _source_file="f"),  # by record id
        row(contactid="crm-0002", firstname="Zebedee", lastname="Quarrington-Vask", emailaddress1=EMAIL.upper(), _source_file="f"),
        row(contactid="crm-0003", firstname="zebedee", lastname="Quarrington-Vask", emailaddress1="new@mail.co.uk",
            telephone1="+44 20 7946 0958", _source_file="f"),  # landline + first name
        row(contactid="crm-0004", firstname="Agatha", lastname="Quarrington-Vask", emailaddress1="agatha@mail.co.uk",
            telephone1="+44 20 7946 0958", _source_file="f"),  # household: kept
        row(contactid="crm-0005", firstname="Agatha", lastname="Quarrington-Vask", emailaddress1="",
            mobilephone="", telephone1="02079460958", _source_file="f"),  # household, no email: kept
    ]
    bronze = spark.createDataFrame(rows, ", ".join(f"`{c}` string" for c in columns))
    kept, dropped = suppression.drop_suppressed(bronze, crm, hashes, KEY)
    assert sorted(r.contactid for r in kept.collect()) == ["crm-0004", "crm-0005"]
    assert dropped.count() == 3

    webshop = contracts.get("webshop")  # full name only: the first-name token comes from it
    columns = list(webshop.raw_columns) + ["_source_file"]
    rows = [
        tuple({"account_id": "w1", "full_name": "Zebedee Quarrington-Vask", "phone": "02079460958"}.get(c, "") for c in columns),
        tuple({"account_id": "w2", "full_name": "Agatha Quarrington-Vask", "phone": "02079460958"}.get(c, "") for c in columns),
    ]
    bronze = spark.createDataFrame(rows, ", ".join(f"`{c}` string" for c in columns))
    kept, _ = suppression.drop_suppressed(bronze, webshop, hashes, KEY)
    assert [r.account_id for r in kept.collect()] == ["w2"]
