"""``pitstop serve``: the live dashboard in a browser (queue, a job's curves, fleet, cost)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pitstop.cli.common import add_settings_flags, job_store, positive, settings_from
from pitstop.errors import UsageError
from pitstop.serve.limits import (
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_WORKERS,
    MAX_READ_TIMEOUT_S,
    MAX_WORKERS,
    QUEUE_PER_WORKER,
)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "serve",
        help="a live dashboard in the browser: queue, training curves, logs, fleet, cost",
        description="Serve a dashboard of the bucket and prefix the other commands use: the "
        "queue (filter by state, cancel), each job's reward and progress across attempts "
        "with restarts, stalls, crashes and preemptions marked, its log tail while it "
        "trains, the fleet's heartbeats, and a JSON API under /api/ (docs/dashboard.md). "
        "Pages refresh on their own. Writes (cancel) need the token printed at start. "
        "Limits: --workers requests are served at once, one per connection, and 4 times as "
        "many connections wait for a worker; any more are answered 503 at once. A request "
        "(line, headers and body) must arrive within --read-timeout seconds of connecting, "
        "and its reply be taken within as long, else the connection is dropped.",
    )
    p.add_argument("--port", type=positive(int, "--port", 0), default=8080, help="default 8080")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; 0.0.0.0 shows the dashboard to the network)",
    )
    p.add_argument(
        "--spot-price",
        type=positive(float, "--spot-price"),
        metavar="USD_PER_HOUR",
        help="spot price for the cost columns (instance hours x price)",
    )
    p.add_argument(
        "--on-demand-price",
        type=positive(float, "--on-demand-price"),
        metavar="USD_PER_HOUR",
        help="on-demand price of the same instance type, to compare spot spend with",
    )
    p.add_argument(
        "--scan-interval",
        type=positive(float, "--scan-interval", 1),
        default=30.0,
        metavar="SECONDS",
        help="how often a refresh also lists jobs/ for jobs the listing index lacks (default 30)",
    )
    p.add_argument(
        "--workers",
        type=_bounded(int, "--workers", 1, MAX_WORKERS),
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"requests served at once, a thread each (default {DEFAULT_WORKERS}, at most "
        f"{MAX_WORKERS}); {QUEUE_PER_WORKER}xN more connections wait, any beyond get 503",
    )
    p.add_argument(
        "--read-timeout",
        type=_bounded(float, "--read-timeout", 1, MAX_READ_TIMEOUT_S),
        default=DEFAULT_READ_TIMEOUT_S,
        metavar="SECONDS",
        help=f"a request must arrive whole within this of connecting, and its reply be taken "
        f"within as long, else the connection is dropped (default {DEFAULT_READ_TIMEOUT_S:g}, "
        f"1 to {MAX_READ_TIMEOUT_S:g})",
    )
    add_settings_flags(p)
    p.set_defaults(func=_serve)


def _bounded(kind: type, what: str, lo: float, hi: float) -> Any:
    """An argparse ``type``: a number of ``kind`` in [lo, hi] (NaN and infinity refused)."""

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if not lo <= v <= hi:  # False for NaN
            raise argparse.ArgumentTypeError(
                f"{what} must be between {lo:g} and {hi:g}, got {text}"
            )
        return v

    return parse


def _serve(args: Any) -> int:
    from pitstop.serve.data import Dashboard
    from pitstop.serve.server import TOKEN_HEADER, make_server

    if args.port > 65535:
        raise UsageError(f"--port {args.port}: must be at most 65535")
    settings = settings_from(args)
    jobs = job_store(settings)
    dashboard = Dashboard(
        jobs,
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
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.host.startswith("127."):
        print(
            f"pitstop: warning: --host {args.host} serves the dashboard (and the job list of "
            f"s3://{settings.bucket}/{settings.prefix}/) to anyone who can reach this port; "
            "only cancel needs the token",
            file=sys.stderr,
        )
    print(f"pitstop serve: s3://{settings.bucket}/{settings.prefix}/ on {server.url}", flush=True)
    got = dashboard.index()  # before any page: jobs the listing index lacks are added now
    backfilled = f", {len(got.backfilled)} added to the listing index" if got.backfilled else ""
    print(f"  {len(got.jobs)} job(s){backfilled}", flush=True)
    print(f"  write token (cancel): {server.token}", flush=True)
    print(f"  open {server.url}#token={server.token}", flush=True)
    print(f"  (API clients send it as the {TOKEN_HEADER} header; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
