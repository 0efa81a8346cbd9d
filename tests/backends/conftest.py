"""Fixtures for the object-store and compute-backend tests: a real S3 protocol server (moto
server on loopback, a free port) shared by the module that asks for it, and settings whose roots
live there."""

from __future__ import annotations

import socket
import uuid

import pytest

from scv.config import S3Settings

LANDING_BUCKET = "scv-landing"
LAKEHOUSE_BUCKET = "scv-lakehouse"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3():
    """A moto S3 server on 127.0.0.1 with the landing and lakehouse buckets; stopped at the end."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    s3 = S3Settings(
        endpoint_url=f"http://127.0.0.1:{port}",
        region="us-east-1",
        path_style_access=True,
        access_key_id="scv-test-key",
        secret_access_key="scv-test-secret",
    )
    try:
        from scv.storage import s3_client

        client = s3_client(s3)
        for bucket in (LANDING_BUCKET, LAKEHOUSE_BUCKET):
            client.create_bucket(Bucket=bucket)
        yield s3
    finally:
        server.stop()


@pytest.fixture
def s3_settings(settings, moto_s3):
    """``settings`` with both roots under a prefix of their own in the moto buckets."""
    prefix = uuid.uuid4().hex[:10]
    return settings.with_overrides(
        landing_root=f"s3a://{LANDING_BUCKET}/{prefix}",
        lakehouse_root=f"s3a://{LAKEHOUSE_BUCKET}/{prefix}",
        s3=moto_s3,
    )
