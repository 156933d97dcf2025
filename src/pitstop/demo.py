"""``pitstop demo``: the whole system on one machine, no AWS account.

An embedded S3-compatible server (moto's server mode) on a loopback port, a sample job on
the simulated trainer that freezes once and crashes once, and a real supervisor process.
The demo follows the job's events in S3 and prints a timeline, then a summary of how long
each fault took to detect and recover from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pitstop.errors import PitstopError

DEMO_BUCKET = "pitstop-demo"
DEMO_SIMULATION = {
    "checkpoint_interval_s": 0.6,
    "checkpoints": 10,
    "faults": [
        {"kind": "freeze", "attempt": 1, "after_checkpoint": 3},
        {"kind": "crash", "attempt": 2, "after_checkpoint": 2, "exit_code": 3},
    ],
}
DEMO_SETTINGS = {
    "PITSTOP_TRAINER": "simulated",
    "PITSTOP_POLL_INTERVAL_S": "0.5",
    "PITSTOP_STALL_TIMEOUT_S": "4",
    "PITSTOP_STARTUP_GRACE_S": "8",
    "PITSTOP_BACKOFF_BASE_S": "1",
    "PITSTOP_BACKOFF_MAX_S": "4",
    "PITSTOP_HEARTBEAT_INTERVAL_S": "1",
    "PITSTOP_LEASE_TTL_S": "10",
    "PITSTOP_STOP_TIMEOUT_S": "3",
    "PITSTOP_INSTANCE_ID": "i-0demo0000000001",
    "PITSTOP_IMDS_ENDPOINT": "http://127.0.0.1:9",  # no metadata service here: no spot notices
    "PITSTOP_REBOOT_COMMAND": "true",  # the demo never reboots or powers off this machine
    "PITSTOP_SHUTDOWN_COMMAND": "true",
}
DESCRIBE = {
    "job.submitted": "job submitted",
    "lease.claimed": "claimed by the supervisor",
    "run.started": "attempt {attempt} started",
    "run.restarted": "attempt {attempt} started, loading attempt {pretrained_from}'s last complete checkpoint",
    "run.checkpointed": "checkpoint {checkpoint}",
    "run.stalled": "STALL detected: {reason}",
    "run.crashed": "CRASH detected: {reason}",
    "run.backing_off": "waiting {backoff_s:g} s before restarting",
    "lock.cleared": "removed a stale model/.lock",
    "run.succeeded": "SUCCEEDED: {reason}",
    "run.failed": "FAILED: {reason}",
}


@dataclass
class Timeline:
    t0: float
    lines: list[dict[str, Any]] = field(default_factory=list)

    def add(self, event: dict[str, Any]) -> str | None:
        self.lines.append(event)
        template = DESCRIBE.get(str(event.get("event")))
        if template is None:
            return None
        try:
            text = template.format_map({k: ("-" if v is None else v) for k, v in event.items()})
        except (KeyError, ValueError):
            text = str(event.get("event"))
        at = max(0.0, _ts(event["at"]) - self.t0)
        return f"  t+{at:6.1f}s  {text}"


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def fault_figures(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """For each fault: how long to detect it and how long until training was back."""
    events = doc["events"]
    out: list[dict[str, Any]] = []
    for i, e in enumerate(events):
        kind = {"run.stalled": "freeze", "run.crashed": "crash"}.get(e["event"])
        if kind is None:
            continue
        attempt = e.get("attempt")
        before = [
            x
            for x in events[:i]
            if x["event"] == "run.checkpointed" and x.get("attempt") == attempt
        ]
        after = [
            x
            for x in events[i:]
            if x["event"] == "run.checkpointed" and (x.get("attempt") or 0) > (attempt or 0)
        ]
        last = _ts(before[-1]["at"]) if before else None
        detected = _ts(e["at"])
        back = _ts(after[0]["at"]) if after else None
        out.append(
            {
                "fault": kind,
                "attempt": attempt,
                "detect_s": None if last is None else round(detected - last, 1),
                "recover_s": None if back is None else round(back - detected, 1),
            }
        )
    return out


def embedded_s3_server() -> Any:
    """moto's threaded server class; ``MissingExtra`` naming the install line without it."""
    from pitstop.extras import require

    return require("moto.server", "the demo's embedded S3 server").ThreadedMotoServer


def run_demo(keep: bool, out: Callable[[str], None], timeout_s: float = 240.0) -> dict[str, Any]:
    import logging

    server_class = embedded_s3_server()

    from pitstop import reward_funcs
    from pitstop.intake import Submission, build_spec, defaults
    from pitstop.reward_funcs import catalog
    from pitstop.store.jobs import JobStore, job_document
    from pitstop.store.layout import Layout
    from pitstop.store.objects import S3Store

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the terminal
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    server = server_class(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._port}"
    work = Path(tempfile.mkdtemp(prefix="pitstop-demo-"))
    env = {
        **os.environ,
        **DEMO_SETTINGS,
        "PITSTOP_BUCKET": DEMO_BUCKET,
        "PITSTOP_S3_ENDPOINT_URL": endpoint,
        "PITSTOP_REGION": "us-east-1",
        "PITSTOP_STATE_DIR": str(work / "state"),
    }
    store = S3Store(DEMO_BUCKET, region="us-east-1", endpoint_url=endpoint)
    store._s3.create_bucket(Bucket=DEMO_BUCKET)
    jobs = JobStore(store, Layout("pitstop"))

    reward = catalog.get("centerline").source().encode()
    report = reward_funcs.validate_source(reward, "centerline.py")
    if not report.ok:  # pragma: no cover - the bundled library is tested to pass
        raise PitstopError(f"sample reward function is invalid: {report.reason}")
    sub = Submission(
        name="demo-centerline",
        files={"reward_function.py": reward, **defaults()},
        fields={"simulation": DEMO_SIMULATION, "world": "reInvent2019_track"},
        source="demo",
    )
    spec = build_spec(sub)
    jobs.create(spec, sub.files)
    out(f"S3-compatible server on {endpoint}, bucket {DEMO_BUCKET}")
    out(f"submitted job {spec.id}: 10 checkpoints, freezes in attempt 1, crashes in attempt 2")
    out(
        f"supervisor: stall timeout {DEMO_SETTINGS['PITSTOP_STALL_TIMEOUT_S']} s, poll {DEMO_SETTINGS['PITSTOP_POLL_INTERVAL_S']} s "
        f"(log: {work / 'supervisor.log'})"
    )
    out("")
    log = (work / "supervisor.log").open("wb")
    sup = subprocess.Popen(
        [sys.executable, "-m", "pitstop.cli.main", "supervise", "--log-format", "json"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    timeline = Timeline(t0=time.time())
    seen: set[str] = set()
    state = ""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            # state, one listing and only the new events: not the whole history every poll
            state = jobs.status(spec.id)[0].state.value
            for e in jobs.events(spec.id, seen):
                line = timeline.add(e)
                if line:
                    out(line)
            if state in ("succeeded", "failed", "cancelled"):
                break
            if sup.poll() is not None:
                raise PitstopError(
                    f"the supervisor exited with code {sup.returncode}; see {work / 'supervisor.log'}"
                )
            time.sleep(0.3)
        else:
            raise PitstopError(
                f"the demo job did not finish in {timeout_s:.0f} s; see {work / 'supervisor.log'}"
            )
    finally:
        sup.terminate()
        try:
            sup.wait(15)
        except subprocess.TimeoutExpired:
            sup.kill()
        log.close()
    doc = job_document(jobs, spec.id)
    summary = {
        "job_id": spec.id,
        "state": doc.get("state"),
        "reason": doc.get("reason"),
        "attempts": doc.get("attempts", []),
        "faults": fault_figures(doc),
        "endpoint": endpoint,
        "bucket": DEMO_BUCKET,
        "work_dir": str(work),
    }
    if keep:
        summary["server"] = server
    else:
        server.stop()
    return summary


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
