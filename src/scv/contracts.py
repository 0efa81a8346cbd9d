"""Source contracts: one YAML file per source system describes how to read and map it.

A data engineer onboards a source by adding ``<SCV_SOURCES_DIR>/<name>.yml``; no Python changes.
Contracts are validated without Spark (expressions are parsed with sqlglot's Spark dialect), so
the DAG can validate them at parse time cheaply. A broken contract raises :class:`ContractError`
naming the file and the key; loading all contracts collects the errors per file so that one
broken contract does not hide the others.

Every key is documented in ``docs/source-contracts.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

FORMATS = ("csv", "jsonl", "parquet", "delta")
KINDS = ("person", "event")
PERSON_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "company_name",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "city",
    "postcode",
    "country",
    "email_opt_in",
)
IDENTIFYING_FIELDS = ("first_name", "last_name", "full_name", "email", "phone", "date_of_birth")
SUPPORTED_ENCODINGS = ("utf-8", "utf8", "ascii", "us-ascii")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_KNOWN_KEYS = {
    "name",
    "description",
    "format",
    "path",
    "options",
    "primary_key",
    "updated_at",
    "precedence",
    "kind",
    "default_country",
    "raw_columns",
    "required_columns",
    "columns",
    "person_ref",
    "event_time",
    "measures",
    "attributes",
    "file_date_pattern",
    "owner",
}


class ContractError(ValueError):
    """A source contract is invalid; the message names the file and the offending key."""

    def __init__(self, file: str, key: str, problem: str):
        self.file, self.key, self.problem = file, key, problem
        super().__init__(f"source contract {file}: key '{key}': {problem}")


@dataclass(frozen=True)
class PersonRef:
    """How an event source points at a person's record in a person source."""

    source: str
    key: str


@dataclass(frozen=True)
class SourceContract:
    name: str
    file: str
    format: str
    path: str
    primary_key: str
    kind: str = "person"
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    updated_at: str | None = None
    precedence: int = 100
    default_country: str | None = None
    raw_columns: tuple[str, ...] = ()
    required_columns: tuple[str, ...] = ()
    columns: dict[str, str | None] = field(default_factory=dict)
    person_ref: PersonRef | None = None
    event_time: str | None = None
    measures: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    file_date_pattern: str = r"(\d{8})"
    owner: str | None = None

    @property
    def delimiter(self) -> str:
        return str(self.options.get("delimiter", ","))

    @property
    def has_header(self) -> bool:
        return bool(self.options.get("header", True))

    @property
    def mapped_columns(self) -> dict[str, str]:
        """Canonical field -> Spark SQL expression, for the fields this source provides."""
        return {k: v for k, v in self.columns.items() if v not in (None, "")}

    def expressions(self) -> dict[str, str]:
        """Every Spark SQL expression of the contract, keyed by its YAML key path."""
        found: dict[str, str] = {"primary_key": self.primary_key}
        if self.updated_at:
            found["updated_at"] = self.updated_at
        if self.event_time:
            found["event_time"] = self.event_time
        for group, mapping in (
            ("columns", self.mapped_columns),
            ("measures", self.measures),
            ("attributes", self.attributes),
        ):
            for key, expression in mapping.items():
                found[f"{group}.{key}"] = expression
        if self.person_ref:
            found["person_ref.key"] = self.person_ref.key
        return found

    def referenced_columns(self) -> set[str]:
        """Top-level raw columns that any expression of the contract reads."""
        columns: set[str] = set()
        for key, expression in self.expressions().items():
            columns |= referenced_columns(expression, self.file, key)
        return columns

    def effective_required_columns(self) -> tuple[str, ...]:
        """Columns a delivered file must have; without them the file is quarantined whole."""
        if self.required_columns:
            return self.required_columns
        needed = referenced_columns(self.primary_key, self.file, "primary_key")
        return tuple(sorted(needed))


def referenced_columns(expression: str, file: str, key: str) -> set[str]:
    """Top-level column names a Spark SQL expression reads (``address.line1`` reads ``address``)."""
    try:
        tree = sqlglot.parse_one(str(expression), read="spark")
    except sqlglot.errors.ParseError as error:
        first_line = str(error).splitlines()[0]
        raise ContractError(file, key, f"not a valid Spark SQL expression ({expression!r}): {first_line}") from None
    names = set()
    for column in tree.find_all(exp.Column):
        names.add(column.table if column.table else column.name)
    return names


def _require(raw: dict, key: str, file: str) -> Any:
    if raw.get(key) in (None, ""):
        raise ContractError(file, key, "is required")
    return raw[key]


def parse_contract(raw: Any, file: str) -> SourceContract:
    """Validate one contract's parsed YAML and build it; raises ContractError on any problem."""
    if not isinstance(raw, dict):
        raise ContractError(file, "<root>", "must be a mapping of keys to values")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ContractError(file, unknown[0], f"unknown key (known keys: {', '.join(sorted(_KNOWN_KEYS))})")

    name = str(_require(raw, "name", file))
    if not _NAME_RE.match(name):
        raise ContractError(file, "name", f"{name!r} must be lower-case letters, digits and underscores")
    fmt = str(_require(raw, "format", file)).lower()
    if fmt not in FORMATS:
        raise ContractError(file, "format", f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    kind = str(raw.get("kind", "person")).lower()
    if kind not in KINDS:
        raise ContractError(file, "kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    path = str(_require(raw, "path", file))
    primary_key = str(_require(raw, "primary_key", file))
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise ContractError(file, "options", "must be a mapping")
    encoding = str(options.get("encoding", "utf-8")).lower()
    if encoding not in SUPPORTED_ENCODINGS:
        raise ContractError(file, "options.encoding", f"{encoding!r} is not supported (UTF-8 only)")
    try:
        precedence = int(raw.get("precedence", 100))
    except (TypeError, ValueError):
        raise ContractError(file, "precedence", "must be an integer (lower wins)") from None

    columns = raw.get("columns") or {}
    if not isinstance(columns, dict):
        raise ContractError(file, "columns", "must map canonical fields to expressions")
    person_ref = None
    if kind == "person":
        unknown_fields = sorted(set(columns) - set(PERSON_FIELDS))
        if unknown_fields:
            raise ContractError(
                file, f"columns.{unknown_fields[0]}", f"not a canonical person field ({', '.join(PERSON_FIELDS)})"
            )
        if not any(columns.get(f) for f in IDENTIFYING_FIELDS):
            raise ContractError(file, "columns", f"maps no identifying field (one of {', '.join(IDENTIFYING_FIELDS)})")
    else:
        ref = raw.get("person_ref")
        if not isinstance(ref, dict) or not ref.get("source") or not ref.get("key"):
            raise ContractError(file, "person_ref", "event sources need person_ref: {source: <person source>, key: <expr>}")
        person_ref = PersonRef(source=str(ref["source"]), key=str(ref["key"]))
        if not raw.get("event_time"):
            raise ContractError(file, "event_time", "event sources need an event_time expression")

    raw_columns = tuple(str(c) for c in (raw.get("raw_columns") or ()))
    required = tuple(str(c) for c in (raw.get("required_columns") or ()))
    contract = SourceContract(
        name=name,
        file=file,
        format=fmt,
        path=path,
        primary_key=primary_key,
        kind=kind,
        description=str(raw.get("description", "")),
        options=dict(options),
        updated_at=raw.get("updated_at"),
        precedence=precedence,
        default_country=raw.get("default_country"),
        raw_columns=raw_columns,
        required_columns=required,
        columns={str(k): (None if v is None else str(v)) for k, v in columns.items()},
        person_ref=person_ref,
        event_time=raw.get("event_time"),
        measures={str(k): str(v) for k, v in (raw.get("measures") or {}).items()},
        attributes={str(k): str(v) for k, v in (raw.get("attributes") or {}).items()},
        file_date_pattern=str(raw.get("file_date_pattern", r"(\d{8})")),
        owner=raw.get("owner"),
    )
    try:
        re.compile(contract.file_date_pattern)
    except re.error as error:
        raise ContractError(file, "file_date_pattern", f"not a valid regular expression: {error}") from None

    # Parsing every expression here catches syntax errors and, when the contract declares the
    # columns it expects, expressions that read a column the source does not deliver.
    for key, expression in contract.expressions().items():
        used = referenced_columns(expression, file, key)
        if raw_columns:
            missing = sorted(used - set(raw_columns))
            if missing:
                raise ContractError(file, key, f"refers to column(s) {', '.join(missing)} not in raw_columns")
    if raw_columns:
        missing_required = sorted(set(required) - set(raw_columns))
        if missing_required:
            raise ContractError(file, "required_columns", f"{', '.join(missing_required)} not in raw_columns")
    return contract


def load_contract(path: str | Path) -> SourceContract:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ContractError(str(path), "<yaml>", f"not valid YAML: {error}") from None
    contract = parse_contract(raw, str(path))
    if contract.name != path.stem:
        raise ContractError(str(path), "name", f"{contract.name!r} must equal the file name {path.stem!r}")
    return contract


@dataclass(frozen=True)
class ContractSet:
    """All contracts of a directory: the valid ones and the errors of the broken ones."""

    contracts: dict[str, SourceContract]
    errors: dict[str, ContractError]

    def persons(self) -> list[SourceContract]:
        return [c for c in self.contracts.values() if c.kind == "person"]

    def events(self) -> list[SourceContract]:
        return [c for c in self.contracts.values() if c.kind == "event"]

    def get(self, name: str) -> SourceContract:
        if name in self.errors:
            raise self.errors[name]
        if name not in self.contracts:
            raise KeyError(f"no source contract named {name!r}")
        return self.contracts[name]


def load_contracts(sources_dir: str | Path) -> ContractSet:
    """Load every ``*.yml``/``*.yaml`` in the directory (sorted, so task order is stable)."""
    directory = Path(sources_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"source contracts directory {directory} does not exist (SCV_SOURCES_DIR)")
    contracts: dict[str, SourceContract] = {}
    errors: dict[str, ContractError] = {}
    for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
        try:
            contract = load_contract(path)
        except ContractError as error:
            errors[path.stem] = error
            continue
        contracts[contract.name] = contract
    for contract in contracts.values():
        if contract.person_ref and contract.person_ref.source not in contracts:
            errors[contract.name] = ContractError(
                contract.file, "person_ref.source", f"no person source named {contract.person_ref.source!r}"
            )
    for name in errors:
        contracts.pop(name, None)
    return ContractSet(contracts=contracts, errors=errors)
