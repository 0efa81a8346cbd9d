"""Command-line entry point shared by ``spark_jobs/*.py``, spark-submit and Databricks tasks.

    python spark_jobs/bronze_ingest.py --logical-date 2026-11-22 --run-id manual --arg source=crm

It only parses arguments, builds the Spark session from the environment's settings and calls
one job function; the JSON summary goes to stdout (last line) for the caller.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from scv.config import Settings
from scv.jobs import resolve


def parse_args(job: str, argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog=job, description=f"run the scv job {job}")
    parser.add_argument("--logical-date", required=True, help="YYYY-MM-DD")
    parser.add_argument("--run-id", default="manual")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="extra job argument")
    args = parser.parse_args(argv)
    kwargs = {"logical_date": args.logical_date, "run_id": args.run_id}
    for item in args.arg:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--arg expects KEY=VALUE, got {item!r}")
        kwargs[key.replace("-", "_")] = value
    return kwargs


def main(job: str, argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kwargs = parse_args(job, argv)
    from scv.spark import build_spark_session

    settings = Settings.from_env()
    spark = build_spark_session(settings, app_name=f"scv-{job}")
    summary = resolve(job)(spark, settings, **kwargs)
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
