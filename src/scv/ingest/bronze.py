"""Bronze ingestion: land one source's files for one logical date into its Delta table.

Guarantees
- Nothing is lost: every data line of every file read ends up either in ``bronze/<source>`` or in
  ``quarantine/rows`` (with file, line number, raw text and a reason code), or is counted as
  suppressed (a row of a person erased on request, :mod:`scv.privacy.suppression`). The counts are
  checked per file (rows read = bronze + quarantined + suppressed) and recorded in
  ``ops/ingest_files``; a mismatch fails the run.
- Idempotent: the run for a logical date replaces exactly what an earlier run of that date wrote
  (``replaceWhere`` on ``_logical_date``), so reruns and backfills leave identical content.
- Incremental: a run takes the files delivered for its logical date (the date in the file name,
  else the file's modification date). A file whose content (SHA-256) was already ingested for
  another date is skipped as a duplicate and recorded as such.
- Raw columns are kept as delivered (CSV values and JSON primitives as strings, JSON objects as
  structs), so type changes in a source never break a run; new columns are added and reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import re
from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from scv import delta_io, storage
from scv.config import Settings
from scv.contracts import SourceContract

log = logging.getLogger(__name__)

LINEAGE_COLUMNS = ("_source_file", "_line_number", "_ingested_at", "_run_id", "_logical_date", "_row_hash")
CORRUPT = "_corrupt_record"
RAW = "_raw_text"  # the delivered line; a source may have its own "value" column
REPLACEMENT_CHAR = "\ufffd"

# Reason codes written to quarantine/rows.reason_code.
MALFORMED_CSV_ROW = "MALFORMED_CSV_ROW"
MALFORMED_JSON = "MALFORMED_JSON"
UNDECODABLE_BYTES = "UNDECODABLE_BYTES"
MISSING_REQUIRED_COLUMNS = "MISSING_REQUIRED_COLUMNS"

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("source_system", T.StringType(), False),
        T.StructField("source_file", T.StringType(), False),
        T.StructField("line_number", T.LongType(), True),
        T.StructField("raw_text", T.StringType(), True),
        T.StructField("reason_code", T.StringType(), False),
        T.StructField("reason_detail", T.StringType(), True),
        T.StructField("_run_id", T.StringType(), False),
        T.StructField("_logical_date", T.DateType(), False),
        T.StructField("_ingested_at", T.TimestampType(), False),
    ]
)
MANIFEST_SCHEMA = T.StructType(
    [
        T.StructField("source_system", T.StringType(), False),
        T.StructField("logical_date", T.DateType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("file_path", T.StringType(), False),
        T.StructField("file_size", T.LongType(), True),
        T.StructField("modification_time", T.TimestampType(), True),
        T.StructField("checksum", T.StringType(), True),
        T.StructField("delivery_date", T.DateType(), True),
        T.StructField("status", T.StringType(), False),
        T.StructField("detail", T.StringType(), True),
        T.StructField("rows_read", T.LongType(), False),
        T.StructField("rows_bronze", T.LongType(), False),
        T.StructField("rows_quarantined", T.LongType(), False),
        T.StructField("new_columns", T.ArrayType(T.StringType()), True),
        T.StructField("ingested_at", T.TimestampType(), False),
        T.StructField("rows_suppressed", T.LongType(), True),
    ]
)
# Only lineage columns get min/max statistics: raw columns hold personal data (issue 7).
BRONZE_PROPERTIES = delta_io.stats_columns_property(["_line_number", "_ingested_at"])
QUARANTINE_PROPERTIES = delta_io.stats_columns_property(["_logical_date", "line_number"])
MANIFEST_PROPERTIES = delta_io.stats_columns_property(["logical_date", "status", "ingested_at"])  # partitioned by source


class SourceFilesMissing(FileNotFoundError):
    """No file of a source could be found (or read) for a logical date."""


class IngestCountMismatch(RuntimeError):
    """Rows read did not equal rows in bronze plus rows quarantined: something would be lost."""


@dataclass
class FileReport:
    file_path: str
    status: str
    rows_read: int = 0
    rows_bronze: int = 0
    rows_quarantined: int = 0
    detail: str | None = None
    rows_suppressed: int = 0  # rows of erased people (privacy/suppression), dropped and counted


@dataclass
class IngestReport:
    source_system: str
    logical_date: str
    run_id: str
    files: list[FileReport] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_bronze(self) -> int:
        return sum(f.rows_bronze for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_suppressed(self) -> int:
        return sum(f.rows_suppressed for f in self.files)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.update(rows_read=self.rows_read, rows_bronze=self.rows_bronze, rows_quarantined=self.rows_quarantined,
                   rows_suppressed=self.rows_suppressed)
        return out


def bronze_path(settings: Settings, source: str) -> str:
    return settings.table_path("bronze", source)


def quarantine_path(settings: Settings) -> str:
    return settings.table_path("quarantine", "rows")


def manifest_path(settings: Settings) -> str:
    return settings.table_path("ops", "ingest_files")


def _delivery_date(path: str, modified: dt.datetime, pattern: str) -> dt.date:
    name = path.rsplit("/", 1)[-1]
    match = re.search(pattern, name)
    if match:
        try:
            return dt.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            pass
    return modified.date()


def discover_files(spark: SparkSession, settings: Settings, contract: SourceContract) -> list[dict]:
    """List the source's landing files (path, size, modification time, delivery date).

    Listing goes through ``scv.storage.list_files`` (boto3 for s3a:// landing roots, Hadoop's
    FileSystem glob for local paths and abfss://). Unlike Spark's file sources it keeps empty
    files: an empty delivery (a source with nothing new that day) is a delivery, not a missing
    file. Hidden files (``.``/``_``) are skipped, as Spark does. Content is not read here.
    """
    pattern = f"{settings.landing_root}/{contract.path}"
    try:
        listed = storage.list_files(spark, settings, pattern)
    except Exception as error:
        raise SourceFilesMissing(
            f"source '{contract.name}': cannot list {pattern}: {str(error).splitlines()[0]}"
        ) from error
    files = []
    for info in listed:
        if info.path.rsplit("/", 1)[-1].startswith((".", "_")):
            continue
        files.append(
            {
                "path": info.path,
                "size": info.size,
                "modified": info.modified,
                "delivery_date": _delivery_date(info.path, info.modified, contract.file_date_pattern),
            }
        )
    return sorted(files, key=lambda f: f["path"])


EMPTY_FILE_CHECKSUM = hashlib.sha256(b"").hexdigest()


def _checksums(spark: SparkSession, paths: list[str]) -> dict[str, str]:
    """SHA-256 of each file's bytes (Spark's binaryFile source skips empty files: they get the
    digest of no bytes)."""
    if not paths:
        return {}
    rows = (
        spark.read.format("binaryFile")
        .load(paths)
        .select("path", F.sha2("content", 256).alias("checksum"))
        .collect()
    )
    found = {r.path: r.checksum for r in rows}
    return {path: found.get(path, EMPTY_FILE_CHECKSUM) for path in paths}


def _numbered_lines(spark: SparkSession, paths: list[str], cached: list[DataFrame]) -> DataFrame:
    """Every line of the files with its 1-based line number within its file (persisted).

    Spark splits large files across tasks; a split's first row has the smallest
    monotonically_increasing_id of its (file, split start), so line numbers are exact.
    The frames persisted here are appended to ``cached``: the caller must unpersist them. A
    cached read of a file left behind would be used by Spark for any later read of the same path
    in the session (its plan is the same), so a corrected file ingested again for the same date
    would be read as it was the first time.
    """
    raw = spark.read.text(paths).select(
        F.col("value").alias(RAW),
        F.col("_metadata.file_path").alias("_source_file"),
        F.col("_metadata.file_block_start").alias("_block_start"),
        F.monotonically_increasing_id().alias("_mid"),
    )
    raw = raw.persist()
    cached.append(raw)
    blocks = raw.groupBy("_source_file", "_block_start").agg(F.min("_mid").alias("_first_mid"), F.count("*").alias("_n"))
    before = Window.partitionBy("_source_file").orderBy("_block_start").rowsBetween(Window.unboundedPreceding, -1)
    blocks = blocks.withColumn("_lines_before", F.coalesce(F.sum("_n").over(before), F.lit(0)))
    lines = (
        raw.join(F.broadcast(blocks), ["_source_file", "_block_start"])
        .withColumn("_line_number", F.col("_mid") - F.col("_first_mid") + F.col("_lines_before") + 1)
        .select(RAW, "_source_file", "_line_number")
        .persist()
    )
    cached.append(lines)
    return lines


def _parse_header(line: str, delimiter: str) -> list[str]:
    return [c.strip().lstrip("\ufeff") for c in next(csv.reader([line], delimiter=delimiter))]


def _quarantine_rows(lines: DataFrame, source: str, reason: F.Column, detail: F.Column) -> DataFrame:
    return lines.select(
        F.lit(source).alias("source_system"),
        F.col("_source_file").alias("source_file"),
        F.col("_line_number").cast("long").alias("line_number"),
        F.col(RAW).alias("raw_text"),
        reason.alias("reason_code"),
        detail.alias("reason_detail"),
    )


def _parse_csv(
    lines: DataFrame, contract: SourceContract, headers: dict[str, list[str]]
) -> tuple[list[DataFrame], list[DataFrame], dict[str, str]]:
    """Parse CSV data lines per header group; returns (parsed frames, quarantine frames, file problems)."""
    parsed, quarantined, problems = [], [], {}
    required = set(contract.effective_required_columns())
    data = lines.where(F.col("_line_number") > 1) if contract.has_header else lines
    data = data.where(F.trim(RAW) != "")  # blank lines (e.g. erased rows) are not rows
    groups: dict[tuple[str, ...], list[str]] = {}
    for path, columns in headers.items():
        groups.setdefault(tuple(columns), []).append(path)
    for columns, paths in groups.items():
        group = data.where(F.col("_source_file").isin(paths))
        missing = sorted(required - set(columns))
        if missing:
            detail = f"header lacks required column(s): {', '.join(missing)}"
            for path in paths:
                problems[path] = detail
            quarantined.append(_quarantine_rows(group, contract.name, F.lit(MISSING_REQUIRED_COLUMNS), F.lit(detail)))
            continue
        schema = T.StructType([T.StructField(c, T.StringType()) for c in columns] + [T.StructField(CORRUPT, T.StringType())])
        options = {"sep": contract.delimiter, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
        with_parsed = group.withColumn("_p", F.from_csv(RAW, schema.simpleString(), options))
        undecodable = F.col(RAW).contains(REPLACEMENT_CHAR)
        bad = undecodable | F.col(f"_p.{CORRUPT}").isNotNull()
        quarantined.append(
            _quarantine_rows(
                with_parsed.where(bad),
                contract.name,
                F.when(undecodable, F.lit(UNDECODABLE_BYTES)).otherwise(F.lit(MALFORMED_CSV_ROW)),
                F.when(undecodable, F.lit("line is not valid UTF-8")).otherwise(
                    F.concat(F.lit(f"expected {len(columns)} fields separated by '{contract.delimiter}', got "),
                             (F.size(F.split(RAW, re.escape(contract.delimiter))).cast("string")))
                ),
            )
        )
        parsed.append(
            with_parsed.where(~bad).select(
                *[F.col(f"_p.`{c}`").alias(c) for c in columns], RAW, "_source_file", "_line_number"
            )
        )
    return parsed, quarantined, problems


def _parse_jsonl(spark: SparkSession, lines: DataFrame, contract: SourceContract, paths: list[str]):
    """Parse JSON lines with a schema inferred over the batch (primitives as strings)."""
    inferred = spark.read.option("primitivesAsString", "true").json(paths).schema
    fields = [f for f in inferred.fields if f.name != CORRUPT]
    schema = T.StructType(fields + [T.StructField(CORRUPT, T.StringType())])
    problems: dict[str, str] = {}
    data = lines.where(F.trim(RAW) != "")
    missing = sorted(set(contract.effective_required_columns()) - {f.name for f in fields})
    if missing:
        detail = f"records lack required field(s): {', '.join(missing)}"
        for path in paths:
            problems[path] = detail
        return [], [_quarantine_rows(data, contract.name, F.lit(MISSING_REQUIRED_COLUMNS), F.lit(detail))], problems
    with_parsed = data.withColumn(
        "_p", F.from_json(RAW, schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})
    )
    undecodable = F.col(RAW).contains(REPLACEMENT_CHAR)
    bad = undecodable | F.col("_p").isNull() | F.col(f"_p.{CORRUPT}").isNotNull()
    quarantine = _quarantine_rows(
        with_parsed.where(bad),
        contract.name,
        F.when(undecodable, F.lit(UNDECODABLE_BYTES)).otherwise(F.lit(MALFORMED_JSON)),
        F.when(undecodable, F.lit("line is not valid UTF-8")).otherwise(F.lit("line is not a JSON object")),
    )
    parsed = with_parsed.where(~bad).select(
        *[F.col(f"_p.`{f.name}`").alias(f.name) for f in fields], RAW, "_source_file", "_line_number"
    )
    return [parsed], [quarantine], problems


def _union(frames: list[DataFrame]) -> DataFrame | None:
    result = None
    for frame in frames:
        result = frame if result is None else result.unionByName(frame, allowMissingColumns=True)
    return result


def _drop_suppressed(
    spark: SparkSession, settings: Settings, contract: SourceContract, bronze: DataFrame
) -> tuple[DataFrame, dict[str, int]]:
    """Drop rows of people on the erasure suppression list (issue 7); counts per file.

    The HMAC key is only needed (and resolved) once someone has been erased."""
    from scv.privacy import suppression

    hashes = suppression.load_hashes(spark, settings)
    if not hashes:
        return bronze, {}
    from scv.privacy.keyed_hash import resolve_hmac_key

    kept, dropped = suppression.drop_suppressed(bronze, contract, hashes, resolve_hmac_key())
    if dropped is None:
        return bronze, {}
    counts = {r._source_file: r.n for r in dropped.groupBy("_source_file").agg(F.count("*").alias("n")).collect()}
    if counts:
        log.info("source %s: dropped %d row(s) of erased people (suppression list)", contract.name, sum(counts.values()))
    return kept, counts


def ingest_source(
    spark: SparkSession,
    settings: Settings,
    contract: SourceContract,
    logical_date: dt.date,
    run_id: str,
) -> IngestReport:
    """Ingest the source's files delivered for ``logical_date`` into bronze. See module docs."""
    cached: list[DataFrame] = []
    try:
        return _ingest_source(spark, settings, contract, logical_date, run_id, cached)
    finally:
        for frame in cached:
            frame.unpersist()


def _ingest_source(
    spark: SparkSession,
    settings: Settings,
    contract: SourceContract,
    logical_date: dt.date,
    run_id: str,
    cached: list[DataFrame],
) -> IngestReport:
    if contract.format not in ("csv", "jsonl"):
        raise NotImplementedError(f"source '{contract.name}': bronze ingestion of format {contract.format!r}")
    report = IngestReport(contract.name, logical_date.isoformat(), run_id)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    date_sql = delta_io.sql_literal(logical_date.isoformat())
    pattern = f"{settings.landing_root}/{contract.path}"

    listed = [f for f in discover_files(spark, settings, contract) if f["delivery_date"] == logical_date]
    if not listed:
        raise SourceFilesMissing(
            f"source '{contract.name}': no file delivered for {logical_date.isoformat()} matches {pattern}"
        )
    checksums = _checksums(spark, [f["path"] for f in listed])
    seen_elsewhere: dict[str, str] = {}
    if delta_io.table_exists(spark, manifest_path(settings)):
        for row in (
            spark.read.format("delta").load(manifest_path(settings))
            .where(f"source_system = {delta_io.sql_literal(contract.name)} AND status = 'ingested' "
                   f"AND logical_date <> DATE {date_sql}")
            .select("checksum", "file_path", "logical_date").collect()
        ):
            seen_elsewhere[row.checksum] = f"{row.file_path} (logical date {row.logical_date})"

    to_read, manifest_rows = [], []
    for f in listed:
        f["checksum"] = checksums.get(f["path"])
        if f["size"] == 0:  # nothing delivered today: recorded, never a duplicate of another
            report.files.append(FileReport(f["path"], "ingested", detail="empty file"))
        elif f["checksum"] in seen_elsewhere:
            detail = f"same content as already ingested {seen_elsewhere[f['checksum']]}"
            report.files.append(FileReport(f["path"], "duplicate", detail=detail))
            log.info("source %s: skipping %s: %s", contract.name, f["path"], detail)
        else:
            to_read.append(f)

    parsed_frames, quarantine_frames, problems = [], [], {}
    lines = None
    if to_read:
        paths = [f["path"] for f in to_read]
        try:
            lines = _numbered_lines(spark, paths, cached)
            header_rows = lines.where("_line_number = 1").select("_source_file", RAW).collect()
        except Exception as error:
            raise SourceFilesMissing(
                f"source '{contract.name}': cannot read {', '.join(paths)}: {str(error).splitlines()[0]}"
            ) from error
        if contract.format == "csv":
            headers = {r._source_file: _parse_header(r[RAW], contract.delimiter) for r in header_rows}
            for path in paths:  # an empty file has no header line
                headers.setdefault(path, [])
            parsed_frames, quarantine_frames, problems = _parse_csv(lines, contract, headers)
        else:
            parsed_frames, quarantine_frames, problems = _parse_jsonl(spark, lines, contract, paths)

    lineage = [
        F.lit(now).cast("timestamp").alias("_ingested_at"),
        F.lit(run_id).alias("_run_id"),
        F.lit(logical_date).cast("date").alias("_logical_date"),
    ]
    bronze = _union(parsed_frames)
    if bronze is not None:
        bronze = bronze.withColumn("_row_hash", F.sha2(F.col(RAW), 256))
        bronze = bronze.drop(RAW).select("*", *lineage)
        bronze, suppressed_counts = _drop_suppressed(spark, settings, contract, bronze)
    else:
        suppressed_counts = {}
    quarantine = _union(quarantine_frames)
    if quarantine is not None:
        quarantine = quarantine.select(*[c.name for c in QUARANTINE_SCHEMA.fields if not c.name.startswith("_")], *lineage)
        quarantine = quarantine.select(*[F.col(f.name).cast(f.dataType) for f in QUARANTINE_SCHEMA.fields])

    target = bronze_path(settings, contract.name)
    existing_columns: set[str] = set()
    if delta_io.table_exists(spark, target):
        existing_columns = set(spark.read.format("delta").load(target).columns)
        if contract.raw_columns:
            existing_columns |= set(contract.raw_columns)
    elif contract.raw_columns:
        existing_columns = set(contract.raw_columns) | set(LINEAGE_COLUMNS)
    if bronze is not None:
        new_columns = sorted(set(bronze.columns) - existing_columns) if existing_columns else []
        report.new_columns = new_columns
        if new_columns:
            log.warning("source %s: schema drift, new column(s) kept: %s", contract.name, ", ".join(new_columns))
        delta_io.replace_where(
            bronze, target, f"_logical_date = DATE {date_sql}", ["_logical_date"], BRONZE_PROPERTIES, merge_schema=True
        )
    elif delta_io.table_exists(spark, target):
        # A rerun whose files all turned out to be duplicates must still clear that date.
        spark.sql(f"DELETE FROM delta.`{target}` WHERE _logical_date = DATE {date_sql}")

    q_predicate = f"source_system = {delta_io.sql_literal(contract.name)} AND _logical_date = DATE {date_sql}"
    q_target = quarantine_path(settings)
    if quarantine is None:
        quarantine = spark.createDataFrame([], QUARANTINE_SCHEMA)
    delta_io.replace_where(quarantine, q_target, q_predicate, ["source_system"], QUARANTINE_PROPERTIES)

    # Count what landed where, per file, from the tables themselves, and check nothing was lost.
    if lines is not None:
        header_offset = 1 if contract.format == "csv" and contract.has_header else 0
        read_counts = {
            r._source_file: r.n
            for r in lines.where((F.col("_line_number") > header_offset) & (F.trim(RAW) != ""))
            .groupBy("_source_file").agg(F.count("*").alias("n")).collect()
        }
        bronze_counts = {}
        if bronze is not None:
            bronze_counts = {
                r._source_file: r.n
                for r in spark.read.format("delta").load(target).where(f"_logical_date = DATE {date_sql}")
                .groupBy("_source_file").agg(F.count("*").alias("n")).collect()
            }
        q_rows = spark.read.format("delta").load(q_target).where(q_predicate)
        q_counts = {r.source_file: r.n for r in q_rows.groupBy("source_file").agg(F.count("*").alias("n")).collect()}
        report.quarantine_reasons = {
            r.reason_code: r.n for r in q_rows.groupBy("reason_code").agg(F.count("*").alias("n")).collect()
        }
        for f in to_read:
            path = f["path"]
            file_report = FileReport(
                path,
                "quarantined_file" if path in problems else "ingested",
                rows_read=read_counts.get(path, 0),
                rows_bronze=bronze_counts.get(path, 0),
                rows_quarantined=q_counts.get(path, 0),
                detail=problems.get(path),
                rows_suppressed=suppressed_counts.get(path, 0),
            )
            if file_report.rows_read != file_report.rows_bronze + file_report.rows_quarantined + file_report.rows_suppressed:
                raise IngestCountMismatch(
                    f"source '{contract.name}' file {path}: rows read {file_report.rows_read} != bronze "
                    f"{file_report.rows_bronze} + quarantined {file_report.rows_quarantined} + suppressed "
                    f"{file_report.rows_suppressed}"
                )
            report.files.append(file_report)

    by_path = {f["path"]: f for f in listed}
    for fr in report.files:
        f = by_path[fr.file_path]
        manifest_rows.append(
            (
                contract.name, logical_date, run_id, fr.file_path, f["size"], f["modified"], f["checksum"],
                f["delivery_date"], fr.status, fr.detail, fr.rows_read, fr.rows_bronze, fr.rows_quarantined,
                report.new_columns if fr.status == "ingested" else [], now, fr.rows_suppressed,
            )
        )
    manifest = spark.createDataFrame(manifest_rows, MANIFEST_SCHEMA)
    delta_io.replace_where(
        manifest,
        manifest_path(settings),
        f"source_system = {delta_io.sql_literal(contract.name)} AND logical_date = DATE {date_sql}",
        ["source_system"],
        properties=MANIFEST_PROPERTIES,
        merge_schema=True,  # manifests written before rows_suppressed existed gain the column
    )
    for fr in report.files:
        log.info(
            "source %s file %s: %s, read %d = bronze %d + quarantined %d + suppressed %d%s",
            contract.name, fr.file_path, fr.status, fr.rows_read, fr.rows_bronze, fr.rows_quarantined, fr.rows_suppressed,
            f" ({fr.detail})" if fr.detail else "",
        )
    return report
