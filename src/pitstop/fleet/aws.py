"""The AWS client port for the fleet: one factory, an injectable endpoint.

Production passes nothing (boto3's endpoints and credential chain); tests pass the loopback
endpoint of moto's server, which serves EC2, Auto Scaling, IAM and SSM on one port.
Botocore errors are wrapped in ``FleetError`` by ``call`` so the CLI prints one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pitstop.errors import FleetError

T = TypeVar("T")


@dataclass
class AwsClients:
    region: str = "us-east-1"
    endpoint_url: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._cache:
            import boto3
            from botocore.config import Config

            cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5)
            self._cache[service] = boto3.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=cfg
            )
        return self._cache[service]

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def autoscaling(self) -> Any:
        return self.client("autoscaling")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @property
    def ssm(self) -> Any:
        return self.client("ssm")


def error_code(e: BaseException) -> str:
    resp = getattr(e, "response", None) or {}
    return str(resp.get("Error", {}).get("Code", ""))


def call(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one AWS call; a botocore error becomes ``FleetError`` naming ``what``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(*args, **kwargs)
    except ClientError as e:
        msg = (getattr(e, "response", None) or {}).get("Error", {}).get("Message", "")
        raise FleetError(f"{what}: {error_code(e) or 'error'}: {msg}".rstrip(": ")) from e
    except BotoCoreError as e:
        raise FleetError(f"{what}: {e}") from e
