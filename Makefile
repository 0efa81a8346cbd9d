# scv: one-command set-up. `make demo` runs the daily DAG end to end; `make test` runs the tests.
# Everything is installed project-locally: .venv (Python 3.11), build/jars/lib (Delta jars),
# airflow_home (Airflow metadata in SQLite), landing/ and lakehouse/ (the embedded lakehouse).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ROOT := $(CURDIR)
DEMO_PEOPLE ?= 2000
DEMO_SEED ?= 42
DEMO_DATE ?= 2026-11-22
# Benchmark sizes (people; ~2.5 person records each) and the Spark driver's heap for them.
BENCH_PEOPLE ?= 10000,100000,1000000
BENCH_DRIVER_MEMORY ?= 8g

export AIRFLOW_HOME ?= $(ROOT)/airflow_home
export AIRFLOW__CORE__DAGS_FOLDER := $(ROOT)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(ROOT)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export AIRFLOW__LOGGING__LOGGING_LEVEL ?= INFO
export PYTHONPATH := $(ROOT)/plugins:$(ROOT)/dags:$(PYTHONPATH)
export SCV_LANDING_ROOT ?= $(ROOT)/landing
export SCV_LAKEHOUSE_ROOT ?= $(ROOT)/lakehouse
export SCV_SOURCES_DIR ?= $(ROOT)/include/sources
export SCV_ARTIFACTS_DIR ?= $(ROOT)/artifacts
# DEVELOPMENT-ONLY key for the keyed hashes (HMAC-SHA256) of emails and phones (scv.privacy):
# a fixed, public value so demos and tests work on a fresh machine. Deployments set the password
# of Airflow connection scv_pii_hmac from their secrets backend; never reuse this value.
export AIRFLOW_CONN_SCV_PII_HMAC ?= generic://:scv-development-only-hmac-key-not-secret@

.PHONY: setup venv jars demo test test-fast airflow-db airflow-ui generate clean lock evaluate bench

setup: $(VENV)/.installed build/jars/lib/.resolved

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

# Delta's jars, and hadoop-aws / hadoop-azure with their SDKs (s3a://, abfss://), from Maven
# Central into a project-local cache (Maven's own settings apply). Hadoop itself comes from pyspark.
JAR_GROUPS := io.delta,org.apache.hadoop,software.amazon.awssdk,software.amazon.s3.analyticsaccelerator,org.wildfly.openssl,com.microsoft.azure,org.hdrhistogram
build/jars/lib/.resolved: build/jars/pom.xml
	mvn -q -B -f build/jars/pom.xml dependency:copy-dependencies -DoutputDirectory=lib -DincludeGroupIds=$(JAR_GROUPS) \
		-DexcludeArtifactIds=hadoop-client-api,hadoop-client-runtime,hadoop-shaded-guava
	@touch $@

jars: build/jars/lib/.resolved

airflow-db: setup
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -50 $(AIRFLOW_HOME)/db-migrate.log; exit 1)

generate: setup
	rm -rf $(SCV_LANDING_ROOT)
	$(BIN)/scv generate --people $(DEMO_PEOPLE) --seed $(DEMO_SEED) --run-date $(DEMO_DATE)

demo: setup airflow-db generate
	rm -rf $(SCV_LAKEHOUSE_ROOT) $(SCV_ARTIFACTS_DIR)
	@start=$$(date +%s); \
	$(BIN)/airflow dags test scv_daily $(DEMO_DATE) > $(AIRFLOW_HOME)/demo-run.log 2>&1; rc=$$?; \
	end=$$(date +%s); \
	if [ $$rc -ne 0 ]; then grep -E "ERROR|Error|Exception|failed" $(AIRFLOW_HOME)/demo-run.log | tail -40; echo "scv_daily failed; full log: $(AIRFLOW_HOME)/demo-run.log"; exit $$rc; fi; \
	$(BIN)/scv summary --run-date $(DEMO_DATE) --wall-seconds $$((end-start))

# Linkage accuracy: generated data (EVALUATE_PEOPLE people each) and FEBRL3/FEBRL4, with Splink's
# own tutorial recipe on the same records for comparison (python -m scv.linkage.evaluate --help).
EVALUATE_PEOPLE ?= 2000
evaluate: setup
	$(BIN)/python -m scv.linkage.evaluate --people $(EVALUATE_PEOPLE) --seed $(DEMO_SEED)

# Two pytest-xdist workers (one per core), each test file on one worker (its module fixtures
# are built once); each worker has its own Spark session and its own copy of the Airflow DB.
TEST_WORKERS ?= 2
test: setup airflow-db
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=30

# Speed, memory and accuracy per size, against plain Splink on Spark and DuckDB; results, chart
# and README in docs/benchmarks/ (scv.bench). Scratch data under $(SCV_ARTIFACTS_DIR)/bench.
bench: setup
	$(BIN)/python -m scv.bench --people $(BENCH_PEOPLE) --driver-memory $(BENCH_DRIVER_MEMORY)

test-fast: setup
	$(BIN)/python -m pytest -q -m "unit or dags"

airflow-ui: airflow-db
	$(BIN)/airflow standalone

lock:
	$(BIN)/uv pip compile requirements.in --python-version 3.11 -o requirements.txt

clean:
	rm -rf $(SCV_LANDING_ROOT) $(SCV_LAKEHOUSE_ROOT) $(SCV_ARTIFACTS_DIR) $(AIRFLOW_HOME)
