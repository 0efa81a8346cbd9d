"""Column profiles of a table: how complete, how varied and what is in each column.

    from scv.quality.profiling import blocking_coverage, coverage_profile, profile_table

    profile = profile_table(spark, bronze_batch, masker=contract_masker(contract))
    coverage = blocking_coverage(coverage_profile(silver, ["postcode", "date_of_birth"]), ["postcode", "date_of_birth"])
    for warning in coverage.warnings: log.warning(warning)

A profile has one row per column (:data:`PROFILE_SCHEMA`):

- ``completeness``: share of rows whose value is present (not NULL, not blank, not an empty
  struct or list);
- ``distinct_count`` and ``distinct_share`` (cardinality: distinct present values / present
  values); exact up to ``exact_distinct_max_rows`` rows, else HyperLogLog (``distinct_is_approx``);
- ``top_values``: the ``top_n`` most frequent present values with their count and share of the
  present values (above ``exact_distinct_max_rows`` rows, counted on a sample of about that many
  rows, flagged by ``distinct_is_approx``);
- ``min_value``/``max_value`` (strings; lexicographic for string columns) and ``min_length``,
  ``max_length``, ``avg_length`` of the present values as text.

Guarantees
- No raw personal data in a profile: every value (top values, min, max) goes through
  :class:`~scv.quality.masking.Masker`, with the column classification given (a source's
  contract says which raw columns hold emails, phones, names, dates of birth and addresses, see
  :func:`contract_masker`), and any column not classified is tokenised (default deny). Counts,
  shares and lengths are kept as they are. ``masking`` records how each column was treated.
  Top values whose mask keeps little (``j***@***.com``) carry a keyed token (``#5c1e0a9b``,
  see :func:`~scv.quality.masking.token`) so that different values stay apart.
  Tokens are comparable across runs only when ``SCV_MASKING_KEY`` is set.
- Two passes over the data (two Spark actions) whatever the number of columns: one aggregation
  for counts, min/max and lengths, one grouping of (column, value) pairs for distinct counts
  and top values.
- Nested columns (structs, arrays, maps) are profiled as their JSON text.
- An empty frame gives one row per column with ``row_count`` 0 and NULL shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from scv.contracts import SourceContract, referenced_columns
from scv.quality.masking import DATE, EMAIL, NAME, PHONE, TEXT, Masker, token

DEFAULT_TOP_N = 5
EXACT_DISTINCT_MAX_ROWS = 1_000_000
# Lineage columns written by bronze ingestion: identical in every row of a batch, not data.
LINEAGE_COLUMNS = ("_source_file", "_line_number", "_ingested_at", "_run_id", "_logical_date", "_row_hash")

# Canonical person field -> kind of personal data in the raw columns its expression reads.
_FIELD_KINDS = {
    "first_name": NAME,
    "last_name": NAME,
    "full_name": NAME,
    "company_name": NAME,
    "email": EMAIL,
    "phone": PHONE,
    "date_of_birth": DATE,
    "address_line1": TEXT,
    "city": TEXT,
    "postcode": TEXT,
}


_TOP_VALUE = T.StructType(
    [
        T.StructField("value", T.StringType(), True),
        T.StructField("count", T.LongType(), True),
        T.StructField("share", T.DoubleType(), True),
    ]
)
PROFILE_SCHEMA = T.StructType(
    [
        T.StructField("column", T.StringType(), False),
        T.StructField("position", T.IntegerType(), False),
        T.StructField("data_type", T.StringType(), False),
        T.StructField("masking", T.StringType(), False),
        T.StructField("row_count", T.LongType(), False),
        T.StructField("null_count", T.LongType(), False),
        T.StructField("blank_count", T.LongType(), False),
        T.StructField("completeness", T.DoubleType(), True),
        T.StructField("distinct_count", T.LongType(), False),
        T.StructField("distinct_share", T.DoubleType(), True),
        T.StructField("distinct_is_approx", T.BooleanType(), False),
        T.StructField("top_values", T.ArrayType(_TOP_VALUE, True), False),
        T.StructField("min_value", T.StringType(), True),
        T.StructField("max_value", T.StringType(), True),
        T.StructField("min_length", T.IntegerType(), True),
        T.StructField("max_length", T.IntegerType(), True),
        T.StructField("avg_length", T.DoubleType(), True),
    ]
)


def contract_masker(contract: SourceContract, extra_public: Iterable[str] = LINEAGE_COLUMNS) -> Masker:
    """A masker for a source's raw columns, classified by what its contract maps them to.

    Columns read by a personal field's expression (``columns.email`` -> ``email`` kind, names,
    phones, dates of birth, addresses) are masked as that kind; columns read only by the primary
    key, ``updated_at``, event time, measures, attributes, ``country`` or ``email_opt_in`` are
    shown as they are; every other column is classified by name and else tokenised.
    """
    pii: dict[str, str] = {}
    for canonical, expression in contract.mapped_columns.items():
        kind = _FIELD_KINDS.get(canonical)
        if kind is None:
            continue
        for column in referenced_columns(expression, contract.file, f"columns.{canonical}"):
            # A column feeding two personal fields keeps the first (stricter fields come first).
            pii.setdefault(column, kind)
    public: set[str] = set(extra_public)
    for key, expression in contract.expressions().items():
        if key.startswith("columns.") and key.removeprefix("columns.") in _FIELD_KINDS:
            continue
        public |= referenced_columns(expression, contract.file, key)
    return Masker(pii, public - set(pii))


def _is_nested(data_type: T.DataType) -> bool:
    return isinstance(data_type, (T.StructType, T.ArrayType, T.MapType))


def _column(name: str) -> Column:
    return F.col(f"`{name.replace('`', '``')}`")


def _text(name: str, data_type: T.DataType) -> Column:
    """The column as text: JSON for nested types, the value's string form otherwise."""
    return F.to_json(_column(name)) if _is_nested(data_type) else _column(name).cast("string")


def _present(text: Column, data_type: T.DataType) -> Column:
    """The text when the value counts as present: not NULL, not blank, not an empty struct/list."""
    missing = F.trim(text) == ""
    if _is_nested(data_type):
        missing = missing | text.isin("{}", "[]")
    return F.when(~missing, text)


def _top_value(masker: Masker, value: str, column: str) -> str:
    """A masked top value; masks that keep little (emails, phones, dates) get a keyed token so
    that two different values with the same mask stay apart in the report."""
    kind = masker.kind(column)
    masked = masker.mask(value, column)
    if kind in (EMAIL, PHONE, DATE) and "#" not in str(masked):
        return f"{masked}#{token(value, kind)}"
    return str(masked)


def profile_table(
    spark: SparkSession,
    df: DataFrame,
    columns: Sequence[str] | None = None,
    top_n: int = DEFAULT_TOP_N,
    *,
    masker: Masker | None = None,
    exact_distinct_max_rows: int = EXACT_DISTINCT_MAX_ROWS,
) -> DataFrame:
    """One profile row per column of ``df`` (``columns``, default all), see the module docstring.

    ``masker`` classifies columns for masking values (default: by column name, unknown columns
    tokenised). Raises ``ValueError`` for a column ``df`` does not have or ``top_n < 0``.
    """
    if top_n < 0:
        raise ValueError("top_n must be >= 0")
    types = {f.name: f.dataType for f in df.schema.fields}
    columns = list(columns) if columns is not None else list(types)
    missing = [c for c in columns if c not in types]
    if missing:
        raise ValueError(f"cannot profile column(s) {missing}: not in the frame ({sorted(types)})")
    masker = masker or Masker()
    if not columns:
        return spark.createDataFrame([], PROFILE_SCHEMA)

    # Pass 1: counts, min/max, lengths and an approximate distinct count, every column at once.
    texts = {c: _text(c, types[c]) for c in columns}
    aggregates = [F.count(F.lit(1)).alias("rows")]
    for i, c in enumerate(columns):
        value = texts[c]
        present = _present(value, types[c])
        length = F.length(present)
        # Min/max on the native type (numbers numerically, dates in order), JSON for nested ones.
        comparable = F.when(present.isNotNull(), value if _is_nested(types[c]) else _column(c))
        aggregates += [
            F.count(value).alias(f"nn{i}"),
            F.count(present).alias(f"pr{i}"),
            F.approx_count_distinct(present).alias(f"ad{i}"),
            F.min(comparable).cast("string").alias(f"mn{i}"),
            F.max(comparable).cast("string").alias(f"mx{i}"),
            F.min(length).alias(f"ml{i}"),
            F.max(length).alias(f"xl{i}"),
            F.avg(length).alias(f"al{i}"),
        ]
    stats = df.agg(*aggregates).first()
    rows = int(stats["rows"])
    approximate = rows > exact_distinct_max_rows

    # Pass 2: (column, value) pairs of present values; exact distinct counts and top values.
    source = df
    if approximate:
        source = df.sample(fraction=min(1.0, exact_distinct_max_rows / rows), seed=17)
    pairs = _column_values(source, columns, types).where(F.col("v").isNotNull())
    counted = pairs.groupBy("i", "v").agg(F.count(F.lit(1)).alias("n"))
    per_column = Window.partitionBy("i")
    ranked = (
        counted.withColumn("distinct", F.count(F.lit(1)).over(per_column))
        .withColumn("present", F.sum("n").over(per_column))
        .withColumn("rank", F.row_number().over(per_column.orderBy(F.col("n").desc(), F.col("v"))))
        .where(F.col("rank") <= max(top_n, 1))
    )
    tops: dict[int, list[tuple[str, int, int, int]]] = {}  # value, count, present, rank
    exact_distinct: dict[int, int] = {}
    for r in ranked.collect():
        exact_distinct[r["i"]] = int(r["distinct"])
        if r["rank"] <= top_n:
            tops.setdefault(r["i"], []).append((r["v"], int(r["n"]), int(r["present"]), int(r["rank"])))

    out = []
    for i, c in enumerate(columns):
        kind = masker.kind(c)
        non_null, present = int(stats[f"nn{i}"]), int(stats[f"pr{i}"])
        distinct = int(stats[f"ad{i}"]) if approximate else exact_distinct.get(i, 0)
        if approximate:
            distinct = min(distinct, present)
        top = [
            (_top_value(masker, v, c), n, n / total if total else None)
            for v, n, total, _ in sorted(tops.get(i, []), key=lambda t: t[3])
        ]
        out.append(
            (
                c,
                i,
                types[c].simpleString(),
                kind,
                rows,
                rows - non_null,
                non_null - present,
                present / rows if rows else None,
                distinct,
                distinct / present if present else None,
                approximate,
                top,
                _masked(masker, stats[f"mn{i}"], c),
                _masked(masker, stats[f"mx{i}"], c),
                stats[f"ml{i}"],
                stats[f"xl{i}"],
                None if stats[f"al{i}"] is None else float(stats[f"al{i}"]),
            )
        )
    return spark.createDataFrame(out, PROFILE_SCHEMA)


def _column_values(df: DataFrame, columns: Sequence[str], types: Mapping[str, T.DataType]) -> DataFrame:
    """One row ``(i, v)`` per row and column: the column's position and its present text or NULL."""
    return df.select(
        F.explode(
            F.array(*[F.struct(F.lit(i).alias("i"), _present(_text(c, types[c]), types[c]).alias("v"))
                      for i, c in enumerate(columns)])
        ).alias("p")
    ).select("p.i", "p.v")


def coverage_profile(df: DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """What :func:`blocking_coverage` reads of a profile, for ``columns`` of ``df``, in one Spark
    job: ``column, row_count, completeness, distinct_count`` (exact), ``distinct_share`` and
    ``top_values`` holding the most frequent value's ``count`` and ``share`` only (no value: the
    result carries no data). Same figures as :func:`profile_table` up to
    ``exact_distinct_max_rows``, at about a third of its time (no min/max, lengths, HyperLogLog
    or ranking window). Raises ``ValueError`` for a column ``df`` does not have."""
    types = {f.name: f.dataType for f in df.schema.fields}
    missing = [c for c in columns if c not in types]
    if missing:
        raise ValueError(f"cannot profile column(s) {missing}: not in the frame ({sorted(types)})")
    if not columns:
        return []
    counted = _column_values(df, columns, types).groupBy("i", "v").agg(F.count(F.lit(1)).alias("n"))
    present_count = F.when(F.col("v").isNotNull(), F.col("n"))
    per_column = counted.groupBy("i").agg(
        F.sum("n").alias("rows"), F.sum(present_count).alias("present"),
        F.count("v").alias("distinct"), F.max(present_count).alias("top"),
    )
    found = {r["i"]: r for r in per_column.collect()}
    out = []
    for i, c in enumerate(columns):
        r = found.get(i)
        rows, present = (int(r["rows"]), int(r["present"] or 0)) if r else (0, 0)
        distinct, top = (int(r["distinct"]), r["top"]) if r else (0, None)
        out.append({
            "column": c,
            "row_count": rows,
            "completeness": present / rows if rows else None,
            "distinct_count": distinct,
            "distinct_share": distinct / present if present else None,
            "top_values": [{"count": int(top), "share": top / present}] if top else [],
        })
    return out


def _masked(masker: Masker, value: Any, column: str) -> str | None:
    if value is None:
        return None
    masked = masker.mask(value, column)
    return None if masked is None else str(masked)


# --- blocking coverage ---------------------------------------------------------------------

MIN_COMPLETENESS = 0.5
MIN_DISTINCT_SHARE = 0.01
MAX_TOP_VALUE_SHARE = 0.2


@dataclass(frozen=True)
class FieldCoverage:
    """How usable one field is for blocking: present often enough, varied enough."""

    field: str
    completeness: float | None
    distinct_share: float | None
    distinct_count: int | None
    top_value_share: float | None
    profiled: bool = True


@dataclass(frozen=True)
class BlockingCoverage:
    """Per-field coverage and the warnings for fields under the thresholds (``ok`` if none)."""

    fields: dict[str, FieldCoverage]
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.warnings

    def as_dict(self) -> dict[str, Any]:
        return {
            "fields": {
                name: {"completeness": f.completeness, "distinct_share": f.distinct_share,
                       "distinct_count": f.distinct_count, "top_value_share": f.top_value_share}
                for name, f in self.fields.items()
            },
            "warnings": list(self.warnings),
        }


def blocking_coverage(
    profile: DataFrame | Iterable[Mapping[str, Any]],
    fields: Sequence[str],
    *,
    min_completeness: float = MIN_COMPLETENESS,
    min_distinct_share: float = MIN_DISTINCT_SHARE,
    max_top_value_share: float = MAX_TOP_VALUE_SHARE,
) -> BlockingCoverage:
    """Check that the blocking ``fields`` have coverage and cardinality in a ``profile``.

    ``profile`` is a :func:`profile_table` result (or its rows) with one row per column. A field
    gets a warning when it is not in the profile, when fewer than ``min_completeness`` of the
    records have it (pairs blocked on it are never compared), when its distinct share is under
    ``min_distinct_share`` or its most frequent value covers more than ``max_top_value_share``
    of the records that have it (blocks on it approach comparing everything with everything).
    Raises ``ValueError`` when the profile has several rows for one field (filter it to one
    table, source and date first).
    """
    rows = profile.collect() if hasattr(profile, "collect") else list(profile)
    by_column: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        data = row.asDict(recursive=True) if hasattr(row, "asDict") else dict(row)
        if data["column"] in fields:
            if data["column"] in by_column:
                raise ValueError(f"the profile has several rows for {data['column']!r}: filter it to one table")
            by_column[data["column"]] = data

    coverage: dict[str, FieldCoverage] = {}
    warnings: list[str] = []
    for name in fields:
        data = by_column.get(name)
        if data is None:
            coverage[name] = FieldCoverage(name, None, None, None, None, profiled=False)
            warnings.append(f"blocking field {name!r} is not in the profile (no such column?)")
            continue
        top = data.get("top_values") or []
        top_share = top[0]["share"] if top else None
        item = FieldCoverage(name, data["completeness"], data["distinct_share"], data["distinct_count"], top_share)
        coverage[name] = item
        if item.completeness is None:
            warnings.append(f"blocking field {name!r} has no rows to profile")
            continue
        if item.completeness < min_completeness:
            warnings.append(
                f"blocking field {name!r} is present in {item.completeness:.1%} of records "
                f"(< {min_completeness:.0%}): records without it are never compared on it"
            )
        if item.distinct_share is not None and item.distinct_share < min_distinct_share:
            warnings.append(
                f"blocking field {name!r} has {item.distinct_count} distinct values "
                f"({item.distinct_share:.2%} of present values, < {min_distinct_share:.0%}): blocks are too large"
            )
        if top_share is not None and top_share > max_top_value_share:
            warnings.append(
                f"blocking field {name!r}: its most frequent value covers {top_share:.1%} of present values "
                f"(> {max_top_value_share:.0%}): a block on it alone compares that share of the records pairwise"
            )
    return BlockingCoverage(coverage, warnings)


def _md(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def profile_markdown(profile_rows: Iterable[Mapping[str, Any]], *, title: str, notes: Sequence[str] = ()) -> str:
    """A readable Markdown report of a profile (values already masked in the profile)."""
    rows = sorted((dict(r) for r in profile_rows), key=lambda r: r["position"])
    total = rows[0]["row_count"] if rows else 0
    lines = [f"# {title}", "", f"{total} rows, {len(rows)} columns.", ""]
    lines += [f"- {note}" for note in notes]
    if notes:
        lines.append("")
    lines += [
        "| column | type | masking | complete | distinct | distinct share | min | max | length min/avg/max | top values |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for r in rows:
        approx = "~" if r["distinct_is_approx"] else ""
        lengths = "" if r["min_length"] is None else f"{r['min_length']}/{r['avg_length']:.1f}/{r['max_length']}"
        top = ", ".join(f"{t['value']} ({t['count']})" for t in r["top_values"] or [])
        lines.append(
            "| " + " | ".join(
                _md(x) for x in (
                    r["column"], r["data_type"], r["masking"], _pct(r["completeness"]),
                    f"{approx}{r['distinct_count']}", _pct(r["distinct_share"]), r["min_value"], r["max_value"],
                    lengths, top,
                )
            ) + " |"
        )
    lines += ["", "Values of personal columns are masked; `masking` says how each column was treated "
              "(`public`: shown as is)."]
    return "\n".join(lines) + "\n"
