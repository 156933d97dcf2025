"""Driving real supervisor processes against the S3 server, and reading what they did."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pitstop.config import load_settings
from pitstop.intake import Submission, build_spec, defaults
from pitstop.store.jobs import JobStore, job_document
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store
from tests.helpers import scaled

REWARD = b"def reward_function(params):\n    return float(params['progress'] / 100.0 + 1e-3)\n"

# Every real-time setting that a busy machine can race comes from one factor
# (PITSTOP_TEST_TIME_SCALE, tests/helpers.py): the stall timeout against a CPU-starved
# trainer, the startup grace against a slow interpreter start, the lease against a starved
# renewal. Poll intervals and backoffs are not scaled: being late there is never a verdict.
STALL_TIMEOUT_S = scaled(2.0)
STARTUP_GRACE_S = scaled(6.0)
LEASE_TTL_S = scaled(3.0)
STOP_TIMEOUT_S = scaled(1.0)
POLL_INTERVAL_S = 0.2

FAST = {
    "PITSTOP_POLL_INTERVAL_S": f"{POLL_INTERVAL_S:g}",
    "PITSTOP_STALL_TIMEOUT_S": f"{STALL_TIMEOUT_S:g}",
    "PITSTOP_STARTUP_GRACE_S": f"{STARTUP_GRACE_S:g}",
    "PITSTOP_BACKOFF_BASE_S": "0.4",
    "PITSTOP_BACKOFF_MAX_S": "1.0",
    "PITSTOP_HEARTBEAT_INTERVAL_S": "0.5",
    "PITSTOP_LEASE_TTL_S": f"{LEASE_TTL_S:g}",
    "PITSTOP_STOP_TIMEOUT_S": f"{STOP_TIMEOUT_S:g}",
    "PITSTOP_SPOT_POLL_INTERVAL_S": "0.5",
    "PITSTOP_IMDS_ENDPOINT": "http://127.0.0.1:9",  # nothing there: errors, never a notice
    # 30 s (scaled) of 0.2 s polls: outlives the outage tests
    "PITSTOP_MAX_FAILED_TICKS": str(int(scaled(150))),
    "PITSTOP_INBOX_SETTLE_S": "0.5",
    # a freeze is the stall timeout's here: the endless-evaluation signature (which would
    # race it in real time) has tests of its own
    "PITSTOP_HANG_EVALUATION_LENGTHS": "0",
}


ENDED = ("succeeded", "failed", "cancelled", "rejected")


def at(iso: str) -> float:
    """An event's ISO time as epoch seconds."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def jobs_store(env: dict[str, str]) -> JobStore:
    settings = load_settings(
        None, **{k[8:].lower(): v for k, v in env.items() if k.startswith("PITSTOP_")}
    )
    return JobStore(S3Store.from_settings(settings), Layout(settings.prefix))


def submit(env: dict[str, str], name: str, simulation: dict[str, Any], **fields: Any) -> str:
    jobs = jobs_store(env)
    # the bucket in the content makes the job id unique to this test, even across test runs
    # on one machine (trainer processes are found by job id)
    reward = REWARD + f"# {env['PITSTOP_BUCKET']}\n".encode()
    sub = Submission(
        name=name,
        files={"reward_function.py": reward, **defaults()},
        fields={"simulation": simulation, **fields},
    )
    spec = build_spec(sub)
    jobs.create(spec, sub.files)
    return spec.id


def job(env: dict[str, str], job_id: str) -> dict[str, Any]:
    return job_document(jobs_store(env), job_id)


def job_in(env: dict[str, str], job_id: str, *states: str) -> dict[str, Any] | None:
    """The job document if the job is in one of ``states`` (default: ended), else None."""
    doc = job(env, job_id)
    return doc if doc["state"] in (states or ENDED) else None


END_EVENTS = {"succeeded": "run.succeeded", "failed": "run.failed", "cancelled": "run.cancelled"}


def recorded_end(env: dict[str, str], job_id: str) -> dict[str, Any] | None:
    """The job document once the job ended *and* its ending event is recorded: a supervisor
    writes the state first, then the event, so a test that reads both waits for both."""
    doc = job_in(env, job_id)
    if doc is None:
        return None
    event = END_EVENTS.get(doc["state"])
    return doc if event is None or any(e["event"] == event for e in doc["events"]) else None


def logged_checkpoints(env: dict[str, str], job_id: str) -> dict[int, list[tuple[float, int]]]:
    """(time written, checkpoint number) per attempt, from the trainer logs in S3."""
    jobs = jobs_store(env)
    out: dict[int, list[tuple[float, int]]] = {}
    for key in jobs.logs(job_id):
        parsed = jobs.layout.parse_log_name(key)
        if parsed is None or parsed[1] != "trainer.log":
            continue
        text = jobs.store.get(key).body.decode()
        found = re.findall(r"\[simulated-trainer ([\d.]+)\] checkpoint (\d+)_Step", text)
        out[parsed[0]] = [(float(t), int(c)) for t, c in found]
    return out


def checkpoint_numbers(
    env: dict[str, str], job_id: str, attempts: tuple[int, ...] = ()
) -> list[int]:
    """Checkpoints the attempts (default: all) wrote, sorted."""
    logged = logged_checkpoints(env, job_id)
    return sorted(c for n, w in logged.items() if not attempts or n in attempts for _, c in w)


def trainer_pids(job_id: str) -> list[int]:
    """Live simulated-trainer processes of a job (from /proc/*/environ), zombies excluded."""
    needle = f"PITSTOP_JOB_ID={job_id}".encode()
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if needle not in (p / "environ").read_bytes().split(b"\0"):
                continue
            stat = (p / "stat").read_text()
            cmd = (p / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] != "Z" and b"simulated_run" in cmd:
            pids.append(int(p.name))
    return pids


@dataclass
class SupervisorProc:
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _offset: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> SupervisorProc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pitstop.cli.main", "supervise", "--log-format", "json"],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def events(self) -> list[dict[str, Any]]:
        """Structured log lines so far (JSON); anything else (warnings) is skipped."""
        out = []
        with contextlib.suppress(FileNotFoundError):
            for line in self.log_path.read_text().splitlines():
                if line.startswith("{"):
                    with contextlib.suppress(json.JSONDecodeError):
                        out.append(json.loads(line))
        return out

    def names(self) -> list[str]:
        return [e.get("event", "") for e in self.events()]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def kill_trainers(job_ids: list[str]) -> None:
    for job_id in job_ids:
        for pid in trainer_pids(job_id):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def supervise_until_ended(
    env: dict[str, str], job_id: str, log_path: Path, timeout: float = 60
) -> dict[str, Any]:
    """Run one supervisor process until the job ends; return the job document."""
    from tests.helpers import wait_for

    sup = SupervisorProc(env, log_path).start()
    try:
        doc = wait_for(lambda: job_in(env, job_id), timeout, f"job {job_id} to end")
    finally:
        sup.close()
        kill_trainers([job_id])
    return doc


def start_fleet(supervisors, env: dict[str, str], tag: str, n: int = 2) -> None:  # type: ignore[no-untyped-def]
    """``n`` supervisor processes, each its own instance id and state dir."""
    for i in range(n):
        supervisors(
            env,
            f"{tag}{i}",
            PITSTOP_INSTANCE_ID=f"i-{tag}{i}",
            PITSTOP_STATE_DIR=f"{env['PITSTOP_STATE_DIR']}-{tag}{i}",
        )
