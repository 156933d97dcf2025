"""Shared fixtures: a real S3-compatible server (moto's server mode) on a loopback port.

Supervisors and trainer processes reach it over HTTP, as they reach S3 in production.
Each test gets its own bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import structlog

from pitstop.config import Settings
from tests.servers import MotoServer

# Nothing of this machine's AWS set-up may reach a test: no real credentials, profiles,
# config files or endpoint overrides (tests pass endpoints explicitly, to local servers).
for _name in [n for n in os.environ if n.startswith("AWS_")]:
    os.environ.pop(_name)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("PITSTOP_CONFIG", None)
# a developer's own settings must not leak into tests (PITSTOP_UPDATE_GOLDEN and such stay)
for _field in Settings.model_fields:
    os.environ.pop(f"PITSTOP_{_field.upper()}", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test is slow too: ``-m "not slow"`` is the fast lane.

    End-to-end tests run first, then other slow ones, then the rest (a stable sort): with
    several workers, a long test that starts last makes the run as long as itself.
    """
    for item in items:
        if item.get_closest_marker("e2e") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)

    def weight(item: pytest.Item) -> int:
        if item.get_closest_marker("e2e") is not None:
            return 0
        return 1 if item.get_closest_marker("slow") is not None else 2

    items.sort(key=weight)


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """A CLI run configures structlog (level, stream) globally: never let it leak."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer.start()
    yield server
    server.stop()


@pytest.fixture
def s3_endpoint(moto_server: MotoServer) -> str:
    return moto_server.endpoint


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"pitstop-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3(s3_endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def settings_env(
    bucket: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """PITSTOP_* variables for a fast, simulated, recorder-guarded configuration."""
    recorder = tmp_path / "power.log"
    env = {
        "PITSTOP_BUCKET": bucket,
        "PITSTOP_S3_ENDPOINT_URL": s3_endpoint,
        "PITSTOP_REGION": "us-east-1",
        "PITSTOP_TRAINER": "simulated",
        "PITSTOP_STATE_DIR": str(tmp_path / "state"),
        "PITSTOP_INSTANCE_ID": "i-test0001",
        "PITSTOP_REBOOT_COMMAND": f"sh -c 'echo reboot >> {recorder}'",
        "PITSTOP_SHUTDOWN_COMMAND": f"sh -c 'echo shutdown >> {recorder}'",
        # this host's uptime is no instance's: a notice powers off as it would after the
        # first hour (tests/supervisor/test_refund_window.py covers the first hour itself)
        "PITSTOP_SHUTDOWN_ON_NOTICE_FIRST_HOUR": "true",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
