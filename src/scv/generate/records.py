"""Rendering person records into each source system's native shape, with realistic mess.

A *record spec* says which person a record belongs to, in which system, when it was created and
last updated, which consent it carries and whether it shows the person's older state (maiden
name, previous address). :class:`RecordRenderer` turns specs into CSV / JSON lines exactly as
docs/data-contracts.md "Landing zone" declares them, plus one ground-truth row per record.

All randomness comes from the ``random.Random`` handed in, and records are rendered in spec
order, so the output is a pure function of (population slice, specs, random seed).

The kinds and rates of mess are collected in :data:`MESS_RATES` so that the entity-resolution
side can see what it is up against.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scv.generate import ids, phones, vocab
from scv.generate.population import CRM, LOY, WEB, Population

# Per source: probability of each kind of mess on one record.
MESS_RATES: dict[str, dict[str, float]] = {
    "crm": {
        "nickname_if_goes_by": 0.35, "keep_accents": 0.6, "typo_first": 0.02, "typo_last": 0.02,
        "swap_first_last": 0.02, "placeholder_name": 0.006, "initial_only": 0.015,
        "title_in_first_name": 0.01, "upper_case": 0.03, "lower_case": 0.02,
        "email_missing": 0.12, "email_junk": 0.01, "mobile_missing": 0.15,
        "landline_shown": 0.75, "phone_junk": 0.012, "dob_missing": 0.35, "dob_junk": 0.004,
        "postcode_missing": 0.04, "city_missing": 0.03, "country_missing": 0.10,
        "street_typo": 0.015, "leading_zero_lost": 0.4,
    },
    "webshop": {
        "nickname_if_goes_by": 0.55, "keep_accents": 0.75, "typo_first": 0.015,
        "typo_last": 0.015, "last_comma_first": 0.12, "swap_first_last": 0.015,
        "placeholder_name": 0.004, "middle_initial": 0.03, "title_in_name": 0.02,
        "upper_case": 0.03, "lower_case": 0.08, "email_missing": 0.0, "phone_missing": 0.2,
        "phone_junk": 0.01, "dob_missing": 0.45, "address_missing": 0.08,
        "postcode_missing": 0.03, "street_typo": 0.01,
    },
    "loyalty": {
        "nickname_if_goes_by": 0.55, "keep_accents": 0.4, "typo_first": 0.035,
        "typo_last": 0.035, "swap_first_last": 0.025, "placeholder_name": 0.025,
        "initial_only": 0.01, "upper_case": 0.2, "lower_case": 0.03, "email_missing": 0.3,
        "email_junk": 0.02, "phone_missing": 0.2, "phone_junk": 0.02, "dob_missing": 0.15,
        "dob_junk": 0.006, "dob_day_month_swapped": 0.01, "postcode_missing": 0.05,
        "city_missing": 0.03, "country_missing": 0.05, "street_typo": 0.02,
    },
    "email": {
        "use_second_email": 0.35, "use_family_email": 0.5, "gmail_dots_toggled": 0.2,
        "plus_tag": 0.04, "googlemail": 0.05, "mixed_case": 0.06, "domain_typo": 0.005,
        "local_typo": 0.006,
    },
}

CRM_HEADER = ("contactid", "firstname", "lastname", "companyname", "emailaddress1",
              "mobilephone", "telephone1", "birthdate", "address1_line1", "address1_city",
              "address1_postalcode", "address1_country", "donotemail", "modifiedon")
LOYALTY_HEADER = ("card_no", "title", "forename", "surname", "dob", "phone", "email", "street",
                  "town", "postcode", "country", "email_consent", "last_updated")
TRUTH_HEADER = ("source_system", "source_record_id", "person_id", "household_id", "twin_group",
                "is_company")

# Phone notations per source: weights over phones.format_phone styles 0..7.
_PHONE_STYLES = {
    CRM: (0.40, 0.20, 0.12, 0.08, 0.06, 0.06, 0.04, 0.04),
    WEB: (0.25, 0.25, 0.10, 0.30, 0.02, 0.03, 0.02, 0.03),
    LOY: (0.35, 0.35, 0.06, 0.04, 0.05, 0.05, 0.02, 0.08),
}

# One encoder for all lines: json.dumps with options builds a new encoder on every call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

_NEIGHBOURS = {
    "a": "qswz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}


@dataclass
class RecordSpecs:
    """Records to render: parallel arrays, one element per record."""

    person: np.ndarray      # row in the population slice
    source: np.ndarray      # CRM / WEB / LOY
    created: np.ndarray     # epoch seconds
    updated: np.ndarray     # epoch seconds
    consent: np.ndarray     # bool
    old_state: np.ndarray   # bool: shows maiden name / previous address
    serial: np.ndarray      # int64, unique per source across all deliveries
    web_ordinal: np.ndarray  # how many webshop accounts this person already had before this one

    def __len__(self) -> int:
        return len(self.person)


def _choice(seq, r):
    return seq[int(r() * len(seq))]


def _weighted(weights, r) -> int:
    x = r()
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if x < acc:
            return i
    return len(weights) - 1


def typo(text: str, r) -> str:
    """One keyboard slip: a neighbouring key, a dropped, doubled or swapped letter.

    The first letter is left alone (people rarely get that wrong), so blocking on initials
    still works for most typos, as in real data.
    """
    if len(text) < 3:
        return text
    i = 1 + int(r() * (len(text) - 1))
    i = min(i, len(text) - 1)
    op = r()
    ch = text[i]
    if op < 0.35 and ch.lower() in _NEIGHBOURS:
        sub = _choice(_NEIGHBOURS[ch.lower()], r)
        sub = sub.upper() if ch.isupper() else sub
        return text[:i] + sub + text[i + 1:]
    if op < 0.6:
        return text[:i] + text[i + 1:]
    if op < 0.8:
        return text[:i] + ch + text[i:]
    if i + 1 < len(text):
        return text[:i] + text[i + 1] + ch + text[i + 2:]
    return text[:i - 1] + ch + text[i - 1]


def _accents(text: str, keep: float, german: bool, r) -> str:
    if text.isascii() or r() < keep:
        return text
    return vocab.german_fold(text) if german and r() < 0.5 else vocab.ascii_fold(text)


def _iso(seconds: np.ndarray) -> list[str]:
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").tolist()


def _ymd(day_numbers: np.ndarray) -> list[str]:
    return np.datetime_as_string(day_numbers.astype("datetime64[D]"), unit="D").tolist()


def postcode(country: str, city: int, code: int) -> str:
    """The canonical postcode of an address code in ``city`` (deterministic)."""
    scheme = vocab.CITY_POSTCODE[city]
    if country == "GB":
        letters, lo, hi = scheme[code % len(scheme)]
        district = lo + (code // 7) % (hi - lo + 1)
        inward_letters = vocab.GB_INWARD_LETTERS
        inward = (f"{(code // 1000) % 10}{inward_letters[(code // 10_000) % 20]}"
                  f"{inward_letters[(code // 200_000) % 20]}")
        return f"{letters}{district} {inward}"
    if country == "IE":
        key = scheme[code % len(scheme)]
        chars = vocab.EIRCODE_CHARS
        first = "ACDEFHKNPRTVWXY"[(code // 31) % 15]
        rest = "".join(chars[(code // (500 * 25**k)) % 25] for k in range(3))
        return f"{key} {first}{rest}"
    lo, hi = scheme
    return f"{lo + code % (hi - lo + 1):05d}"


class RecordRenderer:
    """Renders :class:`RecordSpecs` of one population slice into source lines.

    Output of :meth:`render`: per source a list of ``sort_key + line`` strings (sort key: 25
    fixed-width characters of last-update time and id, so plain string order is time order),
    and per source the ground-truth lines with the same keys.
    """

    KEY_WIDTH = 25

    def __init__(self, pop: Population, r: random.Random, seed: int, day_index: int,
                 person_id_prefix: str, person_id_width: int):
        self.pop = pop
        self.r = r.random
        self.seed = seed
        self.day_index = day_index
        self.pid_prefix = person_id_prefix
        self.pid_width = person_id_width
        self.nicks = vocab.nickname_table()
        # Python lists: element access is several times faster than on numpy arrays.
        self.p = {f: getattr(pop, f).tolist() for f in (
            "key", "is_company", "country", "sex", "first", "last", "maiden", "nick",
            "household", "role", "twin_group", "junior", "city", "street", "stype", "house",
            "flat", "pc", "moved", "prev_city", "prev_street", "prev_stype", "prev_house",
            "prev_flat", "prev_pc", "email1", "email2", "family_email", "mobile", "landline",
            "company_name")}
        self.dob = _ymd(pop.dob)
        self.country = [vocab.COUNTRIES[c] for c in self.p["country"]]
        # Per person once: (city, street, type, house, flat, code, canonical postcode).
        self.address, self.prev_address = (
            [(c, s, t, h, f, k, postcode(country, c, k)) for c, s, t, h, f, k, country in zip(
                *(self.p[pre + name] for name in ("city", "street", "stype", "house", "flat",
                                                  "pc")), self.country)]
            for pre in ("", "prev_"))
        # Webshop addresses already used per person in this batch (a shop has one per account).
        self.web_seen: dict[int, set[str]] = {}
        self._buf = io.StringIO()
        self._crm_csv = csv.writer(self._buf, lineterminator="\n")
        self._loyalty_csv = csv.writer(self._buf, delimiter=";", lineterminator="\n")

    def _csv_line(self, writer, row) -> str:
        self._buf.seek(0)
        self._buf.truncate()
        writer.writerow(row)
        return self._buf.getvalue()

    # -- identities ---------------------------------------------------------------------------

    def person_id(self, row: int) -> str:
        return f"{self.pid_prefix}{self.p['key'][row]:0{self.pid_width}d}"

    def household_id(self, row: int) -> str:
        hh = self.p["household"][row]
        return "" if hh < 0 else f"H{self.pid_prefix[1:]}{hh:0{self.pid_width}d}"

    def twin_id(self, row: int) -> str:
        t = self.p["twin_group"][row]
        return "" if t < 0 else f"T{self.pid_prefix[1:]}{t:0{self.pid_width}d}"

    # -- field helpers ------------------------------------------------------------------------

    def _names(self, row: int, old: bool, src: int, rates: dict) -> tuple[str, str]:
        """(first, last) as this system holds them, before source-specific layout."""
        r, p = self.r, self.p
        fi = p["first"][row]
        first = vocab.FIRST_NAMES[fi]
        if p["nick"][row] >= 0 and r() < rates["nickname_if_goes_by"]:
            first = self.nicks[fi][p["nick"][row]]
        li = p["maiden"][row] if old and p["maiden"][row] >= 0 else p["last"][row]
        last = vocab.LAST_NAMES[li]
        german = vocab.COUNTRIES[p["country"][row]] == "DE"
        first = _accents(first, rates["keep_accents"], german, r)
        last = _accents(last, rates["keep_accents"], german, r)
        if r() < rates["typo_first"]:
            first = typo(first, r)
        if r() < rates["typo_last"]:
            last = typo(last, r)
        if p["junior"][row] and vocab.COUNTRIES[p["country"][row]] == "US" and r() < 0.4:
            last = f"{last} Jr"
        if r() < rates.get("initial_only", 0.0):
            first = first[0] + ("." if r() < 0.5 else "")
        return first, last

    def _email(self, row: int, src: int, ordinal: int, rates: dict) -> str:
        """The address this record carries, with per-record variation."""
        r, p, er = self.r, self.p, MESS_RATES["email"]
        if p["is_company"][row]:
            address = p["email1"][row]
            if src == WEB:  # the B2B account uses another mailbox at the same domain
                address = "orders@" + address.split("@", 1)[1]
        elif p["family_email"][row] and src != WEB and r() < er["use_family_email"]:
            address = p["family_email"][row]
        elif p["email2"][row] and (r() < er["use_second_email"] or (src == WEB and ordinal == 1)):
            address = p["email2"][row]
        else:
            address = p["email1"][row]
        local, _, domain = address.partition("@")
        gmail = domain in ("gmail.com", "googlemail.com")
        if gmail and r() < er["gmail_dots_toggled"]:
            local = self._toggle_dots(row, local)
        if r() < er["plus_tag"]:
            local = f"{local}+{_choice(vocab.EMAIL_TAGS, r)}"
        if gmail and domain == "gmail.com" and vocab.COUNTRIES[p["country"][row]] == "GB" and (
                r() < er["googlemail"]):
            domain = "googlemail.com"
        if r() < er["local_typo"]:
            local = typo(local, r)
        if r() < er["domain_typo"] and domain in vocab.DOMAIN_TYPOS:
            domain = vocab.DOMAIN_TYPOS[domain]
        address = f"{local}@{domain}"
        if r() < er["mixed_case"]:
            address = address.upper() if r() < 0.3 else (
                local[:1].upper() + local[1:] + "@" + domain.capitalize())
        if src == WEB:
            address = self._distinct_webshop_email(row, address, ordinal)
        return address

    def _toggle_dots(self, row: int, local: str) -> str:
        """Gmail ignores dots, so people write their address with and without them."""
        if "." in local:
            return local.replace(".", "")
        fn = vocab.email_token(vocab.FIRST_NAMES[self.p["first"][row]])
        if local.startswith(fn) and len(local) > len(fn):
            return f"{fn}.{local[len(fn):]}"
        return f"{local[:1]}.{local[1:]}"

    def _distinct_webshop_email(self, row: int, address: str, ordinal: int) -> str:
        """A further webshop account of the same person: the shop rejects a known address, so
        the person signed up with a variant that reaches the same inbox (dots, +tag)."""
        seen = self.web_seen.setdefault(row, set())
        if ordinal == 0:
            seen.add(address.lower())
            return address
        local, _, domain = address.partition("@")
        if domain.lower() in ("gmail.com", "googlemail.com") and address.lower() in seen:
            local = self._toggle_dots(row, local)
        if f"{local}@{domain}".lower() in seen or ordinal >= 2:
            local = f"{local.split('+', 1)[0]}+{_choice(vocab.EMAIL_TAGS, self.r)}{ordinal}"
        address = f"{local}@{domain}"
        seen.add(address.lower())
        return address

    def _phone(self, row: int, src: int, which: str) -> str:
        p = self.p
        number = p["mobile"][row] if which == "mobile" else p["landline"][row]
        if not number:
            return ""
        country = vocab.COUNTRIES[p["country"][row]]
        return phones.format_phone(country, number, _weighted(_PHONE_STYLES[src], self.r))

    def _address(self, row: int, old: bool, rates: dict, upper: bool) -> tuple[str, str, str, str]:
        """(line1, city, postcode, country code) with abbreviations, typos and variants."""
        r = self.r
        use_prev = old and self.p["moved"][row]
        city, street, stype, house, flat, code, pc = (
            self.prev_address if use_prev else self.address)[row]
        country = self.country[row]
        abbreviate = r() < 0.3
        if country in ("GB", "IE"):
            name = (vocab.STREETS_GB if country == "GB" else vocab.STREETS_IE)[street]
            kind = vocab.STREET_TYPES_GB[stype]
            if abbreviate:
                kind = vocab.STREET_ABBREV.get(kind, kind) + ("." if r() < 0.2 else "")
            line = f"{house} {name} {kind}"
            if flat:
                x = r()
                line = (f"Flat {flat}, {line}" if x < 0.6 else
                        f"{line}, Flat {flat}" if x < 0.8 else f"Apartment {flat}, {line}")
        elif country == "US":
            kind = vocab.STREET_TYPES_US[stype % len(vocab.STREET_TYPES_US)]
            if r() < 0.6:
                kind = vocab.STREET_ABBREV.get(kind, kind)
            line = f"{house} {vocab.STREETS_US[street]} {kind}"
            if flat:
                line += _choice((f" Apt {flat}", f" #{flat}", f" Unit {flat}", f", Apt. {flat}"), r)
        elif country == "DE":
            name = vocab.STREETS_DE[street]
            if name.endswith("straße") and r() < 0.4:
                name = name[:-6] + ("str." if r() < 0.6 else "strasse")
            line = f"{name} {house}"
        else:
            name = vocab.STREETS_FR[street]
            if abbreviate:
                for full, short in vocab.FR_ABBREV.items():
                    if name.startswith(full):
                        name = short + name[len(full):]
                        break
            line = f"{house}{',' if r() < 0.2 else ''} {name}"
        line = _accents(line, rates["keep_accents"], country == "DE", r)
        if r() < rates["street_typo"]:
            line = typo(line, r)
        city_name = vocab.CITY_NAME[city]
        if r() < 0.2:
            city_name = _choice(vocab.CITY_VARIANTS[city], r)
        city_name = _accents(city_name, rates["keep_accents"], country == "DE", r)
        if r() < rates.get("city_missing", 0.0):
            city_name = ""
        x = r()
        if country == "GB":
            pc = pc.replace(" ", "") if x < 0.15 else (pc.lower() if x < 0.23 else pc)
        elif country == "IE":
            pc = pc.replace(" ", "") if x < 0.25 else pc
        elif country == "US" and x < 0.1:
            pc = f"{pc}-{(code // 1000) % 10000:04d}"
        if pc.startswith("0") and country != "IE" and r() < rates.get("leading_zero_lost", 0.0):
            pc = pc.lstrip("0")
        if r() < rates["postcode_missing"]:
            pc = ""
        if upper:
            line, city_name, pc = line.upper(), city_name.upper(), pc.upper()
        return line, city_name, pc, country

    def _dob(self, row: int, rates: dict) -> str:
        """yyyy-mm-dd, or "" when missing; sometimes the 1900-01-01 placeholder."""
        r = self.r
        if self.p["is_company"][row] or r() < rates["dob_missing"]:
            return ""
        if r() < rates.get("dob_junk", 0.0):
            return "1900-01-01"
        return self.dob[row]

    # -- sources ------------------------------------------------------------------------------

    def render(self, specs: RecordSpecs) -> dict[str, tuple[list[str], list[str]]]:
        """Render all specs; returns {source: (keyed data lines, keyed truth lines)}."""
        out: dict[str, tuple[list[str], list[str]]] = {s: ([], []) for s in
                                                        ("crm", "webshop", "loyalty")}
        # Per person once: "person_id,household_id,twin_group,is_company\n".
        truth_tail = [f"{self.person_id(i)},{self.household_id(i)},{self.twin_id(i)},"
                      f"{1 if self.p['is_company'][i] else 0}\n" for i in range(len(self.pop))]
        x = ids.permute(specs.serial, self.seed, "record-ids")
        record_ids = record_id_strings(specs.source, x, self.seed)
        created = _iso(specs.created)
        updated = _iso(specs.updated)
        rows = zip(specs.person.tolist(), specs.source.tolist(), created, updated,
                   specs.updated.tolist(), specs.consent.tolist(), specs.old_state.tolist(),
                   x.tolist(), record_ids, specs.web_ordinal.tolist())
        for row, src, c_iso, u_iso, u_sec, consent, old, xid, rid, ordinal in rows:
            key = f"{u_sec:012d}{xid:013d}"
            if src == CRM:
                line = self._crm(row, rid, u_iso, consent, old)
                name = "crm"
            elif src == WEB:
                line = self._webshop(row, rid, c_iso, u_iso, consent, old, ordinal)
                name = "webshop"
            else:
                line = self._loyalty(row, rid, u_iso, consent, old)
                name = "loyalty"
            data, truth = out[name]
            data.append(key + line)
            truth.append(f"{key}{name},{rid},{truth_tail[row]}")
        return out

    def _crm(self, row, rid, u_iso, consent, old) -> str:
        r, p, rates = self.r, self.p, MESS_RATES["crm"]
        company = ""
        if p["is_company"][row]:
            company = self._company_name(row)
            if r() < 0.5:
                first = last = ""
            else:
                first, last = self._names(row, False, CRM, rates)
        else:
            first, last = self._names(row, old, CRM, rates)
            first, last = self._name_mess(first, last, rates)
        email = "" if r() < rates["email_missing"] else self._email(row, CRM, 0, rates)
        if email and r() < rates["email_junk"]:
            email = _choice(vocab.JUNK_EMAILS, r)
        mobile = "" if r() < rates["mobile_missing"] else self._phone(row, CRM, "mobile")
        landline = self._phone(row, CRM, "landline") if r() < rates["landline_shown"] else ""
        if r() < rates["phone_junk"]:
            mobile = _choice(vocab.JUNK_PHONES, r)
        line1, city, pc, country = self._address(row, old, rates, upper=False)
        country_name = "" if r() < rates["country_missing"] else _choice(
            vocab.COUNTRY_SPELLINGS_CRM[country], r)
        return self._csv_line(self._crm_csv, (
            rid, first, last, company, email, mobile, landline, self._dob(row, rates), line1,
            city, pc, country_name, "0" if consent else "1", u_iso + "Z"))

    def _name_mess(self, first: str, last: str, rates: dict) -> tuple[str, str]:
        """Field-level mess shared by the two-field systems (CRM, loyalty)."""
        r = self.r
        if r() < rates["placeholder_name"]:
            return _choice(vocab.PLACEHOLDER_NAMES, r)
        if r() < rates["swap_first_last"]:
            first, last = last, first
        if r() < rates.get("title_in_first_name", 0.0):
            first = f"{_choice(('Dr', 'Dr.', 'Mr', 'Mrs', 'Ms'), r)} {first}"
        x = r()
        if x < rates["upper_case"]:
            first, last = first.upper(), last.upper()
        elif x < rates["upper_case"] + rates["lower_case"]:
            first, last = first.lower(), last.lower()
        return first, last

    def _company_name(self, row: int) -> str:
        r = self.r
        name = self.p["company_name"][row]
        x = r()
        if x < 0.15:
            name = name.upper()
        elif x < 0.3:
            name = name.replace(" Ltd", " Limited").replace(" Inc", " Incorporated")
        elif x < 0.4:
            name = name.replace(" & ", " and ")
        elif x < 0.5:
            name = name.rsplit(" ", 1)[0]  # legal suffix left off
        return name

    def _webshop(self, row, rid, c_iso, u_iso, consent, old, ordinal) -> str:
        r, p, rates = self.r, self.p, MESS_RATES["webshop"]
        if p["is_company"][row]:
            full_name = self._company_name(row)
        elif r() < rates["placeholder_name"]:
            full_name = _choice(vocab.PLACEHOLDER_FULL_NAMES, r)
        else:
            first, last = self._names(row, old, WEB, rates)
            x = r()
            if x < rates["last_comma_first"]:
                full_name = f"{last}, {first}"
            elif x < rates["last_comma_first"] + rates["swap_first_last"]:
                full_name = f"{last} {first}"
            elif x < rates["last_comma_first"] + rates["swap_first_last"] + rates["middle_initial"]:
                full_name = f"{first} {_choice('ABCDEFGHJKLMNPRSTW', r)}. {last}"
            else:
                full_name = f"{first} {last}"
            if r() < rates["title_in_name"]:
                title = "Mr" if p["sex"][row] == 1 else _choice(("Mrs", "Ms", "Miss"), r)
                full_name = f"{title} {full_name}"
            x = r()
            if x < rates["upper_case"]:
                full_name = full_name.upper()
            elif x < rates["upper_case"] + rates["lower_case"]:
                full_name = full_name.lower()
        email = self._email(row, WEB, ordinal, rates)
        x = r()
        if x < rates["phone_missing"]:
            phone = ""
        elif x < rates["phone_missing"] + rates["phone_junk"]:
            phone = _choice(vocab.JUNK_PHONES, r)
        else:
            phone = self._phone(row, WEB, "mobile" if (p["mobile"][row] and r() < 0.85)
                                else "landline")
        if r() < rates["address_missing"]:
            address = {"line1": None, "city": None, "postcode": None, "country_code": None}
        else:
            line1, city, pc, country = self._address(row, old, rates, upper=False)
            code = "UK" if country == "GB" and r() < 0.05 else country
            address = {"line1": line1, "city": city or None, "postcode": pc or None,
                       "country_code": code}
        record = {"account_id": rid, "full_name": full_name, "email": email,
                  "phone": phone or None}
        dob = self._dob(row, rates)
        if dob:  # the shop only sends the key when the customer gave a date of birth
            record["date_of_birth"] = dob
        record["address"] = address
        record["marketing_opt_in"] = bool(consent)
        record["created_at"] = c_iso + ".000Z"
        record["updated_at"] = u_iso + ".000Z"
        return _JSON.encode(record) + "\n"

    def _loyalty(self, row, rid, u_iso, consent, old) -> str:
        r, p, rates = self.r, self.p, MESS_RATES["loyalty"]
        first, last = self._names(row, old, LOY, rates)
        sex = p["sex"][row]
        if sex == 1:
            title = _choice(vocab.TITLES_MALE, r)
        elif p["role"][row] == 1 or (p["maiden"][row] >= 0 and not old):
            title = _choice(vocab.TITLES_FEMALE_MARRIED, r)
        else:
            title = _choice(vocab.TITLES_FEMALE, r)
        if r() < 0.12:
            title = ""
        first, last = self._name_mess(first, last, rates)
        upper = r() < 0.1  # some store terminals only had capitals
        if upper:
            first, last = first.upper(), last.upper()
        x = r()
        if x < rates["phone_missing"]:
            phone = ""
        elif x < rates["phone_missing"] + rates["phone_junk"]:
            phone = _choice(vocab.JUNK_PHONES, r)
        else:
            phone = self._phone(row, LOY, "mobile" if (p["mobile"][row] and r() < 0.75)
                                else "landline")
        email = "" if r() < rates["email_missing"] else self._email(row, LOY, 0, rates)
        if email and r() < rates["email_junk"]:
            email = _choice(vocab.JUNK_EMAILS, r)
        dob = self._dob(row, rates)
        if dob:
            y, m, d = dob.split("-")
            if int(d) <= 12 and r() < rates["dob_day_month_swapped"]:
                m, d = d, m
            dob = f"{d}/{m}/{y}"
        line1, city, pc, country = self._address(row, old, rates, upper=upper)
        country_name = "" if r() < rates["country_missing"] else _choice(
            vocab.COUNTRY_SPELLINGS_LOYALTY[country], r)
        stamp = f"{u_iso[8:10]}/{u_iso[5:7]}/{u_iso[0:4]} {u_iso[11:16]}"
        return self._csv_line(self._loyalty_csv, (
            rid, title, first, last, dob, phone, email, line1, city, pc, country_name,
            "Y" if consent else "N", stamp))


def record_id_strings(source: np.ndarray, x: np.ndarray, seed: int) -> list[str]:
    """Landing-file ids for permuted serials ``x``: GUIDs (CRM), account numbers (webshop),
    card numbers (loyalty)."""
    out: list[str] = [""] * len(x)
    for src in (CRM, WEB, LOY):
        rows = np.flatnonzero(source == src)
        if len(rows) == 0:
            continue
        xs = x[rows]
        if src == CRM:
            values = [ids.crm_contact_id(v, seed) for v in xs.tolist()]
        elif src == WEB:
            values = [ids.webshop_account_id(v) for v in xs.tolist()]
        else:
            values = ids.loyalty_card_nos(xs)
        for i, v in zip(rows.tolist(), values):
            out[i] = v
    return out


def specs_from_slots(pop: Population, serial_of: Callable) -> RecordSpecs:
    """Record specs for every used slot of ``pop`` (day 0), oldest slot first per person.

    ``serial_of(keys, slot)`` maps person keys and slot numbers to record serials.
    """
    n = len(pop)
    slot = np.tile(np.arange(4), n)
    person = np.repeat(np.arange(n), 4)
    used = pop.slot_source.reshape(-1) >= 0
    person, slot = person[used], slot[used]
    source = pop.slot_source.reshape(-1)[used]
    # The webshop ordinal: how many earlier webshop slots the same person has.
    is_web = (pop.slot_source == WEB).astype(np.int8)
    ordinal = (np.cumsum(is_web, axis=1) - is_web).reshape(-1)[used]
    return RecordSpecs(
        person=person,
        source=source,
        created=pop.slot_created.reshape(-1)[used],
        updated=pop.slot_updated.reshape(-1)[used],
        consent=pop.slot_consent.reshape(-1)[used],
        old_state=slot < np.repeat(pop.change_cut, 4)[used],
        serial=serial_of(pop.key[person], slot),
        web_ordinal=ordinal,
    )
