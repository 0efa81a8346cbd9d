"""Golden-record definitions: survivorship rules per attribute, read from YAML (pure Python).

A definition is one file in ``include/survivorship/`` and produces two gold tables from the same
clusters: an analytics-facing table (``table``, no raw personal data) and a restricted one
(``pii_table``) with the personal values, both keyed by ``customer_id``. Several definitions can
coexist (e.g. a marketing view and a service view with different rules). No Spark here, so DAGs
can list the definitions at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

RULES = ("precedence", "most_recent", "most_complete", "most_frequent")
GOLDEN_ATTRIBUTES = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "city",
    "postcode",
    "country",
    "email_opt_in",
)
# Attributes that identify a person: only ever in the restricted ``pii_table``.
PERSONAL_ATTRIBUTES = ("first_name", "last_name", "email", "phone", "date_of_birth", "address_line1", "city", "postcode")
# The definition whose golden source record marks ``customer_xref.is_golden_source``.
PRIMARY_TABLE = "customer_golden"


class SurvivorshipError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    rule: str
    tie_breakers: tuple[str, ...] = ()

    def chain(self) -> tuple[str, ...]:
        return (self.rule, *[t for t in self.tie_breakers if t != self.rule])


@dataclass(frozen=True)
class Group:
    members: tuple[str, ...]
    rule: Rule


@dataclass(frozen=True)
class SurvivorshipPolicy:
    name: str
    default: Rule
    attributes: dict[str, Rule] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    table: str = ""
    pii_table: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        # Frozen dataclass: fill the table names derived from the definition's name.
        if not self.table:
            object.__setattr__(self, "table", self.name)
        if not self.pii_table:
            object.__setattr__(self, "pii_table", f"{self.table}_pii")

    def rule_for(self, attribute: str) -> Rule:
        return self.attributes.get(attribute, self.default)

    def grouped(self) -> dict[str, str]:
        return {member: name for name, group in self.groups.items() for member in group.members}


def _rule(raw: dict, where: str) -> Rule:
    if not isinstance(raw, dict) or "rule" not in raw:
        raise SurvivorshipError(f"{where}: needs a 'rule' (one of {', '.join(RULES)})")
    names = (raw["rule"], *(raw.get("tie_breakers") or ()))
    for name in names:
        if name not in RULES:
            raise SurvivorshipError(f"{where}: unknown rule {name!r} (known: {', '.join(RULES)})")
    return Rule(raw["rule"], tuple(raw.get("tie_breakers") or ()))


def _table_name(value, where: str) -> str:
    text = str(value or "")
    if text and not text.replace("_", "").isalnum():
        raise SurvivorshipError(f"{where}: table names are letters, digits and underscores, not {text!r}")
    return text


def load_policy(path: str | Path) -> SurvivorshipPolicy:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    where = str(path)
    default = _rule(raw.get("default") or {"rule": "precedence", "tie_breakers": ["most_recent"]}, f"{where}: default")
    attributes = {a: _rule(r, f"{where}: attributes.{a}") for a, r in (raw.get("attributes") or {}).items()}
    groups = {}
    for name, spec in (raw.get("groups") or {}).items():
        members = tuple(spec.get("members") or ())
        if not members:
            raise SurvivorshipError(f"{where}: groups.{name}: needs members")
        groups[name] = Group(members, _rule(spec, f"{where}: groups.{name}"))
    for attribute in [*attributes, *[m for g in groups.values() for m in g.members]]:
        if attribute not in GOLDEN_ATTRIBUTES:
            raise SurvivorshipError(f"{where}: {attribute!r} is not a golden attribute ({', '.join(GOLDEN_ATTRIBUTES)})")
    name = _table_name(raw.get("name") or Path(path).stem, f"{where}: name")
    policy = SurvivorshipPolicy(
        name,
        default,
        attributes,
        groups,
        table=_table_name(raw.get("table"), f"{where}: table"),
        pii_table=_table_name(raw.get("pii_table"), f"{where}: pii_table"),
        description=str(raw.get("description") or "").strip(),
    )
    if policy.pii_table == policy.table:
        raise SurvivorshipError(f"{where}: pii_table must differ from table")
    return policy


def load_definitions(directory: str | Path) -> list[SurvivorshipPolicy]:
    """Every definition in ``directory`` (``*.yml``), the primary (``customer_golden``) first.

    Raises :class:`SurvivorshipError` when two definitions write the same table.
    """
    policies = [load_policy(p) for p in sorted(Path(directory).glob("*.yml"))]
    if not policies:
        raise SurvivorshipError(f"{directory}: no survivorship definitions (*.yml)")
    tables = [t for p in policies for t in (p.table, p.pii_table)]
    clashes = sorted({t for t in tables if tables.count(t) > 1})
    if clashes:
        raise SurvivorshipError(f"{directory}: several definitions write {', '.join(clashes)}")
    return sorted(policies, key=lambda p: (p.table != PRIMARY_TABLE, p.table))
