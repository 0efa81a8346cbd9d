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
