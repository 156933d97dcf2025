"""Spot interruption source: the instance metadata service, IMDSv2 only.

A session token (``PUT /latest/api/token`` with a TTL) is refreshed before it expires and
on a 401. ``spot/instance-action`` and ``events/recommendations/rebalance`` answer 404 when
nothing is scheduled. Every request has a 2-second timeout; errors are returned as such and
never read as a notice. A notice is reported once (de-duplicated by its content).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from pitstop.errors import ImdsError

TOKEN_TTL_S = 21600
TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Notice:
    kind: str  # "interruption" | "rebalance"
    action: str  # terminate | stop | hibernate | rebalance
    time: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.action}:{self.time}"


class InterruptionSource(Protocol):
    def poll(self) -> list[Notice]:
        """New notices since the last poll (each reported once). Raises ImdsError."""


class Imds:
    """A minimal IMDSv2 client."""

    def __init__(
        self, endpoint: str, timeout_s: float = TIMEOUT_S, token_ttl_s: int = TOKEN_TTL_S
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = timeout_s
        self.token_ttl_s = token_ttl_s
        self._token: str | None = None
        self._token_expires = 0.0

    def _fetch_token(self) -> str:
        req = urllib.request.Request(
            f"{self.endpoint}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(self.token_ttl_s)},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                token = str(r.read().decode()).strip()
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise ImdsError(f"token request failed: {e}") from e
        if not token:
            raise ImdsError("token request returned an empty token")
        # refresh well before expiry
        self._token, self._token_expires = token, time.monotonic() + self.token_ttl_s * 0.8
        return token

    def _token_now(self) -> str:
        if self._token is None or time.monotonic() >= self._token_expires:
            return self._fetch_token()
        return self._token

    def get(self, path: str) -> str | None:
        """GET a metadata path; None on 404. Retries once with a new token on 401."""
        for attempt in range(2):
            token = self._token_now()
            req = urllib.request.Request(
                f"{self.endpoint}/latest/meta-data/{path}",
                headers={"X-aws-ec2-metadata-token": token},
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                    return str(r.read().decode())
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return None
                if e.code == 401 and attempt == 0:
                    self._token = None  # expired or revoked: fetch a new one and retry
                    continue
                raise ImdsError(f"GET {path}: HTTP {e.code}") from e
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise ImdsError(f"GET {path}: {e}") from e
        raise ImdsError(f"GET {path}: unauthorized after token refresh")


class ImdsSpotSource:
    """Polls the interruption and rebalance endpoints; reports each notice once."""

    def __init__(self, imds: Imds) -> None:
        self.imds = imds
        self._seen: set[str] = set()

    def poll(self) -> list[Notice]:
        found: list[Notice] = []
        action = self.imds.get("spot/instance-action")
        if action is not None:
            try:
                doc = json.loads(action)
                found.append(Notice("interruption", str(doc["action"]), str(doc.get("time", ""))))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ImdsError(f"spot/instance-action: unreadable answer {action[:80]!r}") from e
        rebalance = self.imds.get("events/recommendations/rebalance")
        if rebalance is not None:
            try:
                doc = json.loads(rebalance)
                found.append(Notice("rebalance", "rebalance", str(doc["noticeTime"])))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ImdsError(f"rebalance: unreadable answer {rebalance[:80]!r}") from e
        new = [n for n in found if n.key not in self._seen]
        self._seen.update(n.key for n in new)
        return new


class NoInterruptions:
    """For machines that are not spot instances (or tests that need no metadata service)."""

    def poll(self) -> list[Notice]:
        return []
