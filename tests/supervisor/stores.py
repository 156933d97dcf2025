"""ObjectStore ports for fault tests: the real S3 store (moto over HTTP), with faults added.

These implement the port, they do not patch pitstop: the supervisor gets them passed in.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from pitstop.errors import StoreError
from pitstop.store.objects import Head, Listed, Object, Page, S3Store


@dataclass
class FaultyStore:
    """Delegates to a real ``S3Store``; can fail writes, break entirely, or pause a thread."""

    inner: S3Store
    broken: bool = False  # every request fails, as if S3 were unreachable
    fail_puts: list[tuple[re.Pattern[str], int]] = field(default_factory=list)
    failed: int = 0
    pause_after_put: re.Pattern[str] | None = None  # after a PUT of a matching key lands,
    paused: threading.Event = field(default_factory=threading.Event)  # the next request
    release: threading.Event = field(default_factory=threading.Event)  # blocks until release
    _pause_next: bool = False

    @property
    def bucket(self) -> str:
        return self.inner.bucket

    @property
    def requests(self) -> object:
        return self.inner.requests

    def fail_next_puts(self, pattern: str, count: int = 1) -> None:
        self.fail_puts.append((re.compile(pattern), count))

    def _check(self, key: str) -> None:
        if self._pause_next:
            self._pause_next = False
            self.paused.set()
            self.release.wait(60)
        if self.broken:
            self.failed += 1
            raise StoreError(f"s3://{self.bucket}/{key}: unreachable (injected)")

    def head(self, key: str) -> Head | None:
        self._check(key)
        return self.inner.head(key)

    def get(self, key: str) -> Object:
        self._check(key)
        return self.inner.get(key)

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str:
        self._check(key)
        for i, (pattern, count) in enumerate(self.fail_puts):
            if count > 0 and pattern.search(key):
                self.fail_puts[i] = (pattern, count - 1)
                self.failed += 1
                raise StoreError(f"s3://{self.bucket}/{key}: 503 Slow Down (injected)")
        etag = self.inner.put(
            key, body, if_match=if_match, if_none_match=if_none_match, content_type=content_type
        )
        if self.pause_after_put is not None and self.pause_after_put.search(key):
            self.pause_after_put, self._pause_next = None, True
        return etag

    def list(self, prefix: str, *, delimiter: str | None = None) -> Iterator[Listed]:
        self._check(prefix)
        return self.inner.list(prefix, delimiter=delimiter)

    def list_dirs(self, prefix: str) -> list[str]:
        self._check(prefix)
        return self.inner.list_dirs(prefix)

    def list_page(self, prefix: str) -> Page:
        self._check(prefix)
        return self.inner.list_page(prefix)

    def delete(self, key: str) -> None:
        self._check(key)
        self.inner.delete(key)

    def copy(self, src: str, dst: str) -> None:
        self._check(dst)
        self.inner.copy(src, dst)

    def server_time(self) -> datetime:
        self._check("")
        return self.inner.server_time()
