"""Real servers for tests: moto's S3 server process, a TCP proxy that can be cut."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@dataclass
class MotoServer:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls) -> MotoServer:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(port)
        return cls(proc, port)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; ``cut()`` refuses and drops connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._up = threading.Event()
        self._up.set()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", self.port))
        self._srv.listen(64)
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._srv.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            for s in self._conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
            self._conns.clear()

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._srv.close()


class FakeImds:
    """A local instance metadata service (IMDSv2) the test controls.

    ``mode``: "ok", "500" (every GET fails), "slow" (answers after 5 s), "expire" (every
    token is rejected once: a 401 forces a refresh). ``action`` / ``rebalance`` are the JSON
    documents to serve, or None for 404.
    """

    def __init__(self, instance_id: str = "i-fake0001") -> None:
        import http.server
        import json as _json

        self.instance_id = instance_id
        self.mode = "ok"
        self.action: dict[str, str] | None = None
        self.rebalance: dict[str, str] | None = None
        self.life_cycle: str | None = None  # instance-life-cycle: spot | on-demand; None: 404
        self.tokens_issued = 0
        self.gets: list[str] = []
        self._valid: set[str] = set()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: str = "") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                if self.path != "/latest/api/token" or not self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"
                ):
                    return self._send(400)
                fake.tokens_issued += 1
                token = f"tok-{fake.tokens_issued}"
                fake._valid.add(token)
                self._send(200, token)

            def do_GET(self) -> None:
                fake.gets.append(self.path)
                token = self.headers.get("X-aws-ec2-metadata-token")
                if token not in fake._valid:
                    return self._send(401)
                if fake.mode == "expire":
                    fake._valid.discard(token)  # this token dies now: the client must fetch another
                    fake.mode = "ok"
                    return self._send(401)
                if fake.mode == "500":
                    return self._send(500, "internal error")
                if fake.mode == "slow":
                    time.sleep(5)
                path = self.path.removeprefix("/latest/meta-data/")
                if path == "instance-id":
                    return self._send(200, fake.instance_id)
                if path == "instance-life-cycle" and fake.life_cycle:
                    return self._send(200, fake.life_cycle)
                if path == "spot/instance-action":
                    return (
                        self._send(200, _json.dumps(fake.action))
                        if fake.action
                        else self._send(404)
                    )
                if path == "events/recommendations/rebalance":
                    return (
                        self._send(200, _json.dumps(fake.rebalance))
                        if fake.rebalance
                        else self._send(404)
                    )
                self._send(404)

        self.port = free_port()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *a: None  # type: ignore[method-assign]  # clients that time out
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notice(self, action: str = "terminate") -> None:
        self.action = {"action": action, "time": "2026-11-21T12:00:00Z"}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
