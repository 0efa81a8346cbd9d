"""In-store transactions and web events, driven by each person's latent purchase traits.

For every person and category the number of purchases in a window is Poisson with mean
``rate x affinity[category] x seasonal weight of the window``; the same traits drive the
history (day 0: the 18 months before the anchor date) and every later day, so past purchase
mix, age, sex, household size and country all carry signal about future purchases.

Transactions reference the loyalty card the person held at that moment (a card created later
cannot appear); some shoppers do not show a card and some people have none (walk-ins, empty
``card_no``). About 1% are refunds (quantity -1, negative amount). POS times are the store's
local time without a zone (``2026-01-02T13:45:10``); web event times are UTC with
milliseconds. Web sessions are logged in to the webshop account held at that moment, or
anonymous (``account_id`` null); a session is page views, then perhaps an add-to-cart, then
perhaps a purchase (``value`` set only on purchases). Lines are sorted by time within a chunk
of people, not across the whole file.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from scv.generate import vocab
from scv.generate.population import DAY, LOY, WEB, Population

HISTORY_DAYS = 548
CARD_SHOWN = 0.85
LOGGED_IN = 0.75
ANONYMOUS_BROWSING = 0.25  # sessions of people without an account, relative to their web rate
P_BUY_GIVEN_CART = 0.75
REFUND_SHARE = 0.01

_EVENT_TYPES = np.array(["page_view", "add_to_cart", "purchase"], dtype=object)
_CATEGORY_NAMES = np.array(vocab.CATEGORIES, dtype=object)

POS_HEADER = "transaction_id,card_no,store_id,transaction_ts,product_category,quantity,amount\n"

_MONTH = np.array([0.85, 0.8, 0.9, 0.95, 1.0, 1.0, 1.0, 0.95, 0.95, 1.0, 1.2, 1.45])
_CATEGORY_MONTH = {
    "garden": [0.4, 0.4, 0.9, 1.8, 2.1, 2.0, 1.8, 1.5, 0.9, 0.6, 0.4, 0.4],
    "toys": [0.6, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 1.0, 1.8, 2.8],
    "electronics": [0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 1.0, 1.0, 1.6, 1.5],
    "clothing": [1.3, 0.8, 1.0, 1.0, 1.0, 1.0, 1.2, 1.0, 1.0, 1.0, 1.0, 1.1],
    "sports": [1.5, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 1.0, 0.9, 0.8, 0.9],
    "beauty": [0.9, 1.2, 1.0, 1.0, 1.0, 0.9, 0.9, 0.9, 0.9, 1.0, 1.1, 1.5],
    "grocery": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2],
    "home": [1.1, 1.0, 1.1, 1.1, 1.0, 0.9, 0.9, 0.9, 1.0, 1.0, 1.0, 1.1],
}
_WEEKDAY_STORE = np.array([0.85, 0.85, 0.9, 0.95, 1.1, 1.45, 0.9])  # Monday first
_WEEKDAY_WEB = np.array([1.05, 1.0, 0.95, 0.95, 0.9, 0.95, 1.2])
_HOURS_STORE = np.array([0, 0, 0, 0, 0, 0, 0, 0, 2, 4, 6, 8, 10, 10, 8, 7, 8, 10, 9, 6, 3, 0, 0, 0],
                        dtype=float)
_HOURS_WEB = np.array([2, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4, 4, 5, 5, 4, 4, 4, 5, 6, 8, 9, 9, 7,
                       4], dtype=float)


@lru_cache(maxsize=64)
def day_weights(first_day: int, n_days: int, channel: str) -> np.ndarray:
    """(8, n_days) relative purchase intensity per category and day, mean 1 over a year.

    Month, weekday, category season, Black Friday and Christmas all shape it.
    """
    d = np.arange(first_day, first_day + n_days)
    dt = d.astype("datetime64[D]")
    month = dt.astype("datetime64[M]").astype(np.int64) % 12
    dom = (dt - dt.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (d + 3) % 7  # 1970-01-01 was a Thursday
    base = _MONTH[month] / _MONTH.mean()
    base = base * (_WEEKDAY_STORE if channel == "store" else _WEEKDAY_WEB)[weekday] / (
        (_WEEKDAY_STORE if channel == "store" else _WEEKDAY_WEB).mean())
    # Black Friday: the Friday after the fourth Thursday of November, and its weekend to Monday.
    bf = (month == 10) & (weekday == 4) & (dom >= 23) & (dom <= 29)
    bf_days = np.flatnonzero(bf)
    for offset, lift in ((0, 2.5 if channel == "store" else 3.0), (1, 1.4), (2, 1.3), (3, 1.8)):
        idx = bf_days + offset
        base[idx[idx < n_days]] *= lift
    xmas = (month == 11) & (dom == 25)
    base[xmas] = 0.05 if channel == "store" else 0.6
    boxing = (month == 11) & (dom == 26)
    base[boxing] *= 1.5
    out = np.empty((len(vocab.CATEGORIES), n_days))
    for c, name in enumerate(vocab.CATEGORIES):
        season = np.array(_CATEGORY_MONTH[name])
        out[c] = base * season[month] / season.mean()
    return out


def _sample_days(rng, cats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    days = np.zeros(len(cats), dtype=np.int64)
    for c in range(weights.shape[0]):
        rows = np.flatnonzero(cats == c)
        if len(rows) == 0:
            continue
        cdf = np.cumsum(weights[c])
        days[rows] = np.searchsorted(cdf, rng.random(len(rows)) * cdf[-1], side="right")
    return np.minimum(days, weights.shape[1] - 1)


def _time_of_day(rng, n: int, hours: np.ndarray) -> np.ndarray:
    h = rng.choice(24, size=n, p=hours / hours.sum())
    return h * 3600 + rng.integers(0, 3600, size=n)


def _prices(rng, cats: np.ndarray) -> np.ndarray:
    """Unit prices in cents."""
    median = np.array([m for m, _ in vocab.CATEGORY_PRICE])[cats]
    spread = np.array([s for _, s in vocab.CATEGORY_PRICE])[cats]
    price = median * np.exp(rng.normal(0, 1, size=len(cats)) * spread)
    return np.maximum(np.round(price).astype(np.int64) * 100 - 1, 49)  # shelf prices: x.99


def _held_ids(slot_source: np.ndarray, slot_created: np.ndarray, slot_ids: np.ndarray,
              person: np.ndarray, ts: np.ndarray, source: int) -> np.ndarray:
    """Per event, the id of the newest ``source`` record the person had created by ``ts``
    (or "" if none yet)."""
    src = slot_source[person]
    created = slot_created[person]
    ok = (src == source) & (created <= ts[:, None])
    best = np.argmax(np.where(ok, created, -1), axis=1)
    has = ok.any(axis=1)
    out = slot_ids[person, best]
    return np.where(has, out, "")


def _money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" if c >= 0 else f"-{(-c) // 100}.{(-c) % 100:02d}"
            for c in cents.tolist()]


def generate_events(pop: Population, slot_source: np.ndarray, slot_created: np.ndarray,
                    slot_ids: np.ndarray, window_start: date, n_days: int,
                    rng: np.random.Generator, id_prefix: str) -> tuple[list[str], list[str]]:
    """POS CSV lines and web-event JSON lines for ``pop`` over ``n_days`` from ``window_start``.

    ``slot_*`` describe the records each person holds (n x S): source, creation time and the
    record id as written in the landing files. ``id_prefix`` makes transaction and event ids
    unique across chunks and deliveries.
    """
    first_day = (window_start - date(1970, 1, 1)).days
    t0 = first_day * DAY
    n = len(pop)
    cats = np.arange(len(vocab.CATEGORIES))
    aff = pop.affinity.astype(np.float64)

    # ---- in-store transactions ----------------------------------------------------------
    w_store = day_weights(first_day, n_days, "store")
    lam = pop.store_rate[:, None] * aff * w_store.sum(axis=1)[None, :]
    counts = rng.poisson(lam)
    person = np.repeat(np.repeat(np.arange(n), len(cats)), counts.reshape(-1))
    cat = np.repeat(np.tile(cats, n), counts.reshape(-1))
    day = _sample_days(rng, cat, w_store)
    ts = t0 + day * DAY + _time_of_day(rng, len(cat), _HOURS_STORE)
    qty = np.minimum(rng.geometric(0.65, size=len(cat)), 6)
    qty = np.where(rng.random(len(cat)) < REFUND_SHARE, -1, qty)
    amount = _prices(rng, cat) * qty
    card = _held_ids(slot_source, slot_created, slot_ids, person, ts, LOY)
    card = np.where(rng.random(len(cat)) < CARD_SHOWN, card, "")
    away = rng.random(len(cat)) < 0.15  # sometimes a different store in the same country
    city_pool = [vocab.city_distribution(c)[0] for c in vocab.COUNTRIES]
    store = pop.home_store[person].astype(np.int64)
    if away.any():
        ctry = pop.country[person[away]]
        alt_city = np.array([city_pool[c][int(u * len(city_pool[c]))]
                             for c, u in zip(ctry.tolist(), rng.random(int(away.sum())).tolist())],
                            dtype=np.int64)
        store[away] = alt_city * vocab.STORES_PER_CITY + rng.integers(
            0, vocab.STORES_PER_CITY, size=int(away.sum()))
    order = np.argsort(ts, kind="stable")
    ts_s = np.datetime_as_string(ts[order].astype("datetime64[s]"), unit="s").tolist()
    pos_lines = [
        f"T{id_prefix}{i:07d},{c},ST{s:04d},{t},{k},{q},{a}\n"
        for i, (c, s, t, k, q, a) in enumerate(zip(
            card[order].tolist(), store[order].tolist(), ts_s,
            _CATEGORY_NAMES[cat[order]].tolist(), qty[order].tolist(), _money(amount[order])))
    ]

    web_lines = _web_events(pop, slot_source, slot_created, slot_ids, first_day, n_days, rng,
                            id_prefix)
    return pos_lines, web_lines


def _web_events(pop: Population, slot_source: np.ndarray, slot_created: np.ndarray,
                slot_ids: np.ndarray, first_day: int, n_days: int, rng: np.random.Generator,
                id_prefix: str) -> list[str]:
    """Web sessions (page views, then maybe add-to-cart, then maybe purchase) as JSON lines."""
    t0 = first_day * DAY
    n = len(pop)
    cats = np.arange(len(vocab.CATEGORIES))
    aff = pop.affinity.astype(np.float64)
    w_web = day_weights(first_day, n_days, "web")
    has_account = (slot_source == WEB).any(axis=1)
    rate = pop.web_rate * np.where(has_account, 1.0, ANONYMOUS_BROWSING)
    lam = rate[:, None] * aff * w_web.sum(axis=1)[None, :]
    counts = rng.poisson(lam)
    if counts.sum() == 0:
        return []
    s_person = np.repeat(np.repeat(np.arange(n), len(cats)), counts.reshape(-1))
    s_cat = np.repeat(np.tile(cats, n), counts.reshape(-1))
    s_day = _sample_days(rng, s_cat, w_web)
    s_start = t0 + s_day * DAY + _time_of_day(rng, len(s_cat), _HOURS_WEB)
    account = _held_ids(slot_source, slot_created, slot_ids, s_person, s_start, WEB)
    account = np.where(rng.random(len(s_cat)) < LOGGED_IN, account, "")
    views = 1 + rng.poisson(0.4, size=len(s_cat))
    cart = rng.random(len(s_cat)) < pop.cart_p[s_person]
    buy = cart & (rng.random(len(s_cat)) < P_BUY_GIVEN_CART)
    per_session = views + cart + buy
    e_session = np.repeat(np.arange(len(s_cat)), per_session)
    # position of each event inside its session: views first, then cart, then purchase
    first_of = np.concatenate([[0], np.cumsum(per_session)[:-1]])
    e_pos = np.arange(len(e_session)) - first_of[e_session]
    e_type = np.where(e_pos < views[e_session], 0, np.where(
        e_pos == views[e_session], 1, 2))
    gaps = rng.exponential(45.0, size=len(e_session)).astype(np.int64) + 1
    gaps[first_of] = 0
    # cumulative seconds since the session start
    cum = np.cumsum(gaps)
    e_ts = s_start[e_session] + (cum - cum[first_of][e_session])
    e_ts = np.minimum(e_ts, t0 + n_days * DAY - 1)
    e_ms = rng.integers(0, 1000, size=len(e_session))
    # browsing wanders: 20% of page views are in another category
    e_cat = s_cat[e_session].copy()
    wander = (e_type == 0) & (rng.random(len(e_session)) < 0.2)
    e_cat[wander] = rng.integers(0, len(cats), size=int(wander.sum()))
    qty_w = np.minimum(rng.geometric(0.75, size=len(s_cat)), 4)
    value = _prices(rng, s_cat) * qty_w
    order = np.lexsort((np.arange(len(e_ts)), e_ts))
    # Build each field as a list of finished JSON fragments with C-level indexing, so the
    # per-line Python work is one f-string.
    stamp = np.datetime_as_string((e_ts * 1000 + e_ms)[order].astype("datetime64[ms]"),
                                  unit="ms").tolist()
    session_account = np.array(['null' if not a else f'"{a}"' for a in account.tolist()],
                               dtype=object)
    acc = session_account[e_session[order]].tolist()
    typ = _EVENT_TYPES[e_type[order]].tolist()
    cat = _CATEGORY_NAMES[e_cat[order]].tolist()
    val = np.full(len(order), "null", dtype=object)
    is_buy = e_type[order] == 2
    val[is_buy] = _money(value[e_session[order][is_buy]])
    web_lines = [
        f'{{"event_id":"E{id_prefix}{i:08d}","account_id":{a},"event_type":"{t}",'
        f'"event_ts":"{ts}Z","product_category":"{k}","value":{v}}}\n'
        for i, (a, t, ts, k, v) in enumerate(zip(acc, typ, stamp, cat, val.tolist()))
    ]
    return web_lines


def history_window(anchor: date) -> tuple[date, int]:
    """Day 0's event history: the 18 months before the anchor date."""
    return anchor - timedelta(days=HISTORY_DAYS), HISTORY_DAYS
