"""``pitstop serve``: the live dashboard in a browser (queue, a job's curves, fleet, cost)."""

from __future__ import annotations

import sys
from typing import Any

from pitstop.cli.common import (
    Sub,
    command,
    job_store,
    opt,
    positive,
    settings_from,
    values,
)
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
    opt("--workers", type=positive(int, "--workers", 1, MAX_WORKERS), default=DEFAULT_WORKERS, metavar="N",
        help=f"requests served at once, a thread each (default {DEFAULT_WORKERS}, at most {MAX_WORKERS}); {QUEUE_PER_WORKER}xN more connections wait, any beyond get 503"),
    opt("--read-timeout", type=positive(float, "--read-timeout", 1, MAX_READ_TIMEOUT_S), default=DEFAULT_READ_TIMEOUT_S, metavar="SECONDS",
        help=f"a request must arrive whole within this of connecting, and its reply be taken within as long, else the connection is dropped (default {DEFAULT_READ_TIMEOUT_S:g}, 1 to {MAX_READ_TIMEOUT_S:g})"),
]  # fmt: skip


def register(sub: Sub) -> None:
    help = "a live dashboard in the browser: queue, training curves, logs, fleet, cost"
    command(sub, "serve", _serve, help, DESCRIPTION, OPTIONS, json=False)


def _serve(args: Any) -> int:
    from pitstop.serve.startup import check_port, exposure_warning, ready_lines, start

    port, settings = check_port(args.port), settings_from(args)  # a bad port before the settings
    options = values(args, ("spot_price", "on_demand_price", "workers"))
    options.update(
        scan_interval_s=args.scan_interval,
        read_timeout_s=args.read_timeout,
        heartbeat_interval_s=settings.heartbeat_interval_s,
    )
    dashboard, server = start(job_store(settings), settings.bucket, args.host, port, **options)
    where = f"s3://{settings.bucket}/{settings.prefix}/"
    warning = exposure_warning(args.host, where)
    if warning:
        print(warning, file=sys.stderr)
    print(f"pitstop serve: {where} on {server.url}", flush=True)
    for line in ready_lines(dashboard, server):  # after the first read, which may take a while
        print(line, flush=True)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
