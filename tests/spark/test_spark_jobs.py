"""The spark_jobs entry points run a job in a fresh process, as spark-submit would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scv.config import PROJECT_ROOT
from scv.jobs import JOBS
from scv.jobs.entrypoint import parse_args


def test_every_job_has_an_entry_point():
    files = {p.stem for p in (PROJECT_ROOT / "spark_jobs").glob("*.py")}
    assert set(JOBS) <= files


def test_arguments_are_parsed_into_job_kwargs():
    kwargs = parse_args("bronze_ingest", ["--logical-date", "2026-11-22", "--arg", "source=crm"])
    assert kwargs == {"logical_date": "2026-11-22", "run_id": "manual", "source": "crm"}
    with pytest.raises(SystemExit):
        parse_args("bronze_ingest", ["--logical-date", "2026-11-22", "--arg", "source"])


def test_bronze_entry_point_ingests_in_its_own_process(tmp_path, spark):
    landing = tmp_path / "landing" / "crm"
    landing.mkdir(parents=True)
    header = "contactid,firstname,lastname,companyname,emailaddress1,mobilephone,telephone1,birthdate,address1_line1,address1_city,address1_postalcode,address1_country,donotemail,modifiedon"
    (landing / "crm_contacts_20261122.csv").write_text(header + "\nC1,Ann,Lee,,a@x.com,,,,,,,,0,2026-01-01T00:00:00Z\n")
    env = {**os.environ, "SCV_LANDING_ROOT": str(tmp_path / "landing"), "SCV_LAKEHOUSE_ROOT": str(tmp_path / "lake"),
           "SCV_ARTIFACTS_DIR": str(tmp_path / "artifacts"), "SCV_SPARK_MASTER": "local[1]", "SCV_DRIVER_MEMORY": "1g"}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "spark_jobs" / "bronze_ingest.py"), "--logical-date", "2026-11-22", "--arg", "source=crm"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["rows_read"], summary["rows_bronze"], summary["rows_quarantined"]) == (1, 1, 0)
    assert spark.read.format("delta").load(str(tmp_path / "lake" / "bronze" / "crm")).count() == 1
