"""Random streams and record identifiers.

Determinism: every random draw comes from a stream named by (seed, day_index, purpose, chunk),
so a chunk's output does not depend on which process renders it or in which order.

Identifiers: a record's *serial* is a dense integer that is unique by construction (day 0:
``person_index * 4 + slot``; day k: a block of its own, see :func:`serial_base`). Serials are
passed through a keyed Feistel permutation of ``[0, 10**12)`` before they become ids, so ids are
unique (a permutation is a bijection) but carry no trace of the person or slot they came from:
adjacent serials of one person give unrelated ids.
"""

from __future__ import annotations

import hashlib
import random
import zlib

import numpy as np

ID_SPACE = 10**12
_HALF = 10**6
MAX_RECORD_SLOTS = 4


def stream(seed: int, day_index: int, purpose: str, chunk: int = 0) -> np.random.Generator:
    """A numpy generator for one named purpose; independent of all other purposes."""
    return np.random.default_rng(
        np.random.SeedSequence([seed, day_index, zlib.crc32(purpose.encode()), chunk])
    )


def py_random(seed: int, day_index: int, purpose: str, chunk: int = 0) -> random.Random:
    """A ``random.Random`` for per-record Python code (scalar draws are ~20x cheaper there).

    Only ``random()`` is used on it, whose sequence CPython guarantees for a given int seed.
    """
    state = np.random.SeedSequence(
        [seed, day_index, zlib.crc32(purpose.encode()), chunk]
    ).generate_state(4, dtype=np.uint32)
    return random.Random(int.from_bytes(state.tobytes(), "little"))


def serial_base(people: int, day_index: int) -> int:
    """First serial of day ``day_index``'s new records; day 0 uses ``[0, 4 * people)``.

    Each later day gets a disjoint block of ``4 * people`` serials, far more than the ~1% new
    records a day brings, so serials never clash across days.
    """
    return MAX_RECORD_SLOTS * max(people, 1) * day_index


def _round_keys(seed: int, domain: str) -> np.ndarray:
    digest = hashlib.blake2b(f"{seed}:{domain}".encode(), digest_size=32).digest()
    return np.frombuffer(digest, dtype=np.uint64)


def _mix(x: np.ndarray, key: np.uint64) -> np.ndarray:
    # A 64-bit integer hash (splitmix64 finaliser); any function works, the Feistel network
    # is a bijection regardless.
    z = (x + key) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def permute(serials: np.ndarray, seed: int, domain: str) -> np.ndarray:
    """Keyed bijection of ``[0, 10**12)``: distinct serials always give distinct results."""
    x = np.asarray(serials, dtype=np.uint64)
    if x.size and int(x.max()) >= ID_SPACE:
        raise ValueError("record serial outside the id space; too many people x days")
    keys = _round_keys(seed, domain)
    half = np.uint64(_HALF)
    left, right = x // half, x % half
    with np.errstate(over="ignore"):
        for k in keys:
            left, right = right, (left + _mix(right, k) % half) % half
    return (left * half + right).astype(np.int64)


_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_digit(body: str) -> str:
    digits = [ord(c) - 48 for c in reversed(body)]
    total = sum(_LUHN_DOUBLED[d] for d in digits[0::2]) + sum(digits[1::2])
    return str((10 - total % 10) % 10)


def crm_contact_id(x: int, seed: int) -> str:
    """A Dynamics-style GUID; its last group is the permuted serial, so it is unique."""
    h = int.from_bytes(hashlib.blake2b(f"{seed}:{x}".encode(), digest_size=8).digest(), "little")
    return (f"{h >> 32:08x}-{(h >> 16) & 0xFFFF:04x}-4{(h >> 4) & 0xFFF:03x}-"
            f"{0x8000 | ((h * 31) & 0x3FFF):04x}-{x:012x}")


def webshop_account_id(x: int) -> str:
    """A 13-digit account number (never a leading zero)."""
    return str(ID_SPACE + x)


def loyalty_card_no(x: int) -> str:
    """A 16-digit card number: issuer prefix 633, 12 digits, Luhn check digit."""
    body = f"633{x:012d}"
    return body + _luhn_digit(body)


def loyalty_card_nos(xs: np.ndarray) -> list[str]:
    """:func:`loyalty_card_no` for many ids at once (the Luhn sum vectorised)."""
    x = np.asarray(xs, dtype=np.int64)
    total = np.zeros(len(x), dtype=np.int64)
    doubled = np.array(_LUHN_DOUBLED)
    # Body digits from the right: 12 digits of x (positions 0..11), then 3, 3, 6.
    for pos in range(15):
        digit = (x // 10**pos) % 10 if pos < 12 else np.full(len(x), (3, 3, 6)[pos - 12])
        total += doubled[digit] if pos % 2 == 0 else digit
    check = (10 - total % 10) % 10
    return [f"633{v:012d}{c}" for v, c in zip(x.tolist(), check.tolist())]
