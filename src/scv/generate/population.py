"""The latent population: who the people are, before any source system writes them down.

:func:`build_population` draws, with numpy over the whole population at once, everything that
is true about a person: name, sex, date of birth, household, address history, e-mail addresses,
phones, consent, purchase traits, and which source records (slots) they have. It is a pure
function of ``(seed, people, anchor)``, so every later delivery can rebuild day 0's people
exactly and stay consistent with them.

Guarantees:
* e-mail addresses are unique across people (compared the way Gmail compares them: dots and
  case ignored), except for the deliberate shared family addresses;
* mobile numbers and household landlines are unique across people and households, and every one
  is valid for its country;
* household members share address and landline; twins share surname, date of birth, address;
* every person has 1 to 4 record slots (companies 1 to 3), timed before the anchor date and
  after their 18th birthday, ordered oldest first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np

from scv.generate import phones, vocab
from scv.generate.ids import stream

SOURCES: tuple[str, ...] = ("crm", "webshop", "loyalty")
CRM, WEB, LOY = 0, 1, 2
NO_SLOT = -1

ROLE_HEAD, ROLE_PARTNER, ROLE_CHILD, ROLE_FLATMATE, ROLE_COMPANY = 0, 1, 2, 3, 4

DAY = 86_400
EPOCH = date(1970, 1, 1)

# Records per person: P(1..4). Mean 2.5.
RECORDS_PER_PERSON_P = (0.20, 0.30, 0.30, 0.20)
COMPANY_SHARE = 0.02
SPREAD_ACROSS_SYSTEMS = 0.9  # chance a person's next record is in a system they lack
# People per household, by household (not by person).
HOUSEHOLD_SIZE_P = (0.55, 0.30, 0.09, 0.05, 0.01)
LANDLINE_SHARE = {"GB": 0.45, "US": 0.35, "DE": 0.6, "FR": 0.5, "IE": 0.4}
OPT_IN_SHARE = {"GB": 0.55, "US": 0.6, "DE": 0.4, "FR": 0.45, "IE": 0.55}
MOVED_SHARE = 0.12
MAIDEN_SHARE = 0.35      # of married women: older records still carry the maiden name
SECOND_EMAIL_SHARE = 0.12
FAMILY_EMAIL_SHARE = 0.10  # of multi-person households
NAME_COLLISION_SHARE = 0.025  # of people living alone: given someone else's name and city
HISTORY_YEARS = 6


def days(d: date) -> int:
    return (d - EPOCH).days


@dataclass
class Population:
    """One row per person; every field is an array of the same length (``slot_*`` are n x 4).

    ``key`` is the person's stable number: its row in day 0's population, or its number among a
    later delivery's new people. Strings are kept as object arrays only where building them in
    Python once is cheaper than rebuilding them in every renderer (e-mails, company names).
    """

    key: np.ndarray
    is_company: np.ndarray
    country: np.ndarray
    sex: np.ndarray
    first: np.ndarray
    last: np.ndarray
    maiden: np.ndarray
    nick: np.ndarray
    dob: np.ndarray
    household: np.ndarray
    hh_size: np.ndarray
    role: np.ndarray
    twin_group: np.ndarray
    junior: np.ndarray
    city: np.ndarray
    street: np.ndarray
    stype: np.ndarray
    house: np.ndarray
    flat: np.ndarray
    pc: np.ndarray
    moved: np.ndarray
    prev_city: np.ndarray
    prev_street: np.ndarray
    prev_stype: np.ndarray
    prev_house: np.ndarray
    prev_flat: np.ndarray
    prev_pc: np.ndarray
    email1: np.ndarray
    email2: np.ndarray
    family_email: np.ndarray
    mobile: np.ndarray
    landline: np.ndarray
    consent: np.ndarray
    company_name: np.ndarray
    home_store: np.ndarray
    store_rate: np.ndarray
    web_rate: np.ndarray
    cart_p: np.ndarray
    affinity: np.ndarray
    n_rec: np.ndarray
    change_cut: np.ndarray
    slot_source: np.ndarray
    slot_created: np.ndarray
    slot_updated: np.ndarray
    slot_consent: np.ndarray

    def __len__(self) -> int:
        return len(self.key)

    def take(self, rows: np.ndarray | slice) -> "Population":
        """The population restricted to ``rows``: views for a slice, copies for an index array."""
        return Population(**{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)})


# ------------------------------------------------------------------------------------------
# E-mail local parts: one function used both for deduplication here and for rendering later.
# ------------------------------------------------------------------------------------------

def email_local(pattern: int, first: str, last: str, number: int, handle: int) -> str:
    """The local part a person chose at sign-up (before any per-record variation)."""
    f = vocab.email_token(first)
    l_ = vocab.email_token(last)
    num = str(number) if number > 0 else ""
    name = vocab.EMAIL_PATTERNS[pattern]
    if name == "first.last" or name == "first.lastNN":
        return f"{f}.{l_}{num}"
    if name == "firstlast":
        return f"{f}{l_}{num}"
    if name == "f.last":
        return f"{f[:1]}.{l_}{num}"
    if name == "flast":
        return f"{f[:1]}{l_}{num}"
    if name == "first_last":
        return f"{f}_{l_}{num}"
    if name == "lastf":
        return f"{l_}{f[:1]}{num}"
    if name == "firstNN":
        return f"{f}{num}"
    if name == "last.first":
        return f"{l_}.{f}{num}"
    return f"{vocab.HANDLE_WORDS[handle]}{num}"


def canonical_email(address: str) -> str:
    """How the mail provider sees an address: lower case; for Gmail, dots and +tags ignored."""
    local, _, domain = address.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        return local.replace(".", "") + "@gmail.com"
    return f"{local}@{domain}"


def _draw_numbers(rng: np.random.Generator, n: int, needs: np.ndarray, dob_year: np.ndarray,
                  optional_share: float, high: int) -> np.ndarray:
    """Numbers in e-mail local parts: birth years ("84") or small numbers, sometimes none."""
    birth = dob_year % 100
    small = rng.integers(1, high, size=n)
    use_year = rng.random(n) < 0.4
    num = np.where(use_year, np.where(birth == 0, 100, birth), small)
    has = needs | (rng.random(n) < optional_share)
    return np.where(has, num, 0).astype(np.int32)


_FIRST_TOKENS = [vocab.email_token(n) for n in vocab.FIRST_NAMES]
_LAST_TOKENS = [vocab.email_token(n) for n in vocab.LAST_NAMES]
# Per pattern, the local part from (first token, last token, number text, handle): the same
# strings as :func:`email_local`, built pattern by pattern because that is ~5x faster.
_LOCAL_BUILDERS = (
    lambda f, l_, n, h: f"{f}.{l_}{n}",
    lambda f, l_, n, h: f"{f}{l_}{n}",
    lambda f, l_, n, h: f"{f[:1]}.{l_}{n}",
    lambda f, l_, n, h: f"{f[:1]}{l_}{n}",
    lambda f, l_, n, h: f"{f}_{l_}{n}",
    lambda f, l_, n, h: f"{l_}{f[:1]}{n}",
    lambda f, l_, n, h: f"{f}.{l_}{n}",
    lambda f, l_, n, h: f"{f}{n}",
    lambda f, l_, n, h: f"{l_}.{f}{n}",
    lambda f, l_, n, h: f"{vocab.HANDLE_WORDS[h]}{n}",
)


def _email_strings(pattern, first, last, number, handle, domain) -> tuple[list[str], list[str]]:
    """(addresses, their canonical forms) for arrays of e-mail parts."""
    out: list[str] = [""] * len(pattern)
    canon: list[str] = [""] * len(pattern)
    gmail = np.isin(domain, sorted(vocab.GMAIL_IDS))
    for p in np.unique(pattern).tolist():
        build = _LOCAL_BUILDERS[p]
        rows = np.flatnonzero(pattern == p)
        for r, f, l_, nu, h, d, g in zip(
                rows.tolist(), first[rows].tolist(), last[rows].tolist(),
                number[rows].tolist(), handle[rows].tolist(), domain[rows].tolist(),
                gmail[rows].tolist()):
            local = build(_FIRST_TOKENS[f], _LAST_TOKENS[l_], str(nu) if nu > 0 else "", h)
            out[r] = f"{local}@{vocab.DOMAINS[d]}"
            canon[r] = local.replace(".", "") + "@gmail.com" if g else out[r]
    return out, canon


def _base_canonical(address: str) -> str:
    """:func:`canonical_email` for addresses built here (already lower case, no +tag)."""
    if address.endswith("@gmail.com") or address.endswith("@googlemail.com"):
        return address.partition("@")[0].replace(".", "") + "@gmail.com"
    return address


def _dedupe_emails(emails: list[str | None], canon: list[str | None], redraw: Callable,
                   reserved: set[str]) -> list[str | None]:
    """Make canonical e-mails unique, keeping the first holder and redrawing the others.

    ``canon`` holds each address's canonical form. ``redraw(rows, attempt)`` returns new
    (addresses, canonical forms) for ``rows``; attempts use ever larger number ranges, so the
    loop ends. ``reserved`` holds canonical addresses already taken (day 0's, for a later
    delivery). Compares the strings themselves, so the outcome cannot depend on a hash function.
    """
    taken = set(reserved)
    pending: list[int] = []
    for i, c in enumerate(canon):
        if not c:
            continue
        if c in taken:
            pending.append(i)
        else:
            taken.add(c)
    for attempt in range(12):
        if not pending:
            return emails
        rows = np.array(pending, dtype=np.int64)
        pending = []
        new, new_canon = redraw(rows, attempt)
        for r, e, c in zip(rows.tolist(), new, new_canon):
            if c in taken:
                pending.append(r)
            else:
                taken.add(c)
                emails[r] = e
    raise RuntimeError("could not make e-mail addresses unique")


def _dedupe_phones(numbers: np.ndarray, country_code: np.ndarray, redraw: Callable,
                   reserved: np.ndarray | None = None) -> np.ndarray:
    """Make non-zero numbers unique per country (``redraw(rows)`` draws new ones)."""
    for _ in range(20):
        keys = country_code.astype(np.int64) * 10**12 + numbers
        keys = np.where(numbers > 0, keys, -np.arange(1, len(keys) + 1))
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        dup_sorted = np.zeros(len(keys), dtype=bool)
        dup_sorted[1:] = sk[1:] == sk[:-1]
        dup = np.zeros(len(keys), dtype=bool)
        dup[order] = dup_sorted
        if reserved is not None and len(reserved):
            dup |= np.isin(keys, reserved)
        rows = np.flatnonzero(dup & (numbers > 0))
        if len(rows) == 0:
            return numbers
        numbers[rows] = redraw(rows)
    raise RuntimeError("could not make phone numbers unique")


def phone_keys(pop: Population) -> np.ndarray:
    """Every number ``pop`` holds, as calling code x 10**12 + NSN (to keep new people off them)."""
    cc = np.array([int(vocab.CALLING_CODES[c]) for c in vocab.COUNTRIES], dtype=np.int64)
    keys = [cc[pop.country] * 10**12 + pop.mobile, cc[pop.country] * 10**12 + pop.landline]
    mask = [pop.mobile > 0, pop.landline > 0]
    return np.unique(np.concatenate([k[m] for k, m in zip(keys, mask)]))


def email_keys(pop: Population) -> set[str]:
    """Canonical forms of every address ``pop`` holds (to keep new people off them)."""
    out: set[str] = set()
    for col in (pop.email1, pop.email2):
        out.update(_base_canonical(e) for e in col.tolist() if e)
    return out


# ------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------

def _grouped_choice(rng: np.random.Generator, groups: np.ndarray, dist: Callable) -> np.ndarray:
    """For each row, draw from ``dist(group)`` = (values, probabilities); grouped for speed."""
    out = np.zeros(len(groups), dtype=np.int32)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        values, p = dist(g)
        out[rows] = rng.choice(values, size=len(rows), p=p)
    return out


def _first_names(rng, country, sex) -> np.ndarray:
    key = country.astype(np.int32) * 2 + sex
    return _grouped_choice(rng, key, lambda k: vocab.first_name_distribution(
        vocab.COUNTRIES[int(k) // 2], int(k) % 2))


def _last_names(rng, country) -> np.ndarray:
    return _grouped_choice(rng, country, lambda c: vocab.last_name_distribution(
        vocab.COUNTRIES[int(c)]))


def _ages(rng, n) -> np.ndarray:
    """Adult ages 18..95: flat to 60, then thinning out."""
    ages = np.arange(18, 96)
    w = np.where(ages <= 60, 1.0, 1.0 - (ages - 60) / 41.0)
    return rng.choice(ages, size=n, p=w / w.sum())


def _addresses(rng, country) -> dict[str, np.ndarray]:
    n = len(country)
    city = _grouped_choice(rng, country, lambda c: vocab.city_distribution(
        vocab.COUNTRIES[int(c)]))
    street = np.zeros(n, dtype=np.int16)
    for ci, pool in enumerate((vocab.STREETS_GB, vocab.STREETS_US, vocab.STREETS_DE,
                               vocab.STREETS_FR, vocab.STREETS_IE)):
        rows = country == ci
        street[rows] = rng.integers(0, len(pool), size=int(rows.sum()))
    stype = rng.choice(len(vocab.STREET_TYPES_GB), size=n,
                       p=np.array(vocab.STREET_TYPES_GB_WEIGHTS)
                       / sum(vocab.STREET_TYPES_GB_WEIGHTS))
    us = country == vocab.COUNTRIES.index("US")
    stype[us] = rng.integers(0, len(vocab.STREET_TYPES_US), size=int(us.sum()))
    house = np.minimum(1 + rng.lognormal(3.0, 1.0, size=n).astype(np.int32), 2500)
    house[us] = np.minimum(100 + rng.lognormal(5.5, 1.0, size=int(us.sum())).astype(np.int32),
                           9999)
    london = city == vocab.CITY_NAME.index("London")
    flat_share = np.where(london, 0.3, 0.08)
    flat = np.where(rng.random(n) < flat_share, rng.integers(1, 40, size=n), 0)
    pc = rng.integers(0, 2**40, size=n, dtype=np.int64)
    return {"city": city.astype(np.int16), "street": street, "stype": stype.astype(np.int8),
            "house": house.astype(np.int16), "flat": flat.astype(np.int16), "pc": pc}


def _traits(rng, n, age, sex, hh_size, country) -> dict[str, np.ndarray]:
    """Purchase behaviour, driven by latent taste plus things the data shows (age, sex,
    household size, country), so past purchases and profile both predict future ones."""
    a = (age - 45.0) / 10.0
    male = (sex == 1).astype(np.float64)
    hh = hh_size.astype(np.float64)
    gb = (country == 0).astype(np.float64)
    fr = (country == 3).astype(np.float64)
    logits = np.stack([
        -0.2 - 0.25 * a + 0.35 * male,                       # electronics
        0.1 + 0.25 * (hh >= 2) + 0.08 * a,                   # home
        -0.6 + 0.35 * a + 0.3 * gb,                          # garden
        -1.2 + 1.1 * (hh >= 3) + 0.35 * (age > 60),          # toys
        -0.5 + 1.0 * (1 - male) - 0.1 * a,                   # beauty
        0.3 + 0.25 * (hh - 1) + 0.2 * fr,                    # grocery
        0.0 + 0.35 * (1 - male) - 0.2 * a,                   # clothing
        -0.5 - 0.2 * a + 0.3 * male,                         # sports
    ], axis=1) + rng.normal(0.0, 0.9, size=(n, 8))
    aff = np.exp(logits - logits.max(axis=1, keepdims=True))
    aff /= aff.sum(axis=1, keepdims=True)
    # Overall spend: log-normal, highest in mid-life and bigger households.
    activity = rng.lognormal(-0.15, 0.7, size=n) * (1.0 + 0.12 * (hh - 1)) * np.exp(
        -((age - 45.0) / 35.0) ** 2)
    web_share = 1.0 / (1.0 + np.exp(-(-0.4 - 0.45 * a + 0.3 * (country == 1)
                                      - 0.2 * (country == 2) + rng.normal(0, 0.7, size=n))))
    purchases_per_day = 4.0 / 365.0 * activity
    cart_p = np.clip(rng.beta(6, 3, size=n), 0.05, 0.95)
    return {
        "affinity": aff.astype(np.float32),
        "store_rate": (purchases_per_day * (1.0 - web_share)).astype(np.float32),
        # sessions: each converts with P(cart) * P(buy | cart) = cart_p * 0.75
        "web_rate": (purchases_per_day * web_share / (cart_p * 0.75)).astype(np.float32),
        "cart_p": cart_p.astype(np.float32),
    }


def _slots(rng, n, is_company, web_share_hint, dob, t_end: int) -> dict[str, np.ndarray]:
    """Record slots: how many records, in which systems, created and updated when."""
    n_rec = rng.choice(np.arange(1, 5), size=n, p=RECORDS_PER_PERSON_P).astype(np.int8)
    # The channel a person prefers decides where their records are: web-leaning people have
    # more webshop accounts, store-leaning people more loyalty cards.
    p = np.stack([np.full(n, 0.35), 0.35 * (0.4 + web_share_hint),
                  0.30 * (0.4 + (1.0 - web_share_hint))], axis=1)
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random((n, 4))
    cum = np.cumsum(p, axis=1)
    source = (u[:, :, None] > cum[:, None, :]).sum(axis=2).astype(np.int8)
    # Most people's next record is in a system they are not in yet (weighted order of the
    # three systems, Gumbel top-k); the rest land anywhere, which makes within-system duplicates
    # for about a quarter of people rather than half.
    key = np.log(p) - np.log(-np.log(rng.random((n, 3))))
    rank = (key[:, None, :] > key[:, :, None]).sum(axis=2)  # 0 = most preferred system
    preferred = np.argsort(rank, axis=1, kind="stable")[:, :3].astype(np.int8)
    take_next = rng.random((n, 3)) < SPREAD_ACROSS_SYSTEMS
    source[:, :3] = np.where(take_next, preferred, source[:, :3])
    # Companies: CRM accounts, sometimes duplicated, sometimes also a B2B webshop account.
    comp = np.flatnonzero(is_company)
    n_rec[comp] = 1 + (rng.random(len(comp)) < 0.3)
    source[comp] = CRM
    b2b = comp[rng.random(len(comp)) < 0.15]
    source[b2b, n_rec[b2b]] = WEB
    n_rec[b2b] += 1

    t_start = t_end - HISTORY_YEARS * 365 * DAY
    adult = (dob.astype(np.int64) + 18 * 365 + 5) * DAY
    lo = np.maximum(t_start, adult)[:, None]
    created = lo + (rng.random((n, 4)) * (t_end - DAY - lo)).astype(np.int64)
    edit = np.where(rng.random((n, 4)) < 0.6,
                    rng.exponential(120 * DAY, size=(n, 4)).astype(np.int64), 0)
    # An edit that would land after the cut-off falls somewhere before it instead (clamping
    # would pile records up on the last second).
    room = np.maximum(t_end - 1 - created, 0)
    edit = np.where(edit > room, (rng.random((n, 4)) * room).astype(np.int64), edit)
    updated = created + edit
    # Order slots oldest first (by last update), so "older state" is a prefix of the slots.
    # Ranks by pairwise comparison: much faster than a per-row argsort of four values.
    used = np.arange(4)[None, :] < n_rec[:, None]
    key = np.where(used, updated, np.iinfo(np.int64).max)
    idx = np.arange(4)
    before = (key[:, None, :] < key[:, :, None]) | (
        (key[:, None, :] == key[:, :, None]) & (idx[None, None, :] < idx[None, :, None]))
    rank = before.sum(axis=2)  # rank[i, j]: position of slot j once sorted
    order = np.empty_like(rank)
    np.put_along_axis(order, rank, np.broadcast_to(idx, rank.shape), axis=1)
    source = np.take_along_axis(source, order, axis=1)
    created = np.take_along_axis(created, order, axis=1)
    updated = np.take_along_axis(updated, order, axis=1)
    source = np.where(used, source, NO_SLOT).astype(np.int8)
    return {"n_rec": n_rec, "slot_source": source, "slot_created": created,
            "slot_updated": updated}


# ------------------------------------------------------------------------------------------
# The population
# ------------------------------------------------------------------------------------------

def build_population(seed: int, people: int, anchor: date, *, day_index: int = 0,
                     singles_only: bool = False,
                     reserved_emails: set[str] | None = None,
                     reserved_phones: np.ndarray | None = None,
                     slot_window: tuple[int, int] | None = None) -> Population:
    """Draw ``people`` persons. Pure function of its arguments.

    Day 0 calls it with defaults. A later delivery's brand-new people use ``day_index`` (its own
    random streams), ``singles_only`` (new sign-ups arrive one by one), the day-0 e-mail and
    phone keys as ``reserved_*`` (so they never take an existing person's address or number)
    and ``slot_window`` (their records are created within the delivery day).
    """
    if people <= 0:
        raise ValueError("people must be positive")
    rng = stream(seed, day_index, "population")
    n = people
    t_end = days(anchor) * DAY

    # Companies are their own persons; everyone else lives in a household.
    is_company = rng.random(n) < (0.0 if singles_only else COMPANY_SHARE)
    country = rng.choice(len(vocab.COUNTRIES), size=n, p=vocab.COUNTRY_WEIGHTS).astype(np.int8)

    # Households: consecutive non-company people, sizes drawn per household.
    person_rows = np.flatnonzero(~is_company)
    m = len(person_rows)
    if singles_only:
        sizes = np.ones(m, dtype=np.int64)
    else:
        sizes = rng.choice(np.arange(1, 6), size=m + 10, p=HOUSEHOLD_SIZE_P)
        ends = np.cumsum(sizes)
        h = int(np.searchsorted(ends, m)) + 1
        sizes = sizes[:h]
        sizes[-1] -= ends[h - 1] - m
        sizes = sizes[sizes > 0]
    hh_of = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = np.arange(m) - starts[hh_of]
    head_row = person_rows[starts[hh_of]]

    household = np.full(n, -1, dtype=np.int64)
    household[person_rows] = hh_of
    hh_size = np.ones(n, dtype=np.int8)
    hh_size[person_rows] = sizes[hh_of]
    # Members live in the head's country.
    country[person_rows] = country[head_row]

    role = np.full(n, ROLE_COMPANY, dtype=np.int8)
    u = rng.random(m)
    role_p = np.where(pos == 0, ROLE_HEAD,
                      np.where(pos == 1, np.where(u < 0.75, ROLE_PARTNER,
                                                  np.where(u < 0.9, ROLE_FLATMATE, ROLE_CHILD)),
                               np.where(u < 0.85, ROLE_CHILD, ROLE_FLATMATE)))
    role[person_rows] = role_p

    # Sex and age. Partners: mostly the opposite sex, similar age. Adult children: 20-40 years
    # younger than the head (or they become flatmates when that would make them under 18).
    sex = rng.integers(0, 2, size=n).astype(np.int8)
    age = _ages(rng, n).astype(np.float64)
    partner = person_rows[role_p == ROLE_PARTNER]
    ph = head_row[role_p == ROLE_PARTNER]
    sex[partner] = np.where(rng.random(len(partner)) < 0.94, 1 - sex[ph], sex[ph])
    age[partner] = np.clip(age[ph] + rng.normal(0, 4, size=len(partner)), 18, 95)
    child = person_rows[role_p == ROLE_CHILD]
    ch = head_row[role_p == ROLE_CHILD]
    age[child] = age[ch] - rng.uniform(20, 40, size=len(child))
    too_young = child[age[child] < 18]
    role[too_young] = ROLE_FLATMATE
    age[too_young] = rng.uniform(18, 35, size=len(too_young))
    flat_mates = np.flatnonzero((role == ROLE_FLATMATE) & (age > 45))
    age[flat_mates] = rng.uniform(18, 45, size=len(flat_mates))
    age = np.clip(age, 18, 95)
    dob = (t_end // DAY - (age * 365.25).astype(np.int64)
           - rng.integers(0, 365, size=n)).astype(np.int32)

    # Names.
    first = _first_names(rng, country, sex)
    last = _last_names(rng, country)
    maiden = np.full(n, -1, dtype=np.int32)
    # Partners usually share the head's surname; a wife who took it may show her maiden name in
    # older records (the married-name change).
    shares = rng.random(len(partner)) < 0.8
    took = partner[shares]
    own = last[took].copy()
    last[took] = last[ph[shares]]
    married_women = (sex[took] == 0) & (own != last[took]) & (rng.random(len(took)) < MAIDEN_SHARE)
    maiden[took[married_women]] = own[married_women]
    child = np.flatnonzero(role == ROLE_CHILD)
    ch = head_row[np.searchsorted(person_rows, child)]
    same = rng.random(len(child)) < 0.9
    last[child[same]] = last[ch[same]]
    # Juniors: a son named after his father (different date of birth): a classic false match.
    junior = np.zeros(n, dtype=bool)
    jr = child[(sex[child] == 1) & (sex[ch] == 1) & (rng.random(len(child)) < 0.06)]
    jr_head = head_row[np.searchsorted(person_rows, jr)]
    first[jr] = first[jr_head]
    last[jr] = last[jr_head]
    junior[jr] = True

    # Twins: an adult child right after another child of the same household, or two adult
    # siblings sharing a flat (the "flatmate" right after the head).
    twin_group = np.full(n, -1, dtype=np.int64)
    same_hh = np.zeros(n, dtype=bool)
    same_hh[1:] = (household[1:] == household[:-1]) & (household[1:] >= 0)
    prev_child = np.zeros(n, dtype=bool)
    prev_child[1:] = (role[1:] == ROLE_CHILD) & (role[:-1] == ROLE_CHILD)
    prev_head = np.zeros(n, dtype=bool)
    prev_head[1:] = (role[1:] == ROLE_FLATMATE) & (role[:-1] == ROLE_HEAD)
    u = rng.random(n)
    twins = np.flatnonzero(same_hh & ~junior & ((prev_child & (u < 0.2))
                                                | (prev_head & (u < 0.04))))
    twins = twins[~np.isin(twins - 1, twins)]  # no triplets: a twin's sibling is not a twin too
    sib = twins - 1
    dob[twins] = dob[sib]
    last[twins] = last[sib]
    country[twins] = country[sib]
    twin_group[twins] = twins
    twin_group[sib] = twins
    for _ in range(5):  # twins have different first names
        clash = twins[first[twins] == first[sib]]
        if len(clash) == 0:
            break
        first[clash] = _first_names(rng, country[clash], sex[clash])

    # Common-name collisions: a single person who shares first name, surname and city with
    # someone unrelated. Wired up after addresses below.
    singles = np.flatnonzero((hh_size == 1) & ~is_company & (twin_group < 0))
    colliders = singles[rng.random(len(singles)) < NAME_COLLISION_SHARE]
    targets = rng.integers(0, n, size=len(colliders))
    # A target must not itself be a collider (its name and city would shift under us).
    ok = ~is_company[targets] & ~np.isin(targets, colliders)
    colliders, targets = colliders[ok], targets[ok]
    first[colliders] = first[targets]
    last[colliders] = last[targets]
    sex[colliders] = sex[targets]
    country[colliders] = country[targets]

    # Nicknames a person goes by (some people with a nicknameable name).
    nick_table = vocab.nickname_table()
    n_nicks = np.array([len(nick_table.get(i, ())) for i in range(len(vocab.FIRST_NAMES))])
    avail = n_nicks[first]
    goes_by = (avail > 0) & (rng.random(n) < 0.35) & ~is_company
    nick = np.where(goes_by, (rng.random(n) * np.maximum(avail, 1)).astype(np.int64), -1)
    nick = nick.astype(np.int8)

    # Addresses: one per household (members share it), one each for companies.
    addr = _addresses(rng, country)
    # Household members take the head's address.
    members = person_rows
    for k, v in addr.items():
        v[members] = v[head_row]
    # Colliders live in the target's city (their own street and postcode).
    addr["city"][colliders] = addr["city"][targets]
    moved = (rng.random(n) < MOVED_SHARE) & ~is_company
    prev = _addresses(rng, country)
    same_city = rng.random(n) < 0.6
    prev["city"] = np.where(same_city, addr["city"], prev["city"])
    married_moved = (maiden >= 0) & (rng.random(n) < 0.5)
    moved |= married_moved

    # Phones: a mobile per person, a landline per household (shared by all its members).
    cc = np.array([int(vocab.CALLING_CODES[c]) for c in vocab.COUNTRIES], dtype=np.int64)
    has_mobile = rng.random(n) < np.where(age < 65, 0.95, 0.8)
    mobile = np.where(has_mobile, phones.draw_numbers(phones.CITY_MOBILE_PLANS, addr["city"], rng),
                      0)
    landline_share = np.array([LANDLINE_SHARE[c] for c in vocab.COUNTRIES])[country]
    landline_share = np.where(is_company, 1.0, landline_share)
    has_landline = rng.random(n) < landline_share
    landline = np.where(has_landline,
                        phones.draw_numbers(phones.CITY_LANDLINE_PLANS, addr["city"], rng), 0)
    landline[members] = landline[head_row]
    # Deduplicate mobiles and landlines together (a number belongs to one line).
    owners = np.concatenate([np.arange(n), np.flatnonzero(landline > 0)])
    both = np.concatenate([mobile, landline[landline > 0]])
    is_land = np.concatenate([np.zeros(n, bool), np.ones(int((landline > 0).sum()), bool)])
    # Only heads' and companies' landlines are independent numbers; members copy the head's.
    independent = np.ones(len(both), dtype=bool)
    land_rows = np.flatnonzero(landline > 0)
    independent[n:] = ((role[land_rows] == ROLE_HEAD) | is_company[land_rows]
                       | (household[land_rows] < 0))
    sel = np.flatnonzero(independent)

    def redraw_phone(rows: np.ndarray) -> np.ndarray:
        idx = sel[rows]
        out = np.empty(len(rows), dtype=np.int64)
        mob = ~is_land[idx]
        cities = addr["city"][owners[idx]]
        out[mob] = phones.draw_numbers(phones.CITY_MOBILE_PLANS, cities[mob], rng)
        out[~mob] = phones.draw_numbers(phones.CITY_LANDLINE_PLANS, cities[~mob], rng)
        return out

    unique = _dedupe_phones(both[sel].copy(), cc[country[owners[sel]]], redraw_phone,
                            reserved_phones)
    both[sel] = unique
    mobile = both[:n]
    landline_new = np.zeros(n, dtype=np.int64)
    landline_new[land_rows] = both[n:]
    landline_new[members] = landline_new[head_row]
    landline = landline_new

    # E-mail addresses.
    dom_ids = np.array([vocab.DOMAIN_ID[d] for c in vocab.COUNTRIES
                        for d, _ in vocab.EMAIL_DOMAINS[c]])
    dom_country = np.array([ci for ci, c in enumerate(vocab.COUNTRIES)
                            for _ in vocab.EMAIL_DOMAINS[c]])
    dom_p = np.array([w for c in vocab.COUNTRIES for _, w in vocab.EMAIL_DOMAINS[c]])

    def draw_domain(ctry: np.ndarray) -> np.ndarray:
        return _grouped_choice(rng, ctry, lambda c: (
            dom_ids[dom_country == c], dom_p[dom_country == c] / dom_p[dom_country == c].sum()))

    pat_p = np.array(vocab.EMAIL_PATTERN_WEIGHTS) / sum(vocab.EMAIL_PATTERN_WEIGHTS)
    needs_number = np.array(vocab.PATTERN_NEEDS_NUMBER)
    dob_year = (dob.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970)
    # The e-mail name is the one the person signed up with: the maiden name if they had one.
    email_last = np.where(maiden >= 0, maiden, last)
    optional = 0.45 if day_index > 0 else 0.15

    def draw_emails(rows: np.ndarray, attempt: int,
                    second: bool = False) -> tuple[list[str], list[str]]:
        k = len(rows)
        pat = rng.choice(len(pat_p), size=k, p=pat_p)
        num = _draw_numbers(rng, k, needs_number[pat] | (attempt > 0), dob_year[rows],
                            optional, high=[1000, 1000, 10000, 100000][min(attempt, 3)])
        handle = rng.integers(0, len(vocab.HANDLE_WORDS), size=k)
        dom = draw_domain(country[rows])
        if second:  # a second address is usually at another provider
            dom = np.where(dom == draw_domain(country[rows]), draw_domain(country[rows]), dom)
        return _email_strings(pat, first[rows], email_last[rows], num, handle, dom)

    people_rows = np.flatnonzero(~is_company)
    email1 = np.full(n, None, dtype=object)
    canon1 = np.full(n, None, dtype=object)
    email1[people_rows], canon1[people_rows] = draw_emails(people_rows, 0)
    has2 = people_rows[rng.random(len(people_rows)) < SECOND_EMAIL_SHARE]
    email2 = np.full(n, None, dtype=object)
    email2[has2], canon2 = draw_emails(has2, 0, second=True)

    # Companies: a name and a domain of their own.
    company_name = np.full(n, None, dtype=object)
    comp = np.flatnonzero(is_company)
    _companies(rng, comp, country, last, company_name, email1)
    canon1[comp] = email1[comp]

    # One pass over primary and second addresses together.
    all_rows = np.concatenate([np.arange(n), has2])
    is_second = np.concatenate([np.zeros(n, bool), np.ones(len(has2), bool)])
    emails = email1.tolist() + email2[has2].tolist()

    def redraw_email(rows: np.ndarray, attempt: int) -> tuple[list[str], list[str]]:
        out: list[str] = [""] * len(rows)
        out_canon: list[str] = [""] * len(rows)
        owner = all_rows[rows]
        for i, r in enumerate(rows.tolist()):
            if is_company[all_rows[r]]:  # another company already has the domain: number it
                local, _, dom = emails[r].partition("@")
                name, _, tld = dom.partition(".")
                out[i] = out_canon[i] = f"{local}@{name}{attempt + 2}.{tld}"
        for second in (False, True):
            sel = np.flatnonzero(~is_company[owner] & (is_second[rows] == second))
            if len(sel):
                new, new_canon = draw_emails(owner[sel], attempt + 1, second)
                for i, e, c in zip(sel.tolist(), new, new_canon):
                    out[i], out_canon[i] = e, c
        return out, out_canon

    emails = _dedupe_emails(emails, canon1.tolist() + list(canon2), redraw_email,
                            reserved_emails or set())
    email1[:] = emails[:n]
    email2[has2] = emails[n:]

    # Shared family e-mail: in some households another member also uses the head's address.
    family_email = np.full(n, None, dtype=object)
    fam_hh = rng.random(len(sizes)) < FAMILY_EMAIL_SHARE
    fam = person_rows[(pos > 0) & fam_hh[hh_of] & (sizes[hh_of] > 1)]
    fam_head = head_row[np.searchsorted(person_rows, fam)]
    family_email[fam] = email1[fam_head]

    # Consent now (records may show older choices) and the home store.
    opt_in = np.array([OPT_IN_SHARE[c] for c in vocab.COUNTRIES])[country]
    consent = rng.random(n) < opt_in
    home_store = (addr["city"].astype(np.int32) * vocab.STORES_PER_CITY
                  + rng.integers(0, vocab.STORES_PER_CITY, size=n)).astype(np.int16)

    traits = _traits(rng, n, age, sex, hh_size, country)
    web_share_hint = traits["web_rate"] * traits["cart_p"] * 0.75 / np.maximum(
        traits["web_rate"] * traits["cart_p"] * 0.75 + traits["store_rate"], 1e-9)
    if slot_window is None:
        slots = _slots(rng, n, is_company, web_share_hint, dob, t_end)
    else:
        slots = _window_slots(rng, n, web_share_hint, slot_window)

    # Which slots show the older state (maiden name, previous address): a prefix of them.
    # (Sign-ups of a single delivery day all show the current state.)
    n_rec = slots["n_rec"]
    changed = ((maiden >= 0) | moved) & (slot_window is None)
    cut = np.where(changed & (n_rec >= 2),
                   1 + (rng.random(n) * np.maximum(n_rec - 1, 1)).astype(np.int64), 0)
    # Consent: the newest record shows today's choice, older ones sometimes the opposite.
    flips = rng.random((n, 4)) < 0.25
    newest = np.arange(4)[None, :] == (n_rec[:, None] - 1)
    slot_consent = np.where(newest | ~flips, consent[:, None], ~consent[:, None])

    return Population(
        key=np.arange(n, dtype=np.int64),
        is_company=is_company, country=country, sex=np.where(is_company, -1, sex).astype(np.int8),
        first=first, last=last, maiden=maiden, nick=nick, dob=dob,
        household=household, hh_size=hh_size, role=role, twin_group=twin_group, junior=junior,
        city=addr["city"], street=addr["street"], stype=addr["stype"], house=addr["house"],
        flat=addr["flat"], pc=addr["pc"], moved=moved,
        prev_city=prev["city"], prev_street=prev["street"], prev_stype=prev["stype"],
        prev_house=prev["house"], prev_flat=prev["flat"], prev_pc=prev["pc"],
        email1=email1, email2=email2, family_email=family_email,
        mobile=mobile, landline=landline, consent=consent, company_name=company_name,
        home_store=home_store, store_rate=traits["store_rate"], web_rate=traits["web_rate"],
        cart_p=traits["cart_p"], affinity=traits["affinity"],
        n_rec=n_rec, change_cut=cut.astype(np.int8), slot_source=slots["slot_source"],
        slot_created=slots["slot_created"], slot_updated=slots["slot_updated"],
        slot_consent=slot_consent,
    )


def _window_slots(rng, n, web_share_hint, window: tuple[int, int]) -> dict[str, np.ndarray]:
    """Slots for brand-new people of a later delivery: 1 record (sometimes 2), created and last
    updated within ``window`` (epoch seconds, end exclusive)."""
    n_rec = np.where(rng.random(n) < 0.85, 1, 2).astype(np.int8)
    p = np.stack([np.full(n, 0.25), 0.45 * (0.4 + web_share_hint),
                  0.30 * (0.4 + (1 - web_share_hint))], axis=1)
    p /= p.sum(axis=1, keepdims=True)
    cum = np.cumsum(p, axis=1)
    source = (rng.random((n, 4))[:, :, None] > cum[:, None, :]).sum(axis=2).astype(np.int8)
    lo, hi = window
    created = np.sort(lo + (rng.random((n, 4)) * (hi - lo)).astype(np.int64), axis=1)
    used = np.arange(4)[None, :] < n_rec[:, None]
    source = np.where(used, source, NO_SLOT).astype(np.int8)
    return {"n_rec": n_rec, "slot_source": source, "slot_created": created,
            "slot_updated": created.copy()}


def _companies(rng, rows, country, last, company_name, email1) -> None:
    """Company names ("Summit Plumbing Ltd", "Müller GmbH") and their info@ addresses.

    Names may repeat (two "Summit Plumbing Ltd" in different cities are different companies),
    but every company gets a web domain of its own, numbered when the name is taken.
    """
    tld = {"GB": "co.uk", "US": "com", "DE": "de", "FR": "fr", "IE": "ie"}
    seen_domains: dict[str, int] = {}
    for r in rows.tolist():
        c = vocab.COUNTRIES[int(country[r])]
        style = rng.random()
        word = vocab.COMPANY_WORDS[int(rng.integers(len(vocab.COMPANY_WORDS)))]
        industry = vocab.COMPANY_INDUSTRIES[int(rng.integers(len(vocab.COMPANY_INDUSTRIES)))]
        suffix = vocab.COMPANY_SUFFIX[c][int(rng.integers(len(vocab.COMPANY_SUFFIX[c])))]
        surname = vocab.LAST_NAMES[int(last[r])]
        if style < 0.45:
            base = f"{word} {industry}"
        elif style < 0.8:
            base = f"{surname} {industry}"
        else:
            base = f"{surname} & {word}"
        company_name[r] = f"{base} {suffix}"
        user = vocab.COMPANY_EMAIL_USERS[int(rng.integers(len(vocab.COMPANY_EMAIL_USERS)))]
        domain = f"{vocab.email_token(base.replace('&', 'and'))}.{tld[c]}"
        taken = seen_domains.get(domain, 0)
        seen_domains[domain] = taken + 1
        if taken:
            name, _, rest = domain.partition(".")
            domain = f"{name}{taken + 1}.{rest}"
        email1[r] = f"{user}@{domain}"
