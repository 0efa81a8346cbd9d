"""Object-store credentials from an Airflow connection (the Amazon provider's AWS connection).

``scv.config.S3Settings`` reads the standard AWS environment variables; deployments that keep
credentials in Airflow set ``SCV_AWS_CONN_ID`` to an AWS connection instead (login/password =
access key/secret, or a role to assume; extra ``endpoint_url`` for MinIO or another
S3-compatible server, ``region_name``, ``config_kwargs.s3.addressing_style``). The provider's
``AwsBaseHook`` resolves them (assuming roles, masking secrets in task logs); the result is
passed to ``scv`` as plain settings, so ``scv`` itself never imports Airflow.
"""

from __future__ import annotations

import os
from dataclasses import replace

from scv.config import S3Settings, Settings


def s3_settings_from_connection(aws_conn_id: str, base: S3Settings | None = None) -> S3Settings:
    """``base`` (default: from the environment) with the connection's endpoint, region and
    (frozen, possibly temporary) credentials."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    base = base or S3Settings.from_env(dict(os.environ))
    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="s3")
    wrapper = hook.conn_config
    endpoint = wrapper.get_service_endpoint_url("s3") or base.endpoint_url
    credentials = hook.get_credentials()
    addressing = ((wrapper.botocore_config.s3 or {}) if wrapper.botocore_config else {}).get("addressing_style")
    return replace(
        base,
        endpoint_url=endpoint,
        region=wrapper.region_name or base.region,
        path_style_access=addressing == "path" if addressing else (endpoint is not None or base.path_style_access),
        access_key_id=credentials.access_key,
        secret_access_key=credentials.secret_key,
        session_token=credentials.token,
    )


def settings_with_connection_credentials(settings: Settings, aws_conn_id: str | None = None) -> Settings:
    """``settings`` with S3 details from Airflow connection ``aws_conn_id`` (default
    ``SCV_AWS_CONN_ID``) when one is configured; unchanged otherwise."""
    aws_conn_id = aws_conn_id or os.environ.get("SCV_AWS_CONN_ID")
    if not aws_conn_id:
        return settings
    return settings.with_overrides(s3=s3_settings_from_connection(aws_conn_id, settings.s3))
