"""``pitstop serve``: the live dashboard in a browser (queue, a job's curves, fleet, cost)."""

from __future__ import annotations

import sys
from typing import Any

from pitstop.cli.common import Sub, bounded, command, job_store, opt, positive, settings_from
from pitstop.errors import UsageError
from pitstop.serve.limits import (
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_WORKERS,
    MAX_READ_TIMEOUT_S,
    MAX_WORKERS,
    QUEUE_PER_WORKER,
)

DESCRIPTION = (
    "Serve a dashboard of the bucket and prefix the other commands use: the queue (filter by "
    "state, cancel), each job's reward and progress across attempts with restarts, stalls, "
    "crashes and preemptions marked, its log tail while it trains, the fleet's heartbeats, "
    "and a JSON API under /api/ (docs/dashboard.md). Pages refresh on their own. Writes "
    "(cancel) need the token printed at start. Limits: --workers requests are served at "
    "once, one per connection, and 4 times as many connections wait for a worker; any more "
    "are answered 503 at once. A request (line, headers and body) must arrive within "
    "--read-timeout seconds of connecting, and its reply be taken within as long, else the "
    "connection is dropped."
)
OPTIONS = [
    opt("--port", type=positive(int, "--port", 0), default=8080, help="default 8080"),
    opt("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 shows the dashboard to the network)"),
    opt("--spot-price", type=positive(float, "--spot-price"), metavar="USD_PER_HOUR", help="spot price for the cost columns (instance hours x price)"),
    opt("--on-demand-price", type=positive(float, "--on-demand-price"), metavar="USD_PER_HOUR", help="on-demand price of the same instance type, to compare spot spend with"),
    opt("--scan-interval", type=positive(float, "--scan-interval", 1), default=30.0, metavar="SECONDS", help="how often a refresh also lists jobs/ for jobs the listing index lacks (default 30)"),
    opt("--workers", type=bounded(int, "--workers", 1, MAX_WORKERS), default=DEFAULT_WORKERS, metavar="N",
        help=f"requests served at once, a thread each (default {DEFAULT_WORKERS}, at most {MAX_WORKERS}); {QUEUE_PER_WORKER}xN more connections wait, any beyond get 503"),
    opt("--read-timeout", type=bounded(float, "--read-timeout", 1, MAX_READ_TIMEOUT_S), default=DEFAULT_READ_TIMEOUT_S, metavar="SECONDS",
        help=f"a request must arrive whole within this of connecting, and its reply be taken within as long, else the connection is dropped (default {DEFAULT_READ_TIMEOUT_S:g}, 1 to {MAX_READ_TIMEOUT_S:g})"),
]  # fmt: skip


def register(sub: Sub) -> None:
    help = "a live dashboard in the browser: queue, training curves, logs, fleet, cost"
    command(sub, "serve", _serve, help, DESCRIPTION, OPTIONS, json=False)


def _serve(args: Any) -> int:
    from pitstop.serve.data import Dashboard
    from pitstop.serve.server import TOKEN_HEADER, make_server

    if args.port > 65535:
        raise UsageError(f"--port {args.port}: must be at most 65535")
    settings = settings_from(args)
    dashboard = Dashboard(
        job_store(settings),
        spot_price=args.spot_price,
        on_demand_price=args.on_demand_price,
        scan_interval_s=args.scan_interval,
    )
    try:
        server = make_server(
            dashboard,
            args.host,
            args.port,
            settings.bucket,
            workers=args.workers,
            read_timeout_s=args.read_timeout,
        )
    except OSError as e:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    where = f"s3://{settings.bucket}/{settings.prefix}/"
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.host.startswith("127."):
        print(
            f"pitstop: warning: --host {args.host} serves the dashboard (and the job list of "
            f"{where}) to anyone who can reach this port; only cancel needs the token",
            file=sys.stderr,
        )
    print(f"pitstop serve: {where} on {server.url}", flush=True)
    got = dashboard.index()  # before any page: jobs the listing index lacks are added now
    backfilled = f", {len(got.backfilled)} added to the listing index" if got.backfilled else ""
    for line in (
        f"  {len(got.jobs)} job(s){backfilled}",
        f"  write token (cancel): {server.token}",
        f"  open {server.url}#token={server.token}",
        f"  (API clients send it as the {TOKEN_HEADER} header; Ctrl-C stops)",
    ):
        print(line, flush=True)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
