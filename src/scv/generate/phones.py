"""Phone numbers: valid canonical numbers per country and city, and the ways people write them.

A canonical number is a national significant number (NSN, digits only, no trunk prefix) drawn
from a number range that ``phonenumbers.is_valid_number`` accepts for its country: every prefix
below was checked against the library's metadata with hundreds of random suffixes, and the unit
tests check every generated number again. Landlines are tied to the city's area code, mobiles
to the country's mobile ranges.

:func:`format_phone` renders one canonical number in one of the national or international
notations seen in real exports (``07700 900123``, ``+44 7700 900123``, ``0044 7700 900123``,
dashes, dots, parentheses); every notation parses back to the same number for its country.
"""

from __future__ import annotations

import numpy as np

from scv.generate import vocab

# (prefix of the NSN, NSN length, length of the area code inside the NSN for grouping)
_Plan = tuple[tuple[str, int, int], ...]


def _ranges(prefixes: str, nsn_len: int, area_len: int) -> _Plan:
    return tuple((p, nsn_len, area_len) for p in prefixes.split())


MOBILE: dict[str, _Plan] = {
    "GB": _ranges(" ".join([f"7{d}" for d in range(10, 60)] + [f"7{d}" for d in range(71, 91)]
                           + [f"7{d}" for d in range(92, 100)]), 10, 4),
    "US": (),  # US mobiles share the city's area codes: see LANDLINE["US"]
    "DE": _ranges("1511 1512 1514 1515 1516 1517 1520 1522 1523 1525 1570 1573 1575 1577 "
                  "1578 1590", 11, 4)
          + _ranges("160 162 163 170 171 172 173 174 175 176 177 178 179", 11, 3)
          + _ranges("160 170 171 175", 10, 3),
    "FR": _ranges("60 61 62 64 65 66 67 68 73 74 75 76 77 78 79", 9, 1),
    "IE": _ranges(" ".join(f"8{a}{b}" for a in "35679" for b in "0123456789"), 9, 2),
}

# Landline ranges per city (same city names as vocab.CITIES).
LANDLINE: dict[str, _Plan] = {
    "London": _ranges(" ".join(f"20{a}{b}" for a in "378" for b in "0123456789"), 10, 2),
    "Birmingham": _ranges("1210 1211 1212 1213 1214 1215 1216 1217", 10, 3),
    "Manchester": _ranges(" ".join(f"161{d}" for d in range(10)), 10, 3),
    "Leeds": _ranges("1130 1131 1132 1133 1134 1135 1138", 10, 3),
    "Glasgow": _ranges(" ".join(f"141{d}" for d in range(10)), 10, 3),
    "Liverpool": _ranges(" ".join(f"151{d}" for d in range(10)), 10, 3),
    "Sheffield": _ranges("1140 1141 1142 1143 1144 1145", 10, 3),
    "Bristol": _ranges("1170 1171 1172 1173 1174 1179", 10, 3),
    "Edinburgh": _ranges(" ".join(f"131{d}" for d in range(9)), 10, 3),
    "Newcastle upon Tyne": _ranges(" ".join(f"191{d}" for d in range(10)), 10, 3),
    "Nottingham": _ranges("1150 1151 1152 1156 1157 1158 1159", 10, 3),
    "Leicester": _ranges("1160 1161 1162 1163 1164", 10, 3),
    "Cardiff": _ranges(" ".join(f"29{d:02d}" for d in range(30)), 10, 2),
    "Belfast": _ranges(" ".join(f"28{d:02d}" for d in list(range(50)) + list(range(60, 100))),
                       10, 2),
    "Brighton": _ranges(" ".join(f"1273{d}" for d in range(10)), 10, 4),
    "Oxford": _ranges(" ".join(f"1865{d}" for d in range(10)), 10, 4),
    "Cambridge": _ranges(" ".join(f"1223{d}" for d in range(10)), 10, 4),
    "York": _ranges(" ".join(f"1904{d}" for d in range(10)), 10, 4),
    "Berlin": _ranges("301 302 303 304 305 306 307 308 309", 10, 2),
    "Hamburg": _ranges("401 402 403 404 405 406 407 408 409", 10, 2),
    "München": _ranges("891 892 893 894 895 896 897 898 899", 10, 2),
    "Köln": _ranges("2211 2212 2213 2214 2215 2216 2217 2218 2219", 10, 3),
    "Frankfurt am Main": _ranges("691 692 693 694 695 696 697 698 699", 10, 2),
    "Stuttgart": _ranges("7111 7112 7113 7114 7115 7116 7117 7118 7119", 10, 3),
    "Düsseldorf": _ranges("2111 2112 2113 2114 2115 2116 2117 2118 2119", 10, 3),
    "Leipzig": _ranges("3411 3412 3413 3414 3415 3416 3417 3418 3419", 10, 3),
    "Paris": _ranges("10 11 12 13 14 15 16 17 18 19", 9, 1),
    "Marseille": _ranges("490 491 492 494 495 496", 9, 1),
    "Lyon": _ranges("470 471 472 473 474 475 476 477 478 479", 9, 1),
    "Toulouse": _ranges("560 561 562 563 564", 9, 1),
    "Nice": _ranges("493", 9, 1),
    "Nantes": _ranges("240 241 242 243 244", 9, 1),
    "Strasbourg": _ranges("388", 9, 1),
    "Bordeaux": _ranges("550 551 552 553 554 555 556 557", 9, 1),
    "Lille": _ranges("320 321 322 323 324 325", 9, 1),
    "Dublin": _ranges("10 11 12 13 14 15 16 17 18 19", 8, 1),
    "Cork": _ranges("210 211 212 213 214 215", 9, 2),
    "Galway": _ranges("910 911 912 913 914 915", 8, 2),
    "Limerick": _ranges("610 611 612 613 614 615", 8, 2),
    "Waterford": _ranges("510 511 512 513 514 515", 8, 2),
}
_US_AREA_CODES = {
    "New York": "212 718 646", "Los Angeles": "213 310 323", "Chicago": "312 773",
    "Boston": "617 857", "San Francisco": "415 628", "Seattle": "206", "Austin": "512",
    "Miami": "305 786", "Denver": "303 720", "Philadelphia": "215 267",
}
# US exchanges (NXX): avoid N11 service codes and the 555 fiction range.
_US_EXCHANGES = [f"{n}" for n in range(201, 990) if n % 100 != 11 and n != 555 and n % 100 >= 10]
for _city, _codes in _US_AREA_CODES.items():
    LANDLINE[_city] = tuple((npa + nxx, 10, 3) for npa in _codes.split() for nxx in _US_EXCHANGES)


def _city_plans() -> tuple[_Plan, ...]:
    return tuple(LANDLINE[name] for name in vocab.CITY_NAME)


CITY_LANDLINE_PLANS = _city_plans()
# US mobiles come from the city's own area codes, like real US numbers.
CITY_MOBILE_PLANS = tuple(
    LANDLINE[name] if country == "US" else MOBILE[country]
    for name, country in zip(vocab.CITY_NAME, vocab.CITY_COUNTRY)
)


def draw_numbers(plans: tuple[_Plan, ...], plan_index: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Draw one canonical NSN per row, as int64, from ``plans[plan_index[i]]``.

    Each plan is a tuple of ranges; a range is picked uniformly, then the remaining digits are
    uniform. The result is the NSN read as an integer (never with a leading zero, since no
    range starts with 0), so it can be deduplicated cheaply.
    """
    out = np.zeros(len(plan_index), dtype=np.int64)
    for p in np.unique(plan_index):
        rows = np.flatnonzero(plan_index == p)
        plan = plans[int(p)]
        which = rng.integers(0, len(plan), size=len(rows))
        for r, (prefix, nsn_len, _area) in enumerate(plan):
            sel = rows[which == r]
            if len(sel) == 0:
                continue
            rest = nsn_len - len(prefix)
            suffix = rng.integers(0, 10**rest, size=len(sel), dtype=np.int64)
            out[sel] = int(prefix) * 10**rest + suffix
    return out


def _area_len(country: str, nsn: str) -> int:
    """Length of the area code (or mobile prefix) inside an NSN, for readable grouping."""
    if country == "GB":
        if nsn.startswith("7") or nsn[:4] in ("1273", "1865", "1223", "1904"):
            return 4
        if nsn.startswith(("20", "28", "29")):
            return 2
        return 3
    if country == "US":
        return 3
    if country == "DE":
        if nsn.startswith("15"):
            return 4
        if nsn.startswith(("16", "17")):
            return 3
        return 2 if nsn[:2] in ("30", "40", "89", "69") else 3
    if country == "FR":
        return 1
    if country == "IE":
        return 1 if nsn.startswith("1") and len(nsn) == 8 else 2
    raise ValueError(country)


def e164(country: str, nsn: int) -> str:
    """The canonical E.164 form, e.g. ``+447911123456``."""
    return f"+{vocab.CALLING_CODES[country]}{nsn}"


def format_phone(country: str, nsn: int, style: int) -> str:
    """One notation of the number; ``style`` 0 is the usual national display form.

    Styles per country (all parse back to the same number with the country as default region):
    0 national grouped, 1 national compact, 2 +CC grouped, 3 +CC compact, 4 00CC grouped
    (the international access code, "1-" for the US), 5 national with dashes or parentheses,
    6 "+CC (0)..." , 7 national with dots, dashes or slashes.
    """
    s = str(nsn)
    style %= 8
    if style == 1:
        return s if country == "US" else f"0{s}"
    cc = vocab.CALLING_CODES[country]
    if style == 3:
        return f"+{cc}{s}"
    a = _area_len(country, s)
    area, rest = s[:a], s[a:]
    if country == "US":
        local = f"{rest[:3]}-{rest[3:]}"
        if style == 0:
            return f"({area}) {local}"
        if style == 2:
            return f"+1 {area}-{local}"
        if style == 4:
            return f"1-{area}-{local}"
        if style == 5:
            return f"{area}-{local}"
        if style == 6:
            return f"+1 ({area}) {local}"
        return f"{area}.{rest[:3]}.{rest[3:]}"
    if country == "FR":
        pairs = f"{s[1:3]} {s[3:5]} {s[5:7]} {s[7:9]}"
        if style == 0:
            return f"0{s[0]} {pairs}"
        if style == 2:
            return f"+33 {s[0]} {pairs}"
        if style == 4:
            return f"0033 {s[0]} {pairs}"
        if style == 5:
            return f"0{s[0]}-" + pairs.replace(" ", "-")
        if style == 6:
            return f"+33 (0){s[0]} {pairs}"
        return f"0{s[0]}." + pairs.replace(" ", ".")
    if country == "GB":
        grouped = (f"{rest[:4]} {rest[4:]}" if a == 2 else
                   f"{rest[:3]} {rest[3:]}" if a == 3 else rest)
    elif country == "IE":
        grouped = f"{rest[:3]} {rest[3:]}"
    else:  # DE: the subscriber number is written as one block
        grouped = rest
    if style == 0:
        return f"0{area} {grouped}"
    if style == 2:
        return f"+{cc} {area} {grouped}"
    if style == 4:
        return f"00{cc} {area} {grouped}"
    if style == 5:
        return f"(0{area}) {grouped}" if country != "DE" else f"0{area}-{rest}"
    if style == 6:
        return f"+{cc} (0){area} {grouped}"
    return f"0{area} {grouped}".replace(" ", "-") if country != "DE" else f"0{area}/{rest}"
