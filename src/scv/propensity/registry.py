"""Where propensity models are tracked and registered (MLflow), and how champions are found.

The tracking store is chosen per deployment, in one place (:func:`tracking_uri`):

* ``MLFLOW_TRACKING_URI`` when set (an MLflow server, or ``databricks``; ``MLFLOW_REGISTRY_URI``
  likewise for the registry, e.g. ``databricks-uc`` with a ``catalog.schema.`` model name prefix);
* otherwise a local SQLite store ``<SCV_ARTIFACTS_DIR>/mlflow/mlflow.db`` with artifacts under
  ``<SCV_ARTIFACTS_DIR>/mlflow/artifacts`` (SQLite because the registry, with aliases, needs a
  database-backed store).

Aliases: ``champion`` is the version scoring uses; ``challenger`` the latest version that did not
beat it; ``previous_champion`` the version a promotion replaced (for a quick rollback:
``set_registered_model_alias(name, "champion", <that version>)``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scv.config import Settings

CHAMPION, CHALLENGER, PREVIOUS_CHAMPION = "champion", "challenger", "previous_champion"
_ENV_TRACKING, _ENV_REGISTRY = "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"


class MissingChampionError(LookupError):
    """A product group has no registered model version with the ``champion`` alias."""


class ModelIncompatibleError(ValueError):
    """A registered model cannot score the current feature table (e.g. a group was removed)."""


def local_store_dir(settings: Settings) -> str:
    return os.path.join(settings.artifacts_dir, "mlflow")


def tracking_uri(settings: Settings, env: dict[str, str] | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the local SQLite store under the artifacts dir."""
    env = os.environ if env is None else env
    if env.get(_ENV_TRACKING):
        return env[_ENV_TRACKING]
    if "://" in settings.artifacts_dir:
        raise RuntimeError(
            f"SCV_ARTIFACTS_DIR {settings.artifacts_dir!r} is not a local path: set MLFLOW_TRACKING_URI to an "
            "MLflow tracking server (or 'databricks') for the propensity models"
        )
    return f"sqlite:///{os.path.join(local_store_dir(settings), 'mlflow.db')}"


def registry_uri(settings: Settings, env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get(_ENV_REGISTRY) or tracking_uri(settings, env)


def _is_local(uri: str) -> bool:
    return uri.startswith("sqlite:///")


@contextmanager
def mlflow_tracking(settings: Settings) -> Iterator["MlflowClient"]:  # noqa: F821
    """Point MLflow's process-wide tracking and registry URIs at this deployment's store.

    Yields a client for the same store. The previous URIs (and the environment variables MLflow
    mirrors them into) are restored on exit, so tests and in-process tasks with different
    settings do not leak into each other. Not re-entrant across threads (MLflow's fluent API is
    process-global).
    """
    import mlflow
    from mlflow import MlflowClient

    # Resolve from the environment before MLflow mirrors our own choice into it.
    uri, registry = tracking_uri(settings), registry_uri(settings)
    saved = {name: os.environ.get(name) for name in (_ENV_TRACKING, _ENV_REGISTRY)}
    if _is_local(uri):
        Path(local_store_dir(settings)).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry)
    try:
        yield MlflowClient(tracking_uri=uri, registry_uri=registry)
    finally:
        mlflow.set_tracking_uri(saved[_ENV_TRACKING])
        mlflow.set_registry_uri(saved[_ENV_REGISTRY])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def ensure_experiment(client, settings: Settings, name: str) -> str:
    """The id of experiment ``name``, created (with local artifacts for a local store) if absent."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if _is_local(tracking_uri(settings)):
        location = Path(local_store_dir(settings), "artifacts").resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:
        # Another group's task created it first.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def _is_missing(error: Exception) -> bool:
    # A missing model is RESOURCE_DOES_NOT_EXIST; a missing alias is INVALID_PARAMETER_VALUE
    # "Registered model alias ... not found" (SQL store) or NOT_FOUND (REST/Unity Catalog).
    code = getattr(error, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or (code == "INVALID_PARAMETER_VALUE" and "not found" in str(error).lower())


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str | None
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def version_by_alias(client, name: str, alias: str) -> RegisteredVersion | None:
    """The version of ``name`` carrying ``alias``, or None if the model or alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if _is_missing(error):
            return None
        raise
    return RegisteredVersion(name=mv.name, version=str(mv.version), run_id=mv.run_id, tags=dict(mv.tags or {}))


def require_champion(client, name: str, group: str) -> RegisteredVersion:
    """The champion version of ``group``'s model; :class:`MissingChampionError` if there is none."""
    champion = version_by_alias(client, name, CHAMPION)
    if champion is None:
        raise MissingChampionError(
            f"product group {group!r} has no champion model: registered model {name!r} has no "
            f"'@{CHAMPION}' alias in the MLflow model registry. Run the scv_propensity_retrain DAG "
            f"(a first version is promoted automatically) or set the alias on a reviewed version "
            f"(MlflowClient().set_registered_model_alias({name!r}, {CHAMPION!r}, <version>))."
        )
    return champion


def load_spark_model(version: RegisteredVersion, settings: Settings):
    """The fitted Spark ``PipelineModel`` of a registered version (pinned by number, not alias,
    so that a promotion racing with the caller cannot switch models half-way)."""
    import mlflow.spark

    return mlflow.spark.load_model(version.uri, dfs_tmpdir=dfs_tmpdir(settings))


def dfs_tmpdir(settings: Settings) -> str | None:
    """Where Spark writes models on their way to and from the artifact store.

    ``MLFLOW_DFS_TMP`` if set (a DFS path on a cluster); else, for a local master, a folder under
    the artifacts dir (rather than MLflow's shared ``/tmp/mlflow``).
    """
    if os.environ.get("MLFLOW_DFS_TMP"):
        return os.environ["MLFLOW_DFS_TMP"]
    if settings.spark_master.startswith("local") and "://" not in settings.artifacts_dir:
        return os.path.join(local_store_dir(settings), "dfs-tmp")
    return None
