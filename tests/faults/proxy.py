"""An HTTP-aware TCP proxy in front of the S3 server that injects network faults.

It forwards bytes both ways, but reads request and response boundaries (HTTP/1.1 with
Content-Length or chunked bodies, ``100 Continue`` interim replies), so a rule can act on
one request by method and key:

- ``drop_reply``: the request reaches S3 and takes effect, its reply is thrown away and the
  connection closed (the client sees a lost reply; botocore retries the same request);
- ``reset``: the connection is closed before the request is forwarded (it never happens);
- ``delay``: the reply is held back for some seconds;
- ``hold``: the same, counted apart: a request held so that its sender can be killed while
  it waits (the request took effect; the sender never learns it).

A rule may also look at the request's body (``body``: a predicate on its bytes), e.g. to
act on the one ``state.json`` write that records a new attempt.

``cut()`` closes every connection and refuses new ones until ``restore()``. Every fault
injected is counted in ``injected``, so tests and the benchmark can report them.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.servers import free_port

BODY_KEPT = 1 << 20  # how much of a request body a ``body`` predicate sees


@dataclass
class Rule:
    kind: str  # drop_reply | reset | delay | hold
    method: str | None = None  # e.g. "PUT"; None: any
    key: str | None = None  # a regular expression searched in the path; None: any
    times: int = 1  # how many matching requests it acts on (then it is spent)
    seconds: float = 0.0  # delay, hold
    hits: int = 0
    # a predicate on the request body (its first BODY_KEPT bytes); None: any. Only rules that
    # act on replies (drop_reply, delay) see it: ``reset`` acts before the body is read
    body: Callable[[bytes], bool] | None = None

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        if self.hits >= self.times:
            return False
        if self.method is not None and method != self.method:
            return False
        if self.key is not None and re.search(self.key, path) is None:
            return False
        return self.body is None or self.body(body)


class _Closed(Exception):
    pass


def _read_until(sock: socket.socket, buf: bytearray, marker: bytes) -> bytes:
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise _Closed
        buf += chunk
    i = buf.index(marker) + len(marker)
    out = bytes(buf[:i])
    del buf[:i]
    return out


def _read_n(sock: socket.socket, buf: bytearray, n: int) -> bytes:
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise _Closed
        buf += chunk
    out = bytes(buf[:n])
    del buf[:n]
    return out


def _headers(head: bytes) -> dict[str, str]:
    out = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip().lower()] = v.strip()
    return out


def _read_body(sock: socket.socket, buf: bytearray, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while True:
            size_line = _read_until(sock, buf, b"\r\n")
            out += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            out += _read_n(sock, buf, size + 2)
            if size == 0:
                return out
    return _read_n(sock, buf, int(headers.get("content-length", "0") or 0))


@dataclass
class FaultProxy:
    target_port: int
    port: int = field(default_factory=free_port)
    rules: list[Rule] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    _cut: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _conns: list[socket.socket] = field(default_factory=list)
    _server: socket.socket | None = None
    on_request: Callable[[str, str], None] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._server = srv
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    # -- control -----------------------------------------------------------------------
    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        self.injected["cut"] += 1

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def _rule_for(
        self, method: str, path: str, kinds: tuple[str, ...], body: bytes = b""
    ) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.kind in kinds and rule.matches(method, path, body):
                    rule.hits += 1
                    self.injected[rule.kind] += 1
                    return rule
        return None

    # -- plumbing ------------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._cut:
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            client.close()
            return
        with self._lock:
            self._conns += [client, upstream]
        pending: deque[tuple[str, str, bytearray]] = deque()
        done = threading.Event()

        def close_both() -> None:
            done.set()
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

        def requests() -> None:
            buf = bytearray()
            try:
                while not done.is_set():
                    head = _read_until(client, buf, b"\r\n\r\n")
                    method, path = head.split(b" ", 2)[:2]
                    m, p = method.decode(), path.decode("latin-1")
                    self.requests[m] += 1
                    if self._rule_for(m, p, ("reset",)) is not None:
                        close_both()
                        return
                    entry = (m, p, bytearray())
                    pending.append(entry)  # the body is added as it passes (for ``body``)
                    upstream.sendall(head)
                    headers = _headers(head)
                    if headers.get("transfer-encoding", "").lower() == "chunked":
                        chunked = _read_body(client, buf, headers)
                        entry[2].extend(chunked[:BODY_KEPT])
                        upstream.sendall(chunked)
                        continue
                    left = int(headers.get("content-length", "0") or 0)
                    while left > 0:  # stream the body as it comes (100-continue friendly)
                        if buf:
                            part = bytes(buf[:left])
                            del buf[: len(part)]
                        else:
                            part = client.recv(min(65536, left))
                            if not part:
                                raise _Closed
                        if len(entry[2]) < BODY_KEPT:
                            entry[2].extend(part[: BODY_KEPT - len(entry[2])])
                        upstream.sendall(part)
                        left -= len(part)
            except (_Closed, OSError, ValueError):
                close_both()

        def replies() -> None:
            buf = bytearray()
            try:
                while not done.is_set():
                    head = _read_until(upstream, buf, b"\r\n\r\n")
                    status = head.split(b" ", 2)[1]
                    if status == b"100":
                        client.sendall(head)
                        continue
                    deadline = time.monotonic() + 10
                    while not pending and time.monotonic() < deadline:
                        time.sleep(0.001)
                    method, path, sent = pending.popleft()
                    headers = _headers(head)
                    body = (
                        b""
                        if method == "HEAD" or status in (b"204", b"304")
                        else (_read_body(upstream, buf, headers))
                    )
                    kinds = ("drop_reply", "delay", "hold")
                    rule = self._rule_for(method, path, kinds, bytes(sent))
                    if rule is not None and rule.kind == "drop_reply":
                        close_both()
                        return
                    if rule is not None:
                        time.sleep(rule.seconds)
                    client.sendall(head + body)
            except (_Closed, OSError, IndexError, ValueError):
                close_both()

        threading.Thread(target=requests, daemon=True).start()
        replies()
