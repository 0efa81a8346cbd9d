"""An erasure subject as keyed hashes, and how text is searched for them without raw values.

Erasure must find a person and later prove them gone, but the request's identifiers may not be
written anywhere (XCom, logs, audit, Delta history). So the subject travels between tasks as a
:class:`SubjectFingerprint`: keyed hashes (HMAC-SHA256, :mod:`scv.privacy.keyed_hash`) of the
normalised email, the phone key and the name tokens. Any text (a Parquet cell, a Delta log
line, a landing file line) is searched by cutting it into the same normalised tokens, hashing
those and comparing hashes.

Normalisation (the same at erasure, at verification and at bronze suppression):
- email: trimmed, lower-cased (``Ada.L@Example.org`` -> ``ada.l@example.org``);
- phone: the last 9 digits (``+44 7700 900123``, ``07700900123`` and ``447700900123`` all give
  ``700900123``): enough to tell numbers apart, independent of prefixes and punctuation, and the
  same for every country whose numbers have 9 or more national digits;
- name: lower-cased words (letters, hyphens, apostrophes); a row matches the name only when a
  first-name and a last-name token are both in it, so one common name alone never matches.

Shared identifiers. Households share a landline (and some a family email), so an email or phone
of the subject may also be on other people's records. Such an identifier is listed in
``shared_hashes`` and counts as the subject's only together with one of the subject's first-name
tokens in the same row (line, action); an identifier nobody else holds counts on its own. The
same precise rule drives erasure, verification and (as ``identifier|first name`` pairs, see
:func:`pair_hash`) the suppression list, so a household member is neither deleted, nor reported
as a leftover, nor dropped when their rows are ingested again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable

from scv.privacy.keyed_hash import keyed_hash

PHONE_KEY_DIGITS = 9
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"\+?\d[\d ()./-]{6,}\d")
WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def normalise_email(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    return text or None


def phone_key(value: str | None) -> str | None:
    """The last 9 digits of a phone number, or None if it has fewer."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", value)
    return digits[-PHONE_KEY_DIGITS:] if len(digits) >= PHONE_KEY_DIGITS else None


def pair_hash(identifier_hash: str, first_name_hash: str, key: bytes) -> str:
    """Keyed hash of an (identifier, first-name token) pair, built from their keyed hashes, so
    it can be computed from a :class:`SubjectFingerprint` alone."""
    return keyed_hash(f"{identifier_hash}|{first_name_hash}", key)


def name_tokens(value: str | None) -> set[str]:
    if not value:
        return set()
    text = unicodedata.normalize("NFC", value).lower()
    return set(WORD_RE.findall(text))


def text_tokens(text: str) -> tuple[set[str], set[str], set[str]]:
    """(emails, phone keys, words) found in free text."""
    emails = {e.lower() for e in EMAIL_RE.findall(text)}
    phones = {k for k in (phone_key(p) for p in PHONE_RE.findall(text)) if k}
    # A cell that is only digits (a number written without punctuation) is also a phone candidate.
    bare = re.sub(r"\D", "", text)
    if bare and len(text) <= 20 and phone_key(bare):
        phones.add(phone_key(bare))
    return emails, phones, name_tokens(text)


@dataclass(frozen=True)
class SubjectFingerprint:
    """Keyed hashes of everything that identifies a subject: safe to pass through XCom."""

    email_hashes: frozenset[str] = frozenset()
    phone_hashes: frozenset[str] = frozenset()
    first_name_hashes: frozenset[str] = frozenset()
    last_name_hashes: frozenset[str] = frozenset()
    # Email/phone hashes that other people's records hold too: the subject's only with a first name.
    shared_hashes: frozenset[str] = frozenset()

    @classmethod
    def from_identifiers(
        cls,
        key: bytes,
        emails: Iterable[str | None] = (),
        phones: Iterable[str | None] = (),
        first_names: Iterable[str | None] = (),
        last_names: Iterable[str | None] = (),
    ) -> "SubjectFingerprint":
        def hashes(values: Iterable[str | None]) -> frozenset[str]:
            return frozenset(keyed_hash(v, key) for v in values if v)

        return cls(
            email_hashes=hashes(normalise_email(e) for e in emails),
            phone_hashes=hashes(phone_key(p) for p in phones),
            first_name_hashes=hashes(t for n in first_names for t in name_tokens(n)),
            last_name_hashes=hashes(t for n in last_names for t in name_tokens(n)),
        )

    def merged(self, other: "SubjectFingerprint") -> "SubjectFingerprint":
        return SubjectFingerprint(
            self.email_hashes | other.email_hashes,
            self.phone_hashes | other.phone_hashes,
            self.first_name_hashes | other.first_name_hashes,
            self.last_name_hashes | other.last_name_hashes,
            self.shared_hashes | other.shared_hashes,
        )

    def with_shared(self, shared: Iterable[str]) -> "SubjectFingerprint":
        identifiers = self.email_hashes | self.phone_hashes
        return SubjectFingerprint(self.email_hashes, self.phone_hashes, self.first_name_hashes,
                                  self.last_name_hashes, frozenset(shared) & identifiers)

    def pair_hashes(self, identifier_hashes: Iterable[str], key: bytes) -> set[str]:
        """Keyed hashes of every (identifier, subject first-name token) pair (see :func:`pair_hash`)."""
        return {pair_hash(i, f, key) for i in identifier_hashes for f in self.first_name_hashes}

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "email_hashes": sorted(self.email_hashes),
            "phone_hashes": sorted(self.phone_hashes),
            "first_name_hashes": sorted(self.first_name_hashes),
            "last_name_hashes": sorted(self.last_name_hashes),
            "shared_hashes": sorted(self.shared_hashes),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "SubjectFingerprint":
        return cls(*(frozenset(data.get(k, ())) for k in ("email_hashes", "phone_hashes", "first_name_hashes", "last_name_hashes", "shared_hashes")))

    def is_empty(self) -> bool:
        return not (self.email_hashes or self.phone_hashes)


@dataclass
class SubjectMatcher:
    """Tells whether a group of texts (one row, one JSON action, one line) mentions the subject.

    Returns the kinds found (``email``, ``phone``, ``name``), never the values. A shared
    identifier (see module docs) is found only with a first-name token of the subject in the group.
    """

    fingerprint: SubjectFingerprint
    key: bytes
    _memo: dict[str, str] = field(default_factory=dict)

    def _hash(self, token: str) -> str:
        digest = self._memo.get(token)
        if digest is None:
            if len(self._memo) > 200_000:
                self._memo.clear()
            digest = self._memo[token] = keyed_hash(token, self.key)
        return digest

    def kinds(self, texts: Iterable[str]) -> set[str]:
        found: set[str] = set()
        shared_found: set[str] = set()
        first = last = False
        fp = self.fingerprint
        for text in texts:
            if not text:
                continue
            emails, phones, words = text_tokens(text)
            for kind, tokens, wanted in (("email", emails, fp.email_hashes), ("phone", phones, fp.phone_hashes)):
                if not wanted:
                    continue
                for token in tokens:
                    digest = self._hash(token)
                    if digest in wanted:
                        (shared_found if digest in fp.shared_hashes else found).add(kind)
            if fp.first_name_hashes or fp.last_name_hashes:
                hashed = {self._hash(w) for w in words}
                first = first or bool(hashed & fp.first_name_hashes)
                last = last or bool(hashed & fp.last_name_hashes)
        if first:
            found |= shared_found
        if first and last:
            found.add("name")
        return found
