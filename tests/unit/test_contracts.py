"""Source contracts: the shipped ones are valid, broken ones fail naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scv.config import PROJECT_ROOT
from scv.contracts import ContractError, load_contract, load_contracts

SOURCES = PROJECT_ROOT / "include" / "sources"


def test_shipped_contracts_are_valid():
    contracts = load_contracts(SOURCES)
    assert contracts.errors == {}
    assert {c.name for c in contracts.persons()} == {"crm", "webshop", "loyalty"}
    assert {c.name for c in contracts.events()} == {"pos", "web_events"}
    assert contracts.get("loyalty").delimiter == ";"
    assert contracts.get("pos").person_ref.source == "loyalty"


def write(tmp_path: Path, name: str, body: dict) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(body))
    return path


BASE = {
    "name": "shop",
    "format": "csv",
    "path": "shop/*.csv",
    "primary_key": "id",
    "raw_columns": ["id", "first", "mail"],
    "columns": {"first_name": "first", "email": "lower(mail)"},
}


@pytest.mark.parametrize(
    "change, key, words",
    [
        ({"format": "xlsx"}, "format", "unknown format"),
        ({"primary_key": None}, "primary_key", "is required"),
        ({"columns": {"email": "lower(mailaddress)"}}, "columns.email", "mailaddress"),
        ({"columns": {"email": "lower(mail"}}, "columns.email", "not a valid Spark SQL expression"),
        ({"columns": {"shoe_size": "first"}}, "columns.shoe_size", "not a canonical person field"),
        ({"columns": {"city": "first"}}, "columns", "no identifying field"),
        ({"kind": "event"}, "person_ref", "event sources need person_ref"),
        ({"options": {"encoding": "latin-1"}}, "options.encoding", "UTF-8 only"),
        ({"colour": "red"}, "colour", "unknown key"),
    ],
)
def test_broken_contract_names_file_and_key(tmp_path, change, key, words):
    path = write(tmp_path, "shop", {**BASE, **change})
    with pytest.raises(ContractError) as raised:
        load_contract(path)
    message = str(raised.value)
    assert str(path) in message
    assert f"key '{key}'" in message
    assert words in message


def test_one_broken_contract_does_not_hide_the_others(tmp_path):
    write(tmp_path, "shop", BASE)
    write(tmp_path, "bad", {**BASE, "name": "bad", "format": "xlsx"})
    contracts = load_contracts(tmp_path)
    assert list(contracts.contracts) == ["shop"]
    assert list(contracts.errors) == ["bad"]
    with pytest.raises(ContractError, match="bad.yml"):
        contracts.get("bad")


def test_required_columns_default_to_the_primary_key_columns(tmp_path):
    contract = load_contracts(SOURCES).get("pos")
    assert contract.effective_required_columns() == ("transaction_id", "card_no", "transaction_ts", "amount")
    plain = load_contract(write(tmp_path, "shop", BASE))
    assert plain.effective_required_columns() == ("id",)
