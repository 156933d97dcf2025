"""Starting ``pitstop serve``: the dashboard and its bound server from the command's options
(a port past 65535, or one that cannot be bound, is bad usage), the warning when the
address reaches past this machine, and the lines that say where it is and how to write."""

from __future__ import annotations

from typing import Any

from pitstop.errors import UsageError
from pitstop.serve.data import Dashboard
from pitstop.serve.server import TOKEN_HEADER, DashboardServer, make_server
from pitstop.store.jobs import JobStore

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_port(port: int) -> int:
    if port > 65535:
        raise UsageError(f"--port {port}: must be at most 65535")
    return port


def start(
    jobs: JobStore, bucket: str, host: str, port: int, **options: Any
) -> tuple[Dashboard, DashboardServer]:
    """The dashboard over ``jobs`` and its server bound to ``host:port``; ``options``:
    spot_price, on_demand_price, scan_interval_s (the dashboard's), workers, read_timeout_s
    (the server's)."""
    serving = {k: options.pop(k) for k in ("workers", "read_timeout_s") if k in options}
    dashboard = Dashboard(jobs, **options)
    try:
        return dashboard, make_server(dashboard, host, port, bucket, **serving)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def exposure_warning(host: str, where: str) -> str | None:
    """What binding ``host`` shows to others (None: loopback only)."""
    if host in LOOPBACK or host.startswith("127."):
        return None
    return (
        f"pitstop: warning: --host {host} serves the dashboard (and the job list of {where}) "
        "to anyone who can reach this port; only cancel needs the token"
    )


def ready_lines(dashboard: Dashboard, server: DashboardServer) -> list[str]:
    """After the first full read (jobs the listing index lacks are added now): the jobs
    found, the write token and how to open the dashboard with it."""
    got = dashboard.index()
    backfilled = f", {len(got.backfilled)} added to the listing index" if got.backfilled else ""
    return [
        f"  {len(got.jobs)} job(s){backfilled}",
        f"  write token (cancel): {server.token}",
        f"  open {server.url}#token={server.token}",
        f"  (API clients send it as the {TOKEN_HEADER} header; Ctrl-C stops)",
    ]
