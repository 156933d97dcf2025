"""``pitstop serve``: the live dashboard over HTTP (stdlib ``http.server`` + Jinja2).

Pages (``/``, ``/jobs/ID``, ``/fleet``) are static HTML that poll the JSON API under
``/api/`` and update in place; charts are uPlot, served from the package (no CDN).
Routing and the two guards live here; every read is ``serve/data.py``'s.

Guards:
- JSON answers hold finite numbers only (``NaN``/``Infinity`` from a file in S3 become
  ``null``; a browser's ``JSON.parse`` refuses the bare words), written with
  ``allow_nan=False`` so a value that slips past ``finite`` is a 500, never a page that
  cannot parse its data;
- a fixed pool of ``workers`` threads serves requests, one per connection; at most
  ``QUEUE_PER_WORKER * workers`` accepted connections wait for a worker and any more are
  answered 503 at once, so no number of connections makes more threads;
- a request's line, headers and body must all arrive within ``read_timeout_s`` of its
  connection being accepted (after that, only bytes already received are read), and a
  reply must be taken within the same time: a slow or half-sent request is dropped and
  frees its worker;
- writes (``POST /api/jobs/ID/cancel``) need the token printed at start, in the
  ``X-Pitstop-Token`` header (a header, so another site's form cannot send it);
- on a loopback address, requests whose ``Host`` is not a loopback name are refused, so a
  page elsewhere cannot reach the dashboard through DNS rebinding.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import math
import mimetypes
import queue
import re
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

from pitstop.core.ids import job_id_problem
from pitstop.errors import InvalidInput, NotFound, PitstopError, StoreError
from pitstop.serve.data import Dashboard, state_names
from pitstop.serve.limits import (
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_WORKERS,
    MAX_READ_TIMEOUT_S,
    MAX_WORKERS,
    QUEUE_PER_WORKER,
)
from pitstop.store.layout import Layout

log = structlog.get_logger("pitstop.serve")

TOKEN_HEADER = "X-Pitstop-Token"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
_JOB = re.compile(r"\A/(?:api/)?jobs/([^/]+)(/log|/cancel)?\Z")

BUSY_LOG_EVERY_S = 10.0


def _assets() -> Any:
    return resources.files("pitstop.templates").joinpath("serve")


def render_page(name: str, **ctx: Any) -> bytes:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pitstop", "templates/serve"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(name).render(**ctx).encode()


def finite(doc: Any) -> Any:
    """``doc`` with every non-finite float (NaN, infinity) replaced by ``None``: JSON has no
    word for them, and a browser refuses the ``NaN`` Python would write."""
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {k: finite(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [finite(v) for v in doc]
    return doc


def to_json(doc: Any) -> bytes:
    """The bytes of a JSON answer: finite numbers only (``ValueError`` if one slips by)."""
    return json.dumps(finite(doc), default=str, allow_nan=False).encode()


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes until ``deadline`` (monotonic): each read waits at most until then,
    and after it only bytes already received are read. So a whole request must arrive in
    time, however slowly a client trickles it."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(max(0.0, self._deadline - time.monotonic()))
        try:
            return self._sock.recv_into(buffer)
        except (BlockingIOError, TimeoutError):  # 0 s left: nothing received yet
            raise TimeoutError("the request did not arrive in time") from None


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DashboardServer(HTTPServer):
    """An ``HTTPServer`` with a fixed pool of worker threads (see the module's guards)."""

    request_queue_size = 128  # the listen backlog: a burst waits in the kernel, not in threads

    def __init__(
        self,
        addr: tuple[str, int],
        dashboard: Dashboard,
        token: str,
        bucket: str,
        *,
        workers: int = DEFAULT_WORKERS,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    ) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
        if not 0 < read_timeout_s <= MAX_READ_TIMEOUT_S:
            raise ValueError(
                f"read timeout must be between 0 and {MAX_READ_TIMEOUT_S:g} s, got {read_timeout_s}"
            )
        self.workers = workers
        self.read_timeout_s = read_timeout_s
        self.refused = 0  # connections answered 503 because every worker was busy
        self._last_busy_log: float | None = None
        self._waiting: queue.Queue[tuple[socket.socket, Any, float] | None] = queue.Queue(
            QUEUE_PER_WORKER * workers
        )
        self._pool: list[threading.Thread] = []
        super().__init__(addr, Handler)  # binds: OSError when the port is taken
        self.dashboard = dashboard
        self.token = token
        self.bucket = bucket
        self.loopback = addr[0] in LOOPBACK_HOSTS or addr[0].startswith("127.")
        for i in range(workers):
            t = threading.Thread(target=self._work, name=f"pitstop-serve-{i}", daemon=True)
            t.start()
            self._pool.append(t)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
        return f"http://{shown}:{port}/"

    def process_request(self, request: Any, client_address: Any) -> None:
        """Called for each accepted connection: queue it for a worker, or refuse it now."""
        deadline = time.monotonic() + self.read_timeout_s
        try:
            self._waiting.put_nowait((request, client_address, deadline))
        except queue.Full:
            self._refuse(request)

    def _refuse(self, request: socket.socket) -> None:
        self.refused += 1
        now = time.monotonic()
        if self._last_busy_log is None or now - self._last_busy_log >= BUSY_LOG_EVERY_S:
            self._last_busy_log = now
            log.warning("serve.busy", workers=self.workers, refused=self.refused)
        body = to_json({"error": f"busy: all {self.workers} workers and their queue are taken"})
        reply = (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        try:
            request.settimeout(0.0)  # never wait on a client here: this is the accept loop
            request.send(reply)
        except OSError:
            pass
        self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self._waiting.get()
            if item is None:
                return
            request, client_address, deadline = item
            try:
                Handler(request, client_address, self, deadline)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed outside a route (reset, closed): one debug line."""
        log.debug("serve.connection_failed", error=repr(sys.exc_info()[1]))

    def server_close(self) -> None:
        """Stop listening, drop connections still waiting and end the workers (a request in
        progress finishes or ends with the process)."""
        super().server_close()
        while True:
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        for _ in self._pool:
            self._waiting.put(None)


def _job_id(raw: str) -> str:
    job_id = unquote(raw)
    problem = job_id_problem(job_id)
    if problem is not None:
        raise HttpError(400, f"{job_id!r} is not a valid job id: {problem}")
    return job_id


class Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"
    replying = False  # a reply has started: a timeout then cannot be answered

    def __init__(
        self,
        request: Any,
        client_address: Any,
        server: DashboardServer,
        deadline: float | None = None,
    ) -> None:
        self.deadline = (
            deadline if deadline is not None else time.monotonic() + server.read_timeout_s
        )
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # read through the deadline instead
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self.deadline))

    def handle(self) -> None:
        """One request per connection: a connection kept alive would hold a worker while it
        idles (every reply says ``Connection: close``)."""
        self.close_connection = True
        self.handle_one_request()

    def send_response_only(self, code: int, message: str | None = None) -> None:
        # the reply has its own deadline: a client that stops reading frees the worker
        self.connection.settimeout(self.server.read_timeout_s)
        super().send_response_only(code, message)

    def log_message(self, format: str, *args: Any) -> None:  # the access log: debug only
        log.debug("serve.request", line=format % args)

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.replying = True
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, to_json(doc), "application/json")

    def _guard_host(self) -> None:
        if not self.server.loopback:
            return
        header = self.headers.get("Host") or ""
        if header.startswith("["):
            host = header[: header.find("]") + 1]
        else:
            host = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
        if host not in LOOPBACK_HOSTS:
            raise HttpError(
                403, f"Host {host!r} refused: this dashboard answers on loopback names only"
            )

    def _handle(self, route: Any) -> None:
        self.replying = False
        try:
            self._guard_host()
            route()
        except HttpError as e:
            self._json(e.status, {"error": str(e)})
        except NotFound as e:
            self._json(404, {"error": str(e)})
        except InvalidInput as e:
            self._json(409, {"error": str(e)})
        except StoreError as e:
            self._json(502, {"error": str(e)})
        except PitstopError as e:
            self._json(500, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except TimeoutError:  # the body did not arrive in time, or the reply was not taken
            log.debug("serve.timed_out", path=self.path, after_s=self.server.read_timeout_s)
            if not self.replying:
                with contextlib.suppress(OSError):
                    self._json(408, {"error": "the request did not arrive in time"})
        except Exception as e:  # a bug must not end the server: one line, and it goes on
            log.error("serve.failed", path=self.path, error=repr(e))
            self._json(500, {"error": f"internal error: {type(e).__name__}"})

    def do_GET(self) -> None:
        self._handle(self._get)

    def do_HEAD(self) -> None:
        self._handle(self._get)

    def do_POST(self) -> None:
        self._handle(self._post)

    # -- routes ----------------------------------------------------------------------------
    def _get(self) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        dash = self.server.dashboard
        ctx = {"bucket": self.server.bucket, "states": state_names()}
        if path == "/":
            self._send(
                200, render_page("queue.html", page="queue", **ctx), "text/html; charset=utf-8"
            )
        elif path == "/fleet":
            self._send(
                200, render_page("fleet.html", page="fleet", **ctx), "text/html; charset=utf-8"
            )
        elif path.startswith("/static/"):
            self._static(path[len("/static/") :])
        elif path == "/api/jobs":
            states = set(query.get("state", []))
            unknown = states - set(state_names()) - {"invalid"}
            if unknown:
                raise HttpError(400, f"state {sorted(unknown)[0]!r} is not a job state")
            self._json(200, dash.queue(states or None))
        elif path == "/api/fleet":
            self._json(200, dash.fleet())
        elif path == "/leaderboard":
            page = render_page("leaderboard.html", page="leaderboard", **ctx)
            self._send(200, page, "text/html; charset=utf-8")
        elif path == "/api/leaderboard":
            self._json(200, dash.leaderboards())
        elif (m := _JOB.match(path)) is not None:
            job_id = _job_id(m.group(1))
            if not path.startswith("/api/"):
                if m.group(2):
                    return self._not_found(f"no page {path}", ctx)
                if not dash.exists(job_id):
                    return self._not_found(f"no job {job_id!r} in s3://{self.server.bucket}", ctx)
                page = render_page("job.html", page="job", job_id=job_id, **ctx)
                self._send(200, page, "text/html; charset=utf-8")
            elif m.group(2) == "/log":
                name = (query.get("name") or [""])[0]
                if Layout.parse_exact_log_name(name) is None:
                    raise HttpError(400, f"log name {name!r}: expected attempt-N/FILE")
                try:
                    offset = int((query.get("offset") or ["0"])[0])
                except ValueError:
                    raise HttpError(400, "offset must be a whole number of bytes") from None
                self._json(200, dash.log_tail(job_id, name, max(0, offset)))
            elif m.group(2) is None:
                self._json(200, dash.job(job_id))
            else:
                raise HttpError(405, "cancel is a POST")
        elif path.startswith("/api/"):
            raise HttpError(404, f"no page {path}")
        else:
            self._not_found(f"no page {path}", ctx)

    def _not_found(self, message: str, ctx: dict[str, Any]) -> None:
        """A page that does not exist: a real 404 page, with a link back to the queue."""
        page = render_page("404.html", page="404", message=message, **ctx)
        self._send(404, page, "text/html; charset=utf-8")

    def _post(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise HttpError(400, "Content-Length must be a number") from None
        if length > 0:
            self.rfile.read(min(length, 65536))
        path = urlsplit(self.path).path
        m = _JOB.match(path)
        if m is None or m.group(2) != "/cancel" or not path.startswith("/api/"):
            raise HttpError(404, f"no action {path}")
        token = self.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            raise HttpError(
                403,
                f"a write needs the token that 'pitstop serve' printed at start ({TOKEN_HEADER})",
            )
        job_id = _job_id(m.group(1))
        result = self.server.dashboard.cancel(job_id)
        if result["cancel_requested"]:
            log.info("serve.cancelled", job_id=job_id, state=result["state"])
        self._json(200, result)

    def _static(self, name: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise HttpError(404, f"no asset {name}")
        f = _assets().joinpath("static", name)
        if not f.is_file():
            raise HttpError(404, f"no asset {name}")
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype == "application/javascript":
            ctype += "; charset=utf-8"
        self._send(200, f.read_bytes(), ctype, cache=True)


def make_server(
    dashboard: Dashboard,
    host: str,
    port: int,
    bucket: str,
    token: str | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
) -> DashboardServer:
    """Bind (``OSError`` when the port is taken) and start the workers; ``serve_forever()``
    to run, ``server_close()`` to end."""
    return DashboardServer(
        (host, port),
        dashboard,
        token or secrets.token_urlsafe(18),
        bucket,
        workers=workers,
        read_timeout_s=read_timeout_s,
    )
