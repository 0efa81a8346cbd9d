"""Masking of personal data in failing samples, logs and alerts (scv.quality.masking)."""

from __future__ import annotations

import datetime as dt

import pytest

from scv.quality.masking import (
    DATE,
    EMAIL,
    NAME,
    PHONE,
    PUBLIC,
    TEXT,
    Masker,
    column_kind,
    mask_value,
    scrub_text,
    token,
)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("john.doe@example.com", EMAIL, "j***@***.com"),
        ("+447700900123", PHONE, "+**********23"),
        ("07700 900 456", PHONE, "*********56"),
        ("1985-03-02", DATE, "1985-**-**"),
        ("02/03/1985", DATE, "1985-**-**"),
        (dt.date(1985, 3, 2), DATE, "1985-**-**"),
        (None, EMAIL, None),
        (42, NAME, 42),
        ("", NAME, ""),
        ("GB", PUBLIC, "GB"),
    ],
)
def test_mask_value_keeps_only_what_does_not_identify(value, kind, expected):
    assert mask_value(value, kind) == expected


def test_names_and_free_text_become_keyed_tokens():
    masked = mask_value("Johnson", NAME)
    assert masked.startswith("J***#") and "ohnson" not in masked
    assert mask_value("Johnson", NAME) == masked  # same value, same token: failures can be grouped
    assert mask_value("Johnsen", NAME) != masked
    assert mask_value("1 High Street", TEXT) == f"***#{token('1 High Street', TEXT)}"


def test_invalid_email_is_masked_too():
    for value in ("bad-email", "john.doe@localhost", "@nowhere"):
        assert value not in str(mask_value(value, EMAIL))


def test_unknown_columns_are_masked_unless_declared_public():
    assert column_kind("emailaddress1") == EMAIL
    assert column_kind("mobilephone") == PHONE
    assert column_kind("birthdate") == DATE
    assert column_kind("forename") == NAME
    assert column_kind("address1_postalcode") == TEXT
    assert column_kind("loyalty_notes") == TEXT  # unknown: default deny
    assert column_kind("country", unmasked_columns=["country"]) == PUBLIC
    assert column_kind("notes", pii_columns={"notes": "email"}) == EMAIL


def test_masker_masks_rows_field_by_field():
    masker = Masker(unmasked_columns=["record_id"])
    row = masker.mask_row({"record_id": "crm:1", "email": "ann@example.org", "phone": "+33612345678"})
    assert row == {"record_id": "crm:1", "email": "a***@***.org", "phone": "+*********78"}


def test_scrub_text_removes_emails_phones_and_dates_from_free_text():
    text = "cannot parse 'ann.lee@example.org' or '+44 7700 900123' born 1985-03-02 at row 12"
    scrubbed = scrub_text(text)
    assert "ann.lee@example.org" not in scrubbed and "a***@***.org" in scrubbed
    assert "7700 900123" not in scrubbed
    assert "1985-03-02" not in scrubbed and "1985-**-**" in scrubbed
    assert "row 12" in scrubbed


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown masking kind"):
        Masker(pii_columns={"x": "secret"})
