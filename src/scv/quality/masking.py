"""Masking personal data in validation samples, logs, alerts and Data Docs.

Failing sample values are the most useful part of a data-quality report and the most dangerous:
they are, by construction, the rows somebody should look at, and in this project they are
emails, phones, names, dates of birth and addresses. Everything that leaves a validation
(the returned outcome, XCom, logs, alerts, the ops table, the HTML report) goes through this
module first.

Guarantees
- ``mask_value`` never returns its input string unchanged for a masked kind; what it keeps is
  chosen to help debugging without identifying anyone: the first character and top-level domain
  of an email (``j***@***.com``), the last two digits of a phone (``+*********34``), the year of
  a date of birth (``1985-**-**``), the first letter of a name plus a keyed hash token
  (``j***#5c1e0a9b``).
- Tokens are an HMAC-SHA256 of the value under a key, so equal values give equal tokens within
  one key (useful to see that 40 failures are one value), and a token cannot be reversed by
  hashing a dictionary of names without the key. The key comes from ``SCV_MASKING_KEY``; when
  it is unset a random key is drawn per process (tokens are then comparable only within a run).
- Numbers, booleans and ``None`` pass unchanged (they are counts and flags), except integers in
  phone columns.
- Columns are classified by an explicit mapping first (a suite's ``meta.pii_columns``), then by
  name, and anything unknown is treated as free text and tokenised: a column must be listed as
  unmasked to be shown as is (default deny).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

EMAIL = "email"
PHONE = "phone"
NAME = "name"
DATE = "date"
TEXT = "text"
PUBLIC = "public"
KINDS = frozenset({EMAIL, PHONE, NAME, DATE, TEXT, PUBLIC})

# Order matters: "email" before "name" so that e.g. ``email_name`` is an email.
_COLUMN_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"e_?mail"), EMAIL),
    (re.compile(r"phone|mobile|telephone|\btel\b|fax|msisdn"), PHONE),
    (re.compile(r"birth|\bdob\b|_dob$|^dob"), DATE),
    (re.compile(r"name|forename|surname|^title$|initials"), NAME),
    (re.compile(r"address|street|line_?\d|city|town|post_?code|postal|zip|house"), TEXT),
)

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+!#$&*/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE_RE = re.compile(r"(?<![\w.])\+?\d[\d ().-]{5,}\d(?![\w.])")
_ISO_DATE_RE = re.compile(r"\b(1[89]\d\d|20\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")
_DMY_DATE_RE = re.compile(r"\b(0?[1-9]|[12]\d|3[01])[/.](0?[1-9]|1[0-2])[/.](1[89]\d\d|20\d\d)\b")


def _default_key() -> bytes:
    configured = os.environ.get("SCV_MASKING_KEY")
    return configured.encode("utf-8") if configured else secrets.token_bytes(32)


_KEY = _default_key()


def token(value: str, kind: str = TEXT, key: bytes | None = None) -> str:
    """A short keyed hash of ``value`` (8 hex characters), stable for one key."""
    digest = hmac.new(key or _KEY, f"{kind}:{value}".encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:8]


def column_kind(
    column: str | None,
    pii_columns: Mapping[str, str] | None = None,
    unmasked_columns: Iterable[str] = (),
) -> str:
    """The kind of personal data a column holds (one of ``KINDS``).

    An explicit mapping wins, then ``unmasked_columns`` (``public``), then name rules; unknown
    columns are ``text`` (tokenised), so forgetting to classify a column fails safe.
    """
    if column is None:
        return TEXT
    if pii_columns and column in pii_columns:
        kind = pii_columns[column]
        if kind not in KINDS:
            raise ValueError(f"unknown masking kind {kind!r} for column {column!r}; use one of {sorted(KINDS)}")
        return kind
    if column in set(unmasked_columns):
        return PUBLIC
    lowered = column.lower()
    for pattern, kind in _COLUMN_RULES:
        if pattern.search(lowered):
            return kind
    return TEXT


def _mask_email(text: str) -> str:
    local, _, domain = text.partition("@")
    if not local or not domain:
        return f"***#{token(text, EMAIL)}"
    if "." not in domain:
        return f"{local[0]}***@***"
    tld = domain.rsplit(".", 1)[-1]
    return f"{local[0]}***@***.{tld if tld.isalnum() and len(tld) <= 10 else '***'}"


def _mask_phone(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    if len(digits) < 4:
        return "***"
    prefix = "+" if text.strip().startswith("+") else ""
    return prefix + "*" * (len(digits) - 2) + digits[-2:]


def _year_of(text: str) -> str | None:
    iso = _ISO_DATE_RE.search(text)
    if iso:
        return iso.group(1)
    dmy = _DMY_DATE_RE.search(text)
    if dmy:
        return dmy.group(3)
    return None


def mask_value(value: Any, kind: str) -> Any:
    """``value`` with the personal data of ``kind`` removed (see the module docstring)."""
    if value is None or kind == PUBLIC:
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if kind == PHONE and isinstance(value, int) and abs(value) >= 100_000:
            return _mask_phone(str(value))
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        value = value.isoformat()
    if isinstance(value, (list, tuple)):
        return [mask_value(item, kind) for item in value]
    if isinstance(value, dict):
        return {key: mask_value(item, kind) for key, item in value.items()}
    text = str(value)
    if text.strip() == "":
        return text  # blank is not personal and is often exactly what failed
    if kind == EMAIL:
        return _mask_email(text.strip())
    if kind == PHONE:
        return _mask_phone(text)
    if kind == DATE:
        year = _year_of(text)
        return f"{year}-**-**" if year else f"***#{token(text, DATE)}"
    if kind == NAME:
        first = text.strip()[0]
        return f"{first if first.isalpha() else '*'}***#{token(text, NAME)}"
    return f"***#{token(text, TEXT)}"


def scrub_text(text: str | None) -> str | None:
    """Free text (exception messages, column lists) with emails, phones and dates masked.

    Used where no column is known: it keeps the text readable and removes what looks personal.
    """
    if text is None:
        return None
    text = _EMAIL_RE.sub(lambda m: _mask_email(m.group(0)), text)
    text = _ISO_DATE_RE.sub(lambda m: f"{m.group(1)}-**-**", text)
    text = _DMY_DATE_RE.sub(lambda m: f"**/**/{m.group(3)}", text)
    return _PHONE_RE.sub(lambda m: _mask_phone(m.group(0)), text)


def scrub_any(value: Any) -> Any:
    """``scrub_text`` applied to every string inside lists and dicts."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, (list, tuple)):
        return [scrub_any(item) for item in value]
    if isinstance(value, dict):
        return {key: scrub_any(item) for key, item in value.items()}
    if isinstance(value, (dt.date, dt.datetime)):
        return scrub_text(value.isoformat())
    return value


class Masker:
    """Masks values by the column they come from, with one suite's classification."""

    def __init__(self, pii_columns: Mapping[str, str] | None = None, unmasked_columns: Iterable[str] = ()):
        self.pii_columns = dict(pii_columns or {})
        self.unmasked_columns = frozenset(unmasked_columns)
        for column, kind in self.pii_columns.items():
            if kind not in KINDS:
                raise ValueError(f"unknown masking kind {kind!r} for column {column!r}; use one of {sorted(KINDS)}")

    def kind(self, column: str | None) -> str:
        return column_kind(column, self.pii_columns, self.unmasked_columns)

    def mask(self, value: Any, column: str | None) -> Any:
        """Mask ``value`` as data of ``column``; with no column, scrub it as free text."""
        if column is None:
            return scrub_any(value)
        return mask_value(value, self.kind(column))

    def mask_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A result row (column -> value) with every field masked by its own column."""
        return {column: self.mask(value, column) for column, value in row.items()}
