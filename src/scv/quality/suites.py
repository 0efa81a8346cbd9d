"""Expectation suites as version-controlled files (``include/expectations/<suite>.json|yml``).

A suite file is a Great Expectations 1.x suite (``name``, ``expectations`` with ``type``,
``kwargs``, ``meta``) plus a few conventions read here:

- every expectation has ``meta.severity``: ``critical`` (fails the gate) or ``warning`` (reported
  and alerted, the run goes on), and ``meta.name``, unique in the suite (the name used in the
  ops table, alerts and trend queries; derived from type and column when absent);
- ``${name}`` inside string arguments (SQL of ``unexpected_rows_expectation``) is replaced by a
  run parameter before the suite is built; ``{"$PARAMETER": "name"}`` as a whole argument value
  is left to Great Expectations' own suite parameters. Both read the same parameter values:
  ``meta.parameters`` in the file (defaults), values computed at run time (``lakehouse_root``,
  ``today``, the volume band) and the caller's overrides, in that order;
- ``meta.volume`` (``window``, ``tolerance``, ``min_history``) configures the volume band that
  fills ``volume_min``/``volume_max`` from the history of earlier runs;
- ``meta.pii_columns`` (column -> email|phone|name|date|text|public) and
  ``meta.unmasked_columns`` classify columns for masking failing samples.

Loading validates all of this and fails with a :class:`SuiteError` naming the file and the
expectation; nothing is silently dropped (Great Expectations' own suite constructor logs and
skips invalid expectations, which would turn a typo into a gate that checks less).
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scv.quality.outcome import SEVERITIES, Severity

if TYPE_CHECKING:
    import great_expectations as gx

SUITE_SUFFIXES = (".json", ".yml", ".yaml")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
VOLUME_PARAMETERS = ("volume_min", "volume_max")


class SuiteError(ValueError):
    """A suite file is missing, unreadable or breaks the conventions of this module."""

    def __init__(self, file: str, problem: str):
        super().__init__(f"expectation suite {file}: {problem}")
        self.file = file
        self.problem = problem


@dataclass(frozen=True)
class VolumeSpec:
    """How the row-count band is derived from earlier runs of the same table and suite.

    The band is ``median * (1 -/+ tolerance)`` of the last ``window`` runs; with fewer than
    ``min_history`` earlier runs it is only "not empty" (``volume_min = 1``).
    """

    window: int = 14
    tolerance: float = 0.5
    min_history: int = 3


@dataclass(frozen=True)
class ExpectationSpec:
    name: str
    type: str
    kwargs: dict[str, Any]
    severity: Severity
    meta: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    notes: str | list[str] | None = None

    @property
    def column(self) -> str | None:
        column = self.kwargs.get("column")
        return column if isinstance(column, str) else None

    def referenced_parameters(self) -> set[str]:
        """Names used as ``${name}`` or ``{"$PARAMETER": name}`` in the arguments."""
        found: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, str):
                found.update(_PLACEHOLDER.findall(value))
            elif isinstance(value, Mapping):
                if set(value) == {"$PARAMETER"} and isinstance(value["$PARAMETER"], str):
                    found.add(value["$PARAMETER"])
                else:
                    for item in value.values():
                        walk(item)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    walk(item)

        walk(self.kwargs)
        return found


@dataclass(frozen=True)
class SuiteSpec:
    """A parsed suite file. Immutable; ``to_gx_suite`` builds a fresh GX suite per run."""

    name: str
    path: str
    expectations: tuple[ExpectationSpec, ...]
    table: str | None = None
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    volume: VolumeSpec = field(default_factory=VolumeSpec)
    pii_columns: dict[str, str] = field(default_factory=dict)
    unmasked_columns: frozenset[str] = frozenset()

    @property
    def volume_expectation(self) -> ExpectationSpec | None:
        """The expectation that uses the volume band parameters, if the suite has one."""
        for spec in self.expectations:
            if spec.referenced_parameters() & set(VOLUME_PARAMETERS):
                return spec
        return None

    def referenced_parameters(self) -> set[str]:
        names: set[str] = set()
        for spec in self.expectations:
            names |= spec.referenced_parameters()
        return names

    def table_for(self, parameters: Mapping[str, Any]) -> str | None:
        """``meta.table`` with its ``${name}`` placeholders filled (a generic suite names its
        table ``bronze/${source}``); None when the suite names no table or a value is missing."""
        if self.table is None:
            return None
        if not set(_PLACEHOLDER.findall(self.table)) <= set(parameters):
            return None
        return _substitute(self.table, parameters)

    def resolved_expectations(self, parameters: Mapping[str, Any]) -> list[ExpectationSpec]:
        """The expectations with ``${name}`` placeholders replaced by ``parameters``.

        Raises :class:`SuiteError` naming every parameter the suite needs but was not given.
        """
        missing = sorted(self.referenced_parameters() - set(parameters))
        if missing:
            raise SuiteError(self.path, f"no value for parameter(s) {missing}; set them in meta.parameters "
                             "or pass them when validating")
        return [
            ExpectationSpec(
                name=spec.name,
                type=spec.type,
                kwargs=_substitute(copy.deepcopy(spec.kwargs), parameters),
                severity=spec.severity,
                meta=spec.meta,
                description=spec.description,
                notes=spec.notes,
            )
            for spec in self.expectations
        ]

    def to_gx_suite(self, parameters: Mapping[str, Any]) -> "gx.ExpectationSuite":
        """A Great Expectations suite for one run; severity and name are kept in ``meta``.

        Every expectation is built explicitly so that an invalid one raises (naming it) instead
        of being skipped.
        """
        import great_expectations as gx
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        expectations = []
        for spec in self.resolved_expectations(parameters):
            try:
                config = ExpectationConfiguration(
                    type=spec.type,
                    kwargs=spec.kwargs,
                    meta={**spec.meta, "name": spec.name, "severity": spec.severity},
                    notes=spec.notes,
                    description=spec.description,
                    severity=spec.severity,
                )
                expectations.append(config.to_domain_obj())
            except Exception as error:  # GX raises several unrelated types for a bad config
                raise SuiteError(self.path, f"expectation {spec.name!r} ({spec.type}) is invalid: {error}") from error
        return gx.ExpectationSuite(name=self.name, expectations=expectations, meta={"table": self.table})


def _substitute(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: str(parameters[m.group(1)]), value)
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return value  # Great Expectations resolves these from the run's parameters
        return {key: _substitute(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, parameters) for item in value]
    return value


def suite_file(suite: str, expectations_dir: str) -> Path:
    """The file of ``suite``: a path to a suite file, or a name under ``expectations_dir``."""
    candidate = Path(suite)
    if candidate.suffix in SUITE_SUFFIXES and candidate.exists():
        return candidate
    for suffix in SUITE_SUFFIXES:
        path = Path(expectations_dir) / f"{suite}{suffix}"
        if path.exists():
            return path
    raise SuiteError(
        os.path.join(expectations_dir, f"{suite}.json"),
        f"not found (looked for {suite}{{{','.join(SUITE_SUFFIXES)}}} in {expectations_dir})",
    )


def load_suite(suite: str, expectations_dir: str) -> SuiteSpec:
    """Read and check the suite ``suite`` (a name under ``expectations_dir`` or a file path)."""
    path = suite_file(suite, expectations_dir)
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except Exception as error:
        raise SuiteError(str(path), f"cannot be parsed: {error}") from error
    return parse_suite(raw, str(path))


def parse_suite(raw: Any, file: str) -> SuiteSpec:
    """Check a suite document and turn it into a :class:`SuiteSpec`."""
    if not isinstance(raw, dict):
        raise SuiteError(file, "must be a mapping with 'name' and 'expectations'")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise SuiteError(file, "'name' must be a non-empty string")
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise SuiteError(file, "'meta' must be a mapping")
    items = raw.get("expectations")
    if not isinstance(items, list) or not items:
        raise SuiteError(file, "'expectations' must be a non-empty list")

    expectations: list[ExpectationSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"expectations[{index}]"
        if not isinstance(item, dict):
            raise SuiteError(file, f"{where} must be a mapping")
        etype = item.get("type") or item.get("expectation_type")
        if not isinstance(etype, str) or not etype:
            raise SuiteError(file, f"{where} has no 'type'")
        kwargs = item.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise SuiteError(file, f"{where} ({etype}): 'kwargs' must be a mapping")
        emeta = dict(item.get("meta") or {})
        severity = emeta.get("severity")
        if severity not in SEVERITIES:
            raise SuiteError(file, f"{where} ({etype}): meta.severity must be one of {list(SEVERITIES)}, got {severity!r}")
        ename = emeta.get("name") or (f"{etype}:{kwargs['column']}" if isinstance(kwargs.get("column"), str) else etype)
        if ename in seen:
            raise SuiteError(file, f"{where}: expectation name {ename!r} is used twice; set a unique meta.name")
        seen.add(ename)
        emeta["name"] = ename
        expectations.append(
            ExpectationSpec(
                name=ename,
                type=etype,
                kwargs=kwargs,
                severity=severity,
                meta=emeta,
                description=item.get("description"),
                notes=item.get("notes"),
            )
        )

    volume_raw = meta.get("volume") or {}
    try:
        volume = VolumeSpec(**volume_raw)
    except TypeError as error:
        raise SuiteError(file, f"meta.volume: {error}") from error
    if volume.window < 1 or volume.min_history < 1 or not 0 <= volume.tolerance < 10:
        raise SuiteError(file, f"meta.volume is out of range: {volume}")

    pii_columns = meta.get("pii_columns") or {}
    unmasked = meta.get("unmasked_columns") or []
    if not isinstance(pii_columns, dict) or not isinstance(unmasked, list):
        raise SuiteError(file, "meta.pii_columns must be a mapping and meta.unmasked_columns a list")
    from scv.quality.masking import KINDS

    bad = {column: kind for column, kind in pii_columns.items() if kind not in KINDS}
    if bad:
        raise SuiteError(file, f"meta.pii_columns has unknown kinds {bad}; use {sorted(KINDS)}")

    parameters = meta.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise SuiteError(file, "meta.parameters must be a mapping")

    return SuiteSpec(
        name=name,
        path=file,
        expectations=tuple(expectations),
        table=meta.get("table"),
        description=meta.get("description"),
        parameters=dict(parameters),
        volume=volume,
        pii_columns=dict(pii_columns),
        unmasked_columns=frozenset(unmasked),
    )
