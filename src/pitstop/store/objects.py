"""The object-store port and its S3 adapter.

The port is the smallest surface pitstop needs: get/head/put (with If-Match and
If-None-Match), list, delete, copy, and the server's clock. Ages are computed with the
server's ``Date`` header, never the instance clock. The adapter wraps every botocore error
in ``StoreError`` (``NotFound`` and ``PreconditionFailed`` for the two cases callers act on)
and counts requests so benchmarks can report them.
"""

from __future__ import annotations

import builtins
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol

from pitstop.errors import BucketUnavailable, NotFound, PreconditionFailed, StoreError

if TYPE_CHECKING:
    from pitstop.config import Settings


@dataclass(frozen=True)
class Head:
    key: str
    etag: str
    last_modified: datetime
    size: int
    server_time: datetime  # the Date header of the same response

    @property
    def age_s(self) -> float:
        """Seconds since the object was written, by the server's clock."""
        return (self.server_time - self.last_modified).total_seconds()


@dataclass(frozen=True)
class Object:
    head: Head
    body: bytes


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    last_modified: datetime
    etag: str = ""


@dataclass(frozen=True)
class Page:
    """One listing request: up to 1,000 keys and the server's clock at the reply."""

    items: builtins.list[Listed]
    server_time: datetime
    truncated: bool


class ObjectStore(Protocol):
    bucket: str

    def head(self, key: str) -> Head | None: ...
    def get(self, key: str) -> Object: ...
    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str: ...
    def list(self, prefix: str, *, delimiter: str | None = None) -> Iterator[Listed]: ...
    def list_dirs(self, prefix: str) -> builtins.list[str]: ...
    def list_page(self, prefix: str) -> Page: ...
    def delete(self, key: str) -> None: ...
    def copy(self, src: str, dst: str) -> None: ...
    def server_time(self) -> datetime: ...


def _server_time(meta: dict[str, Any]) -> datetime:
    date = meta.get("HTTPHeaders", {}).get("date")
    if date:
        try:
            return parsedate_to_datetime(date)
        except (TypeError, ValueError):
            pass
    return datetime.now(timezone.utc)


# credentials that cannot be used for this bucket (a 403 says so too)
_NO_ACCESS = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "AllAccessDisabled",
    }
)


def _code(e: Exception) -> tuple[str, int]:
    resp = getattr(e, "response", None) or {}
    err = resp.get("Error", {})
    status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(err.get("Code", "")), int(status or 0)


class S3Store:
    """``ObjectStore`` over boto3, for AWS S3 or any S3-compatible endpoint."""

    def __init__(
        self,
        bucket: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        max_attempts: int = 2,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        cfg = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        self._s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint_url, config=cfg)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        return cls(settings.bucket, region=settings.region, endpoint_url=settings.s3_endpoint_url)

    def _count(self, op: str) -> None:
        with self._lock:
            self.requests[op] += 1

    def _call(self, op: str, key: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        self._count(op)
        try:
            result: dict[str, Any] = getattr(self._s3, op)(Bucket=self.bucket, **kwargs)
            return result
        except ClientError as e:
            code, status = _code(e)
            where = f"s3://{self.bucket}/{key}"
            if code == "NoSuchBucket":
                raise BucketUnavailable(f"s3://{self.bucket}: the bucket does not exist") from e
            if status == 403 or code in _NO_ACCESS:
                raise BucketUnavailable(
                    f"{where}: access denied ({code or status}): check the credentials and "
                    "the bucket's policy"
                ) from e
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                raise NotFound(f"{where}: not found") from e
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                raise PreconditionFailed(f"{where}: changed by someone else ({code})") from e
            raise StoreError(f"{where}: {op} failed: {code or status}") from e
        except BotoCoreError as e:
            raise StoreError(f"s3://{self.bucket}/{key}: {op} failed: {e}") from e

    def head(self, key: str) -> Head | None:
        try:
            r = self._call("head_object", key, Key=key)
        except NotFound:
            return None
        return Head(
            key=key,
            etag=r["ETag"],
            last_modified=r["LastModified"],
            size=int(r.get("ContentLength", 0)),
            server_time=_server_time(r["ResponseMetadata"]),
        )

    def get(self, key: str) -> Object:
        from botocore.exceptions import BotoCoreError

        r = self._call("get_object", key, Key=key)
        try:
            body = r["Body"].read()
        except BotoCoreError as e:
            raise StoreError(f"s3://{self.bucket}/{key}: read failed: {e}") from e
        head = Head(
            key=key,
            etag=r["ETag"],
            last_modified=r["LastModified"],
            size=len(body),
            server_time=_server_time(r["ResponseMetadata"]),
        )
        return Object(head=head, body=body)

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str:
        kwargs: dict[str, Any] = {"Key": key, "Body": body, "ContentType": content_type}
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        r = self._call("put_object", key, **kwargs)
        return str(r["ETag"])

    def list(self, prefix: str, *, delimiter: str | None = None) -> Iterator[Listed]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            if delimiter:
                kwargs["Delimiter"] = delimiter
            r = self._call("list_objects_v2", prefix, **kwargs)
            for item in r.get("Contents", []):
                yield Listed(
                    item["Key"], int(item["Size"]), item["LastModified"], item.get("ETag", "")
                )
            if not r.get("IsTruncated"):
                return
            token = r.get("NextContinuationToken")

    def list_page(self, prefix: str) -> Page:
        """The first page of keys under ``prefix``, in one request, with the server's Date."""
        r = self._call("list_objects_v2", prefix, Prefix=prefix)
        items = [
            Listed(i["Key"], int(i["Size"]), i["LastModified"], i.get("ETag", ""))
            for i in r.get("Contents", [])
        ]
        return Page(items, _server_time(r["ResponseMetadata"]), bool(r.get("IsTruncated")))

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        """Immediate 'sub-folders' under ``prefix`` (common prefixes), sorted."""
        out: builtins.list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix, "Delimiter": "/"}
            if token:
                kwargs["ContinuationToken"] = token
            r = self._call("list_objects_v2", prefix, **kwargs)
            out.extend(p["Prefix"] for p in r.get("CommonPrefixes", []))
            if not r.get("IsTruncated"):
                return sorted(out)
            token = r.get("NextContinuationToken")

    def delete(self, key: str) -> None:
        self._call("delete_object", key, Key=key)

    def copy(self, src: str, dst: str) -> None:
        self._call("copy_object", dst, Key=dst, CopySource={"Bucket": self.bucket, "Key": src})

    def server_time(self) -> datetime:
        self._count("head_bucket")
        try:
            r = self._s3.head_bucket(Bucket=self.bucket)
        except Exception as e:
            raise StoreError(f"s3://{self.bucket}: unreachable: {e}") from e
        return _server_time(r["ResponseMetadata"])
