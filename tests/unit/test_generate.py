"""The sample-data generator: contract shapes, determinism, ground truth, mess, daily deliveries.

Small populations only (no Spark); one shared day-0 + day-1 landing zone per module.
"""

from __future__ import annotations

import collections
import csv
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from nicknames import NickNamer
from unidecode import unidecode

from scv.generate import GenerationSummary, generate_landing
from scv.generate import landing as landing_module
from scv.generate import vocab
from scv.generate.__main__ import main as cli_main
from scv.generate import phones as phones_module
from scv.generate.population import build_population, canonical_email

RUN_DATE = date(2026, 11, 22)
DAY0 = RUN_DATE.strftime("%Y%m%d")
DAY1 = (RUN_DATE + timedelta(days=1)).strftime("%Y%m%d")
PEOPLE = 2000
CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "data-contracts.md"
COUNTRY_CODES = {spelling: code for table in (vocab.COUNTRY_SPELLINGS_CRM,
                                              vocab.COUNTRY_SPELLINGS_LOYALTY)
                 for code, spellings in table.items() for spelling in spellings}
COUNTRY_CODES["UK"] = "GB"


# ------------------------------------------------------------------------------------------
# Fixtures and helpers
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zone(tmp_path_factory) -> dict:
    """Day 0 (2,000 people) and the day-1 delivery, generated once for the module."""
    root = tmp_path_factory.mktemp("landing")
    day0 = generate_landing(root, PEOPLE, seed=7, run_date=RUN_DATE, workers=1)
    day1 = generate_landing(root, PEOPLE, seed=7, run_date=RUN_DATE + timedelta(days=1),
                            day_index=1, workers=1)
    return {"root": root, "day0": day0, "day1": day1,
            "records0": load_records(root, DAY0), "records1": load_records(root, DAY1)}


def read_csv(path: Path, delimiter: str = ",") -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter, strict=True)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def load_records(root: Path, d: str) -> list[dict]:
    """Every person record of one delivery in one flat shape, joined to its ground truth."""
    _, truth = read_csv(root / f"_truth/ground_truth_{d}.csv")
    by_id = {(t["source_system"], t["source_record_id"]): t for t in truth}
    out = []
    _, crm = read_csv(root / f"crm/crm_contacts_{d}.csv")
    for r in crm:
        out.append({"source": "crm", "id": r["contactid"], "first": r["firstname"],
                    "last": r["lastname"], "company": r["companyname"],
                    "email": r["emailaddress1"], "phones": [r["mobilephone"], r["telephone1"]],
                    "dob": r["birthdate"], "line1": r["address1_line1"],
                    "city": r["address1_city"], "postcode": r["address1_postalcode"],
                    "country": COUNTRY_CODES.get(r["address1_country"], ""), "raw": r})
    for r in read_jsonl(root / f"webshop/webshop_accounts_{d}.jsonl"):
        full = r["full_name"]
        if ", " in full:
            last, first = full.split(", ", 1)
        else:
            first, _, last = full.rpartition(" ")
        addr = r["address"]
        out.append({"source": "webshop", "id": r["account_id"], "first": first, "last": last,
                    "full_name": full, "company": "", "email": r["email"],
                    "phones": [r["phone"] or ""], "dob": r.get("date_of_birth", ""),
                    "line1": addr["line1"] or "", "city": addr["city"] or "",
                    "postcode": addr["postcode"] or "",
                    "country": COUNTRY_CODES.get(addr["country_code"] or "",
                                                 addr["country_code"] or ""), "raw": r})
    _, loyalty = read_csv(root / f"loyalty/loyalty_cards_{d}.csv", delimiter=";")
    for r in loyalty:
        dob = ""
        if r["dob"]:
            day, month, year = r["dob"].split("/")
            dob = f"{year}-{month}-{day}"
        out.append({"source": "loyalty", "id": r["card_no"], "first": r["forename"],
                    "last": r["surname"], "company": "", "email": r["email"],
                    "phones": [r["phone"]], "dob": dob, "line1": r["street"],
                    "city": r["town"], "postcode": r["postcode"],
                    "country": COUNTRY_CODES.get(r["country"], ""), "raw": r})
    for rec in out:
        t = by_id[(rec["source"], rec["id"])]
        rec.update(person=t["person_id"], household=t["household_id"], twin=t["twin_group"],
                   is_company=t["is_company"] == "1")
    return out


def by_person(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for r in records:
        out[r["person"]].append(r)
    return out


def fold(text: str) -> str:
    return unidecode(text or "").lower().strip()


def contract_columns() -> dict[str, list[str]]:
    """Column names per landing file, parsed from docs/data-contracts.md "Landing zone".

    A nested object is returned as ``name{a; b}``."""
    text = CONTRACTS.read_text(encoding="utf-8")
    section = text.split("## Landing zone", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        shape = cells[2]
        for prefix in ("header, UTF-8.", "header.", "JSON lines."):
            if prefix in shape:
                shape = shape.split(prefix, 1)[1]
                break
        shape = re.sub(r"\s*\{([^}]*)\}", lambda m: "{" + m.group(1).replace(",", ";") + "}",
                       shape)
        shape = re.sub(r"\([^)]*\)", "", shape)
        out[cells[1].strip("`").split("/")[0]] = [c.strip() for c in shape.split(",")
                                                   if c.strip()]
    return out


def e164(raw: str, country: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ------------------------------------------------------------------------------------------
# Determinism and API
# ------------------------------------------------------------------------------------------

def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_same_arguments_write_identical_bytes_and_seed_changes_them(tmp_path):
    a = generate_landing(tmp_path / "a", 300, seed=11, workers=1)
    generate_landing(tmp_path / "b", 300, seed=11, workers=1)
    generate_landing(tmp_path / "c", 300, seed=12, workers=1)
    first, second, other = (_tree_bytes(tmp_path / x) for x in "abc")
    assert set(first) == set(landing_module.landing_files(RUN_DATE).values())
    assert first == second
    assert first.keys() == other.keys()
    assert all(first[k] != other[k] for k in first)
    assert a.records["truth"] == a.person_records


def test_worker_count_and_chunking_do_not_change_the_output(tmp_path, monkeypatch):
    generate_landing(tmp_path / "serial", 900, seed=3, workers=1)
    monkeypatch.setattr(landing_module, "CHUNK_PEOPLE", 400)
    # Chunk boundaries move households and random streams: only the worker count is free.
    generate_landing(tmp_path / "small1", 900, seed=3, workers=1)
    generate_landing(tmp_path / "small2", 900, seed=3, workers=2)
    assert _tree_bytes(tmp_path / "small1") == _tree_bytes(tmp_path / "small2")
    assert (tmp_path / "serial" / f"crm/crm_contacts_{DAY0}.csv").exists()


def test_no_temporary_files_are_left_behind(zone):
    leftovers = [p for p in Path(zone["root"]).rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_summary_counts_match_the_files(zone):
    s: GenerationSummary = zone["day0"]
    d = s.as_dict()
    json.dumps(d)  # serialisable as is
    assert d["run_date"] == RUN_DATE.isoformat() and d["people"] == PEOPLE
    for key, path in s.files.items():
        with open(path, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        header = 0 if path.endswith(".jsonl") else 1
        assert lines - header == s.records[key], key
    assert s.person_records == s.records["truth"]


@pytest.mark.parametrize("kwargs", [{"people": 0}, {"seed": -1}, {"day_index": -1},
                                    {"new_record_fraction": 0.0},
                                    {"new_record_fraction": 0.9}])
def test_bad_arguments_are_rejected(tmp_path, kwargs):
    args = {"people": 10} | kwargs
    with pytest.raises(ValueError):
        generate_landing(tmp_path, **args)


def test_cli_prints_the_summary_as_json(tmp_path, capsys):
    assert cli_main(["--landing", str(tmp_path), "--people", "50", "--seed", "5",
                     "--run-date", "2026-01-31", "--workers", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["people"] == 50 and out["run_date"] == "2026-01-31"
    assert Path(out["files"]["crm"]).name == "crm_contacts_20260131.csv"
    assert Path(out["files"]["crm"]).exists()


# ------------------------------------------------------------------------------------------
# Shapes: exactly what docs/data-contracts.md declares
# ------------------------------------------------------------------------------------------

def test_contract_table_is_parsed():
    cols = contract_columns()
    assert set(cols) == {"crm", "webshop", "loyalty", "pos", "web_events", "_truth"}
    assert cols["webshop"][5] == "address{line1; city; postcode; country_code}"


def test_csv_files_have_the_declared_header_and_parse(zone):
    cols = contract_columns()
    root = zone["root"]
    for folder, path, delimiter in (("crm", f"crm/crm_contacts_{DAY0}.csv", ","),
                                    ("loyalty", f"loyalty/loyalty_cards_{DAY0}.csv", ";"),
                                    ("pos", f"pos/pos_transactions_{DAY0}.csv", ","),
                                    ("_truth", f"_truth/ground_truth_{DAY0}.csv", ",")):
        header, rows = read_csv(root / path, delimiter)
        assert header == cols[folder], folder
        assert rows and all(len(r) == len(header) and None not in r for r in rows), folder
        raw = (root / path).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")  # UTF-8 without BOM
        raw.decode("utf-8")


def test_crm_and_loyalty_value_formats(zone):
    _, crm = read_csv(zone["root"] / f"crm/crm_contacts_{DAY0}.csv")
    for r in crm:
        assert r["donotemail"] in ("0", "1")
        assert r["birthdate"] == "" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["birthdate"])
        datetime.strptime(r["modifiedon"], "%Y-%m-%dT%H:%M:%SZ")
    _, loyalty = read_csv(zone["root"] / f"loyalty/loyalty_cards_{DAY0}.csv", ";")
    for r in loyalty:
        assert r["email_consent"] in ("Y", "N")
        assert r["dob"] == "" or re.fullmatch(r"\d{2}/\d{2}/\d{4}", r["dob"])
        datetime.strptime(r["last_updated"], "%d/%m/%Y %H:%M")
        assert re.fullmatch(r"633\d{13}", r["card_no"])


def test_json_lines_have_the_declared_keys_and_types(zone):
    cols = contract_columns()
    web_keys = [c.split("{")[0] for c in cols["webshop"]]
    nested = [c for c in cols["webshop"] if "{" in c][0]
    nested_keys = set(nested.split("{")[1].rstrip("}").replace(" ", "").split(";"))
    accounts = read_jsonl(zone["root"] / f"webshop/webshop_accounts_{DAY0}.jsonl")
    with_dob = 0
    for a in accounts:
        expected = [k for k in web_keys if k != "date_of_birth" or "date_of_birth" in a]
        assert list(a) == expected
        with_dob += "date_of_birth" in a
        assert set(a["address"]) == nested_keys
        assert isinstance(a["marketing_opt_in"], bool)
        datetime.fromisoformat(a["created_at"].replace("Z", "+00:00"))
        assert a["updated_at"] >= a["created_at"]
    assert 0 < with_dob < len(accounts)  # the key is sometimes absent
    events = read_jsonl(zone["root"] / f"web_events/web_events_{DAY0}.jsonl")
    assert events and all(list(e) == cols["web_events"] for e in events)


# ------------------------------------------------------------------------------------------
# Ground truth and record structure
# ------------------------------------------------------------------------------------------

def test_ground_truth_covers_every_record_exactly_once(zone):
    root = zone["root"]
    _, truth = read_csv(root / f"_truth/ground_truth_{DAY0}.csv")
    keys = [(t["source_system"], t["source_record_id"]) for t in truth]
    assert len(keys) == len(set(keys))
    data_keys = [(r["source"], r["id"]) for r in zone["records0"]]
    assert len(data_keys) == len(set(data_keys))  # ids unique per source
    assert set(keys) == set(data_keys)
    assert {t["is_company"] for t in truth} == {"0", "1"}


def test_records_per_person_between_one_and_four_mean_near_two_and_a_half(zone):
    counts = collections.Counter(r["person"] for r in zone["records0"])
    assert len(counts) == PEOPLE
    assert set(counts.values()) == {1, 2, 3, 4}
    mean = sum(counts.values()) / len(counts)
    assert 2.35 <= mean <= 2.65
    sources = collections.Counter(r["source"] for r in zone["records0"])
    assert all(n > 0.25 * len(zone["records0"]) for n in sources.values())
    # some people also appear twice in one system, most spread over systems
    within = sum(1 for recs in by_person(zone["records0"]).values()
                 if len(recs) > len({r["source"] for r in recs}))
    assert 0.15 * PEOPLE < within < 0.4 * PEOPLE


def test_companies_are_crm_accounts_with_their_own_person_ids(zone):
    companies = by_person([r for r in zone["records0"] if r["is_company"]])
    assert len(companies) >= 15
    for recs in companies.values():
        crm = [r for r in recs if r["source"] == "crm"]
        assert crm and all(r["company"] for r in crm)
        assert all(r["household"] == "" and r["dob"] == "" for r in recs)
    assert sum(1 for recs in companies.values() for r in recs
               if r["source"] == "crm" and not r["first"]) > 0  # names left empty
    assert sum(1 for recs in companies.values() for r in recs
               if r["source"] == "crm" and r["first"]) > 0  # or a contact person


# ------------------------------------------------------------------------------------------
# The mess
# ------------------------------------------------------------------------------------------

def test_phones_are_valid_for_their_country_or_known_junk(zone):
    seen_styles = set()
    checked = junk = 0
    for r in zone["records0"]:
        for raw in r["phones"]:
            if not raw:
                continue
            if raw in vocab.JUNK_PHONES:
                junk += 1
                continue
            if not r["country"]:
                continue  # a number without its country may be ambiguous, as in real data
            assert e164(raw, r["country"]) is not None, (raw, r["country"])
            checked += 1
            seen_styles.add(re.sub(r"\d", "9", raw))
    assert checked > 2000 and junk >= 5
    for notation in ("+99 9999 999999", "+999999999999", "9999 9999 999999", "(99999) 999999",
                     "99999 999999", "99999999999", "99999-999999", "+99 (9)9999 999999"):
        assert notation in seen_styles, notation  # GB mobile notations


def test_same_number_written_in_several_notations(zone):
    variants = 0
    for recs in by_person(zone["records0"]).values():
        forms = collections.defaultdict(set)
        for r in recs:
            for raw in r["phones"]:
                if raw and raw not in vocab.JUNK_PHONES and r["country"]:
                    forms[e164(raw, r["country"])].add(raw)
        variants += sum(1 for f in forms.values() if len(f) > 1)
    assert variants >= 100


def test_name_mess_nicknames_accents_typos_swaps_and_last_comma_first(zone):
    namer = NickNamer()
    people = by_person([r for r in zone["records0"] if not r["is_company"]])
    nick = accent = swapped = typo_like = 0
    for recs in people.values():
        firsts = {r["first"] for r in recs if r["first"]}
        folded = {fold(f) for f in firsts}
        if any(b in namer.nicknames_of(a) for a in folded for b in folded):
            nick += 1
        if any(not f.isascii() for f in firsts) and any(
                f.isascii() and fold(f) in {fold(g) for g in firsts if not g.isascii()}
                for f in firsts):
            accent += 1
        pairs = {(fold(r["first"]), fold(r["last"])) for r in recs if r["source"] != "webshop"}
        if any((b, a) in pairs and a != b for a, b in pairs):
            swapped += 1
        lasts = {fold(r["last"]) for r in recs if r["last"]}
        if any(a != b and len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1
               for a in lasts for b in lasts):
            typo_like += 1
    assert nick >= 40, nick
    assert accent >= 20, accent
    assert swapped >= 15, swapped
    assert typo_like >= 10, typo_like
    comma = [r for r in zone["records0"] if r["source"] == "webshop" and ", " in r["full_name"]]
    assert len(comma) >= 80


def test_placeholders_junk_and_missing_fields(zone):
    records = zone["records0"]
    placeholder_pairs = {(fold(a), fold(b)) for a, b in vocab.PLACEHOLDER_NAMES}
    placeholder_full = {fold(n) for n in vocab.PLACEHOLDER_FULL_NAMES}
    placeholders = sum(1 for r in records
                       if (fold(r["first"]), fold(r["last"])) in placeholder_pairs
                       or fold(r.get("full_name", "")) in placeholder_full)
    assert placeholders >= 10
    assert sum(1 for r in records if r["email"] in vocab.JUNK_EMAILS) >= 5
    assert sum(1 for r in records if r["dob"] in ("1900-01-01",)) >= 1
    for field in ("email", "dob", "postcode", "city", "country"):
        missing = sum(1 for r in records if not r[field])
        assert 0 < missing < 0.6 * len(records), field


def test_email_variants_gmail_dots_tags_case_and_second_addresses(zone):
    records = zone["records0"]
    emails = [r["email"] for r in records if r["email"]]
    assert sum(1 for e in emails if "+" in e.split("@")[0]) >= 20
    assert sum(1 for e in emails if e != e.lower()) >= 20
    assert sum(1 for e in emails if e.lower().endswith("@googlemail.com")) >= 5
    dots = second = 0
    junk = {canonical_email(e) for e in vocab.JUNK_EMAILS}
    for recs in by_person(records).values():
        raw = {r["email"].lower().split("+")[0] for r in recs if r["email"]}
        canon = {canonical_email(r["email"]) for r in recs if r["email"]} - junk
        gmail = [e for e in raw if e.endswith(("@gmail.com", "@googlemail.com"))]
        if len({e.split("@")[0] for e in gmail}) > len({e.replace(".", "").split("@")[0]
                                                         for e in gmail}):
            dots += 1
        if len(canon) > 1:
            second += 1
    assert dots >= 10 and second >= 30


def test_webshop_emails_are_unique_per_account(zone):
    accounts = read_jsonl(zone["root"] / f"webshop/webshop_accounts_{DAY0}.jsonl")
    emails = [a["email"].lower() for a in accounts]
    assert len(emails) == len(set(emails))


def test_emails_are_shared_only_by_family_members(zone):
    households = collections.defaultdict(set)
    people = collections.defaultdict(set)
    for r in zone["records0"]:
        if r["email"] and r["email"] not in vocab.JUNK_EMAILS:
            households[canonical_email(r["email"])].add(r["household"] or r["person"])
            people[canonical_email(r["email"])].add(r["person"])
    # A typo can, very rarely, turn one address into another person's; nothing else may.
    assert sum(1 for hh in households.values() if len(hh) > 1) <= 2
    assert sum(1 for p in people.values() if len(p) > 1) >= 5  # shared family addresses


def test_married_name_changes_and_moves(zone):
    married = moved = 0
    for recs in by_person([r for r in zone["records0"] if not r["is_company"]]).values():
        if len(recs) < 2:
            continue
        firsts = {fold(r["first"]) for r in recs}
        lasts = {fold(r["last"]) for r in recs if r["last"]}
        dobs = {r["dob"] for r in recs if r["dob"] and r["dob"] != "1900-01-01"}
        if len(lasts) > 1 and len(firsts & lasts) == 0 and len(dobs) <= 1 and all(
                len(set(a) ^ set(b)) > 3 for a in lasts for b in lasts if a != b):
            married += 1
        postcodes = {r["postcode"].replace(" ", "").upper() for r in recs if r["postcode"]}
        if len(postcodes) > 1:
            moved += 1
    assert married >= 20, married
    assert moved >= 100, moved


def test_hard_negatives_households_twins_and_name_collisions(zone):
    people = by_person([r for r in zone["records0"] if not r["is_company"]])
    households = collections.defaultdict(set)
    for pid, recs in people.items():
        households[recs[0]["household"]].add(pid)
    shared_address = 0
    for members in households.values():
        if len(members) < 2:
            continue
        lines = [{fold(r["postcode"]).replace(" ", "") for r in people[p] if r["postcode"]}
                 for p in members]
        if all(lines) and set.intersection(*lines):
            shared_address += 1
    assert shared_address >= 100

    twins = collections.defaultdict(set)
    for pid, recs in people.items():
        if recs[0]["twin"]:
            twins[recs[0]["twin"]].add(pid)
    assert len(twins) >= 5 and all(len(m) == 2 for m in twins.values())
    for members in twins.values():
        a, b = (people[p] for p in members)
        dob_a = {r["dob"] for r in a if r["dob"]} - {"1900-01-01"}
        dob_b = {r["dob"] for r in b if r["dob"]} - {"1900-01-01"}
        if dob_a and dob_b:
            assert dob_a & dob_b  # same birthday
        assert a[0]["household"] == b[0]["household"]

    same_name_same_city = collections.defaultdict(set)
    for pid, recs in people.items():
        for r in recs:
            if r["first"] and r["last"] and r["city"]:
                same_name_same_city[(fold(r["first"]), fold(r["last"]), fold(r["city"]))].add(
                    recs[0]["household"])
    assert sum(1 for hh in same_name_same_city.values() if len(hh) > 1) >= 10


def test_population_keeps_identifiers_unique_at_scale():
    """Latent truth for 20,000 people: addresses and numbers belong to one person (or one
    household, or one family address), every company has a domain of its own."""
    pop = build_population(3, 20_000, RUN_DATE)
    canon = [canonical_email(e) for e in list(pop.email1) + [e for e in pop.email2 if e]]
    assert len(canon) == len(set(canon))
    domains = [e.split("@")[1] for e, c in zip(pop.email1, pop.is_company) if c]
    assert len(domains) == len(set(domains)) > 200
    has_mobile = pop.mobile > 0
    mobiles = list(zip(pop.country[has_mobile].tolist(), pop.mobile[has_mobile].tolist()))
    assert len(mobiles) == len(set(mobiles))
    has_line = pop.landline > 0
    landline_owner = collections.defaultdict(set)
    for country, number, hh, key in zip(pop.country[has_line].tolist(),
                                        pop.landline[has_line].tolist(),
                                        pop.household[has_line].tolist(),
                                        pop.key[has_line].tolist()):
        landline_owner[(country, number)].add(hh if hh >= 0 else -1 - key)
    assert all(len(v) == 1 for v in landline_owner.values())  # one household per landline
    assert not set(mobiles) & set(landline_owner)
    for i in range(0, len(pop), 37):  # a sample: parsing is slow
        country = vocab.COUNTRIES[pop.country[i]]
        for number in (pop.mobile[i], pop.landline[i]):
            if number:
                assert e164(phones_module.format_phone(country, int(number), 0), country) == (
                    phones_module.e164(country, int(number)))


# ------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------

def test_events_reference_known_ids_and_stay_in_the_window(zone):
    root = zone["root"]
    cards = {r["id"] for r in zone["records0"] if r["source"] == "loyalty"}
    accounts = {r["id"] for r in zone["records0"] if r["source"] == "webshop"}
    _, pos = read_csv(root / f"pos/pos_transactions_{DAY0}.csv")
    assert len({p["transaction_id"] for p in pos}) == len(pos)
    start = datetime(2025, 5, 23)
    assert all(p["card_no"] == "" or p["card_no"] in cards for p in pos)
    assert 0.1 < sum(p["card_no"] == "" for p in pos) / len(pos) < 0.7  # walk-ins
    assert {p["product_category"] for p in pos} == set(vocab.CATEGORIES)
    assert all(start <= datetime.fromisoformat(p["transaction_ts"]) < datetime(2026, 11, 22)
               for p in pos)
    events = read_jsonl(root / f"web_events/web_events_{DAY0}.jsonl")
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["account_id"] is None or e["account_id"] in accounts for e in events)
    assert any(e["account_id"] is None for e in events)
    assert {e["event_type"] for e in events} == {"page_view", "add_to_cart", "purchase"}
    assert all((e["value"] is not None) == (e["event_type"] == "purchase") for e in events)


def test_past_purchases_predict_future_purchases(zone):
    """A card's top category in the first 9 months recurs in the last 9 far more than another
    card's top category does: purchases follow a per-person affinity, not just the crowd."""
    _, pos = read_csv(zone["root"] / f"pos/pos_transactions_{DAY0}.csv")
    cut = "2026-02-20"
    early = collections.defaultdict(collections.Counter)
    late = collections.defaultdict(collections.Counter)
    for p in pos:
        if p["card_no"]:
            (early if p["transaction_ts"] < cut else late)[p["card_no"]][p["product_category"]] += 1
    cards = sorted(c for c, counts in early.items() if sum(counts.values()) >= 3 and late.get(c))
    tops = [early[c].most_common(1)[0][0] for c in cards]

    def share(pairs) -> float:
        pairs = list(pairs)
        return (sum(late[c][top] for c, top in pairs)
                / sum(sum(late[c].values()) for c, _ in pairs))

    own = share(zip(cards, tops))
    other = share(zip(cards, tops[1:] + tops[:1]))  # someone else's favourite
    assert len(cards) > 50
    assert own > 1.4 * other, (own, other)


# ------------------------------------------------------------------------------------------
# A later daily delivery
# ------------------------------------------------------------------------------------------

def test_day_one_adds_about_one_percent_new_records(zone):
    day0, day1 = zone["day0"], zone["day1"]
    assert Path(day1.files["crm"]).name == f"crm_contacts_{DAY1}.csv"
    ratio = day1.person_records / day0.person_records
    assert 0.008 <= ratio <= 0.012
    old_ids = {(r["source"], r["id"]) for r in zone["records0"]}
    new_ids = {(r["source"], r["id"]) for r in zone["records1"]}
    assert len(new_ids) == day1.person_records
    assert not old_ids & new_ids
    old_people = {r["person"] for r in zone["records0"]}
    new_people = {r["person"] for r in zone["records1"]}
    assert old_people & new_people and new_people - old_people
    assert len(new_people - old_people) == day1.new_people
    assert day1.people == len(new_people)


def test_day_one_records_of_known_people_are_consistent_with_day_zero(zone):
    old = by_person(zone["records0"])
    agree = 0
    for r in zone["records1"]:
        if r["person"] in old:
            dobs = {x["dob"] for x in old[r["person"]] if x["dob"]} - {"1900-01-01"}
            if r["dob"] and r["dob"] != "1900-01-01" and dobs:
                assert r["dob"] in dobs or r["source"] == "loyalty"  # day/month swaps
                agree += r["dob"] in dobs
    assert agree > 0


def test_day_one_events_fall_on_the_delivery_day(zone):
    root = zone["root"]
    _, pos = read_csv(root / f"pos/pos_transactions_{DAY1}.csv")
    events = read_jsonl(root / f"web_events/web_events_{DAY1}.jsonl")
    assert pos or events
    assert all(p["transaction_ts"].startswith("2026-11-22") for p in pos)
    assert all(e["event_ts"].startswith("2026-11-22") for e in events)
    day0_ids = {e["event_id"] for e in read_jsonl(root / f"web_events/web_events_{DAY0}.jsonl")}
    assert not day0_ids & {e["event_id"] for e in events}


def test_day_one_is_deterministic(zone, tmp_path):
    again = generate_landing(tmp_path, PEOPLE, seed=7, run_date=RUN_DATE + timedelta(days=1),
                             day_index=1, workers=1)
    for key, path in zone["day1"].files.items():
        assert Path(path).read_bytes() == Path(again.files[key]).read_bytes(), key
