"""``pitstop serve``: the live dashboard over HTTP (stdlib ``ThreadingHTTPServer`` + Jinja2).

Pages (``/``, ``/jobs/ID``, ``/fleet``) are static HTML that poll the JSON API under
``/api/`` and update in place; charts are uPlot, served from the package (no CDN).
Routing and the two guards live here; every read is ``serve/data.py``'s.

Guards:
- writes (``POST /api/jobs/ID/cancel``) need the token printed at start, in the
  ``X-Pitstop-Token`` header (a header, so another site's form cannot send it);
- on a loopback address, requests whose ``Host`` is not a loopback name are refused, so a
  page elsewhere cannot reach the dashboard through DNS rebinding.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import re
import secrets
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

from pitstop.errors import InvalidInput, NotFound, PitstopError, StoreError
from pitstop.serve.data import Dashboard, state_names
from pitstop.store.ids import job_id_problem

log = structlog.get_logger("pitstop.serve")

TOKEN_HEADER = "X-Pitstop-Token"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
_JOB = re.compile(r"\A/(?:api/)?jobs/([^/]+)(/log|/cancel)?\Z")


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


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, addr: tuple[str, int], dashboard: Dashboard, token: str, bucket: str
    ) -> None:
        super().__init__(addr, Handler)
        self.dashboard = dashboard
        self.token = token
        self.bucket = bucket
        self.loopback = addr[0] in LOOPBACK_HOSTS or addr[0].startswith("127.")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
        return f"http://{shown}:{port}/"


def _job_id(raw: str) -> str:
    job_id = unquote(raw)
    problem = job_id_problem(job_id)
    if problem is not None:
        raise HttpError(400, f"{job_id!r} is not a valid job id: {problem}")
    return job_id


class Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the access log: debug only
        log.debug("serve.request", line=format % args)

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc, default=str).encode(), "application/json")

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
                    raise HttpError(404, f"no page {path}")
                page = render_page("job.html", page="job", job_id=job_id, **ctx)
                self._send(200, page, "text/html; charset=utf-8")
            elif m.group(2) == "/log":
                name = (query.get("name") or [""])[0]
                if not re.fullmatch(r"attempt-\d+/[A-Za-z0-9._-]+", name):
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
        else:
            raise HttpError(404, f"no page {path}")

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
    dashboard: Dashboard, host: str, port: int, bucket: str, token: str | None = None
) -> DashboardServer:
    """Bind (``OSError`` when the port is taken); ``serve_forever()`` to run."""
    return DashboardServer((host, port), dashboard, token or secrets.token_urlsafe(18), bucket)
