"""Throughput benchmark: standardise N synthetic canonical records end to end.

    python -m scv.standardise.benchmark --rows 250000 [--master local[2]]

The synthetic records are generated natively in Spark from small pools (names repeat, as they
do in real data; phones, emails and dates of birth are mostly unique, which is the expensive
case for the phone UDF), written to Parquet once, and the timed step is reading them back,
standardising and writing to Spark's ``noop`` sink. Prints one JSON line with the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from scv.standardise import standardise_person_records
from scv.standardise.pipeline import CANONICAL_COLUMNS

_FIRST = (
    "James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia Jennifer "
    "Linda Elizabeth Barbara Susan Jessica Sarah Karen Bill Will Billy Bob Peggy Meg Maggie Liz "
    "Kate Jim Mike Tom Steve Chris José Zoë Jürgen Søren Renée François Siobhán Oliver Amelia "
    "Isla Ava Noah Leo Priya Aisha Mohammed Wei Hannah Lukas Léa Chloé Ana Ciarán"
).split()
# Surnames are built from three parts, about 6,000 distinct, so the name memo sees misses too.
_LAST_HEADS = (
    "Smith Jones Will Brown Tay Mül Schmidt O'Bri Mac Fitz Van der Ber Dub Mart Gar Kow Nguy Pat"
).split()
_LAST_MIDS = "a e i o u ar er or ing el an".split() + ["", "", "", "", "", "", "", "", ""]
_LAST_TAILS = "son ler er ston ford ley ams ien ley sen ez ski ova man ton ing well ".split(" ")
_STREETS = (
    "High Street|Station Road|Church Lane|Main St.|Hauptstraße|Rue de la Paix|Park Avenue|Mill Close"
).split("|")
_CITIES = "London|Manchester|Dublin|München|Berlin|Paris|New York|Cork|Leeds|Saint Albans".split("|")
_COUNTRIES = (
    "UK|United Kingdom|GB|England|Deutschland|DE|Germany|France|FR|USA|US|Éire|Ireland|IE|"
).split("|")
_DOMAINS = "gmail.com|googlemail.com|outlook.com|example.org|yahoo.co.uk|web.de|icloud.com".split("|")


def _pick(values: list[str] | tuple[str, ...], seed: Column) -> Column:
    array = F.array(*[F.lit(v) for v in values])
    return F.element_at(array, (F.abs(seed) % len(values) + 1).cast("int"))


def synthetic_records(spark: SparkSession, rows: int, partitions: int = 8) -> DataFrame:
    """``rows`` canonical person records with realistic variety, placeholders and junk."""
    h = lambda salt: F.xxhash64(F.col("id"), F.lit(salt))  # noqa: E731 - a tiny local helper
    base = spark.range(0, rows, numPartitions=partitions)
    first = _pick(_FIRST, h("first"))
    last = F.concat(
        _pick(_LAST_HEADS, h("head")), _pick(_LAST_MIDS, h("mid")), _pick(_LAST_TAILS, h("tail"))
    )
    source = _pick(["crm", "webshop", "loyalty"], h("source"))
    junk = F.abs(h("junk")) % 100 < 3
    digits = F.lpad((F.abs(h("phone")) % 1_000_000_000).cast("string"), 9, "0")
    phone_style = F.abs(h("style")) % 4
    phone = (
        F.when(junk, _pick(["000-000", "n/a", "0123456789", ""], h("pj")))
        .when(
            phone_style == 0,
            F.concat(F.lit("07"), F.substring(digits, 1, 3), F.lit(" "), F.substring(digits, 4, 6)),
        )
        .when(phone_style == 1, F.concat(F.lit("+44 7"), digits))
        .when(phone_style == 2, F.concat(F.lit("+49 30 "), F.substring(digits, 1, 8)))
        .otherwise(F.concat(F.lit("(212) 555-"), F.substring(digits, 1, 4)))
    )
    dob_date = F.date_add(F.lit("1940-01-01").cast("date"), (F.abs(h("dob")) % 24000).cast("int"))
    dob_style = F.abs(h("dobstyle")) % 4
    dob = (
        F.when(junk, F.lit("n/a"))
        .when(dob_style == 0, F.date_format(dob_date, "yyyy-MM-dd"))
        .when(dob_style == 1, F.date_format(dob_date, "dd/MM/yyyy"))
        .when(dob_style == 2, F.date_format(dob_date, "dd.MM.yyyy"))
        .otherwise(F.date_format(dob_date, "d MMM yyyy"))
    )
    email = F.when(junk, F.lit("noemail@example.com")).otherwise(
        F.concat(
            F.lower(first), F.lit("."), F.lower(F.regexp_replace(last, "[^A-Za-z]", "")),
            (F.abs(h("mail")) % 1000).cast("string"), F.lit("@"), _pick(_DOMAINS, h("domain")),
        )
    )
    postcode = F.concat(
        _pick(["SW", "M", "LS", "EC", "B"], h("pc1")), (F.abs(h("pc2")) % 20 + 1).cast("string"),
        F.lit(" "), (F.abs(h("pc3")) % 10).cast("string"), _pick(["AB", "XY", "ZZ", "QT"], h("pc4")),
    )
    records = base.select(
        F.concat(source, F.lit(":"), F.col("id").cast("string")).alias("record_id"),
        source.alias("source_system"),
        F.col("id").cast("string").alias("source_record_id"),
        F.when(source != "webshop", F.when(junk, F.lit("Walk-in")).otherwise(first)).alias(
            "first_name"
        ),
        F.when(source != "webshop", F.when(junk, F.lit("Guest")).otherwise(last)).alias("last_name"),
        F.when(source == "webshop", F.concat(last, F.lit(", "), first)).alias("full_name"),
        F.when(F.abs(h("co")) % 100 < 2, F.lit("Acme Ltd")).alias("company_name"),
        email.alias("email"),
        phone.alias("phone"),
        dob.alias("date_of_birth"),
        F.concat(
            (F.abs(h("no")) % 200 + 1).cast("string"), F.lit(" "), _pick(_STREETS, h("street"))
        ).alias("address_line1"),
        _pick(_CITIES, h("city")).alias("city"),
        postcode.alias("postcode"),
        _pick(_COUNTRIES, h("country")).alias("country"),
        (F.abs(h("opt")) % 2 == 0).alias("email_opt_in"),
        F.current_timestamp().alias("updated_at"),
        (F.abs(h("prec")) % 3 + 1).cast("int").alias("precedence"),
        F.lit("GB").alias("default_country"),
    )
    return records.select(*CANONICAL_COLUMNS)


def _cpu_seconds() -> float:
    """CPU time used so far by this process and its descendants (the driver JVM, Python workers),
    which, unlike wall time, does not depend on what else the machine is running."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            t = process.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def run(spark: SparkSession, rows: int, workdir: str) -> dict:
    """Generate, persist and time the standardisation of ``rows`` records."""
    path = os.path.join(workdir, "canonical.parquet")
    started = time.perf_counter()
    synthetic_records(spark, rows).write.mode("overwrite").parquet(path)
    generated = time.perf_counter() - started

    canonical = spark.read.parquet(path)
    started = time.perf_counter()
    canonical.write.format("noop").mode("overwrite").save()
    read_only = time.perf_counter() - started

    cpu_before, started = _cpu_seconds(), time.perf_counter()
    standardise_person_records(canonical).write.format("noop").mode("overwrite").save()
    elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before
    return {
        "rows": rows,
        "master": spark.sparkContext.master,
        "generate_seconds": round(generated, 1),
        "read_only_seconds": round(read_only, 1),
        "standardise_seconds": round(elapsed, 1),
        "rows_per_second": round(rows / elapsed),
        "cpu_seconds": round(cpu, 1),
        "cores": spark.sparkContext.defaultParallelism,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors need this venv's Python

    from scv.config import Settings
    from scv.spark import build_spark_session

    with tempfile.TemporaryDirectory(prefix="scv-bench-") as workdir:
        settings = Settings.from_env().with_overrides(
            spark_master=args.master, shuffle_partitions=4, artifacts_dir=workdir
        )
        spark = build_spark_session(settings, app_name="scv-standardise-benchmark")
        try:
            print(json.dumps(run(spark, args.rows, workdir)))
        finally:
            spark.stop()


if __name__ == "__main__":
    main()
