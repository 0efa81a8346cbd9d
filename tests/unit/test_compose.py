"""docker-compose.yml is checked structurally here: no Docker engine runs on the CI machine."""

from __future__ import annotations

import yaml

from scv.config import PROJECT_ROOT

AIRFLOW = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


def load():
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_stack_has_every_service():
    services = set(load()["services"])
    assert set(AIRFLOW) | {"postgres", "spark-master", "spark-worker", "minio", "minio-buckets", "mlflow", "mailpit"} <= services


def test_airflow_services_mount_existing_project_folders_and_use_postgres():
    services = load()["services"]
    for name in AIRFLOW:
        service = services[name]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"] if v.startswith("./")}
        for folder in ("dags", "plugins", "include", "spark_jobs"):
            host = mounts[f"/opt/airflow/{folder}"]
            assert (PROJECT_ROOT / host).is_dir(), f"{name}: {host} does not exist"
        assert service["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")


def test_every_named_volume_is_declared_and_depends_on_are_services():
    compose = load()
    declared = set(compose["volumes"])
    services = compose["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"
        depends = service.get("depends_on", {})
        for dependency in depends if isinstance(depends, (list, dict)) else []:
            assert dependency in services, f"{name} depends on unknown {dependency}"


SCHEMA = PROJECT_ROOT / "tests" / "fixtures" / "compose-spec" / "compose-spec.json"


def test_compose_file_is_valid_against_the_compose_specification_schema():
    import json

    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(load()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
    # The validator really checks: a misspelt key and a bad port are rejected.
    broken = load()
    broken["services"]["mailpit"]["portz"] = ["1025:1025"]
    broken["services"]["minio"]["depends_on"] = {"minio-buckets": {"condition": "sometime"}}
    assert len(list(validator.iter_errors(broken))) >= 2


def published_ports(compose) -> dict[str, str]:
    ports = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host, _, _container = str(port).rpartition(":")
            assert host, f"{name}: port {port} publishes no host port"
            assert host not in ports, f"host port {host} published by {ports.get(host)} and {name}"
            ports[host] = name
    return ports


def test_published_ports_are_unique_and_match_the_documented_urls():
    compose = load()
    ports = published_ports(compose)
    header = (PROJECT_ROOT / "docker-compose.yml").read_text().split("\n\n", 1)[0]
    for host_port, service in {"8080": "airflow-apiserver", "8081": "spark-master", "9001": "minio",
                               "5000": "mlflow", "8025": "mailpit", "7077": "spark-master", "9000": "minio"}.items():
        assert ports[host_port] == service
    for url_port in ("8080", "8081", "9001", "5000", "8025"):
        assert f"localhost:{url_port}" in header


def test_services_reach_each_other_on_declared_services_and_ports():
    compose = load()
    services = compose["services"]
    env = services["airflow-scheduler"]["environment"]
    assert env["SCV_SPARK_MASTER"] == "spark://spark-master:7077"
    assert env["AIRFLOW_CONN_SPARK_DEFAULT"] == "spark://spark-master:7077"
    assert "7077:7077" in services["spark-master"]["ports"]
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and "9000:9000" in services["minio"]["ports"]
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["SCV_COMPUTE_BACKEND"] in ("local", "spark", "databricks")
    assert env["SCV_SPARK_JOBS_DIR"] == "/opt/airflow/spark_jobs"
    # Buckets the roots point at are the ones minio-buckets creates.
    created = services["minio-buckets"]["entrypoint"]
    for root in (env["SCV_LANDING_ROOT"], env["SCV_LAKEHOUSE_ROOT"]):
        assert root.startswith("s3a://")
        assert f"local/{root[len('s3a://'):].split('/')[0]}" in created
    assert services["spark-worker"]["command"][-1] == env["SCV_SPARK_MASTER"]


def test_images_resolve_the_same_jars_as_make_jars():
    import re

    makefile = (PROJECT_ROOT / "Makefile").read_text()
    groups = re.search(r"^JAR_GROUPS := (\S+)$", makefile, re.M).group(1)
    excluded = re.search(r"-DexcludeArtifactIds=(\S+)", makefile).group(1)
    compose = load()
    builds = [compose["x-airflow-common"]["build"]["dockerfile_inline"], compose["x-spark-image"]["build"]["dockerfile_inline"]]
    for dockerfile in builds:
        assert f"-DincludeGroupIds={groups}" in dockerfile
        assert f"-DexcludeArtifactIds={excluded}" in dockerfile
    for name in ("spark-master", "spark-worker"):
        assert compose["services"][name]["image"] == "scv-spark:4.2.0"
    assert "/opt/spark/jars/" in builds[1]
