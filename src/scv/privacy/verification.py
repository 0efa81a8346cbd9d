"""Prove an erasure by reading the files themselves, not the tables' current view of them.

Every file under the given roots is decoded: Parquet data files and Delta checkpoints row by row
(plus each row group's min/max statistics in the footer), Delta log JSON and ``.crc`` files
action by action (including the per-file statistics embedded as JSON text), and any other file
(landing CSV/JSON lines, Data Docs HTML, profiles, Splink dashboards) line by line. Each row,
action or line is checked with :class:`~scv.privacy.subject.SubjectMatcher`, which compares keyed
hashes of normalised tokens, so the subject's identifiers are never needed in clear here.

Findings name the file, the kind of match (``email``, ``phone``, ``name``) and where in the file
(row group / line number), never the matching value.

Files are read through the local filesystem: lakehouse and landing roots must be local paths
(the embedded deployment); for object stores the same functions would need an fsspec filesystem.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import pyarrow.parquet as pq

from scv.privacy.subject import SubjectMatcher

MAX_FINDINGS = 200


@dataclass(frozen=True)
class Finding:
    path: str
    kinds: tuple[str, ...]
    location: str

    def as_dict(self) -> dict:
        return asdict(self)


def _string_leaves(value: object) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
        # Delta's per-file statistics are JSON documents inside a JSON string.
        if value[:1] in "{[" and len(value) > 1:
            try:
                yield from _string_leaves(json.loads(value))
            except ValueError:
                pass
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and ("@" in k or any(c.isdigit() for c in k)):
                yield k  # map keys can hold values too (e.g. partition values)
            yield from _string_leaves(v)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _string_leaves(item)
    elif isinstance(value, bytes):
        yield value.decode("utf-8", errors="ignore")
    else:
        yield str(value)


def _scan_parquet(path: str, matcher: SubjectMatcher) -> Iterator[Finding]:
    parquet = pq.ParquetFile(path)
    metadata = parquet.metadata
    for group_index in range(metadata.num_row_groups):
        group = metadata.row_group(group_index)
        for column_index in range(group.num_columns):
            stats = group.column(column_index).statistics
            if stats is not None and stats.has_min_max:
                kinds = matcher.kinds(_string_leaves([stats.min, stats.max]))
                if kinds:
                    yield Finding(path, tuple(sorted(kinds)), f"row group {group_index} column statistics")
        table = parquet.read_row_group(group_index)
        for row_index, row in enumerate(table.to_pylist()):
            kinds = matcher.kinds(_string_leaves(row))
            if kinds:
                yield Finding(path, tuple(sorted(kinds)), f"row group {group_index} row {row_index}")


def _scan_lines(path: str, matcher: SubjectMatcher) -> Iterator[Finding]:
    is_json_log = path.endswith((".json", ".crc")) and f"{os.sep}_delta_log{os.sep}" in path
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="ignore")
            texts: Iterable[str] = [line]
            if is_json_log:
                try:
                    texts = [line, *_string_leaves(json.loads(line))]
                except ValueError:
                    pass
            kinds = matcher.kinds(texts)
            if kinds:
                yield Finding(path, tuple(sorted(kinds)), f"line {number}")


def scan_file(path: str, matcher: SubjectMatcher) -> list[Finding]:
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return list(_scan_parquet(path, matcher))
    return list(_scan_lines(path, matcher))


def scan_roots(roots: Iterable[str], matcher: SubjectMatcher) -> tuple[int, list[Finding]]:
    """Decode every file under ``roots``; returns (files scanned, findings)."""
    scanned, findings = 0, []
    for root in roots:
        if not root or not os.path.exists(root):
            continue
        for folder, _dirs, files in os.walk(root):
            for name in sorted(files):
                path = os.path.join(folder, name)
                scanned += 1
                findings.extend(scan_file(path, matcher))
                if len(findings) >= MAX_FINDINGS:
                    return scanned, findings
    return scanned, findings
