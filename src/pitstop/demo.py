"""``pitstop demo``: the whole system on one machine, no AWS account.

An embedded S3-compatible server (moto's server mode) on a loopback port, a sample job on
the simulated trainer that freezes once and crashes once, and a real supervisor process.
The demo follows the job's events in S3 and prints a timeline, then a summary of how long
each fault took to detect and recover from.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pitstop.core.times import parse_iso
from pitstop.errors import PitstopError

DEMO_BUCKET = "pitstop-demo"
DEMO_SIMULATION = {
    "checkpoint_interval_s": 0.45,
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
# events after which an attempt is over: its last checkpoint is in state.json by then
ENDINGS = frozenset({"run.crashed", "run.succeeded", "run.failed", "run.cancelled"})
JOB_ENDINGS = frozenset({"run.succeeded", "run.failed", "run.cancelled"})


def _several(first: int, last: int, name: object, seen_by: str) -> str:
    both = "both" if last - first == 1 else f"all {last - first + 1}"
    joined = "and" if last - first == 1 else "to"
    return f"checkpoints {first} {joined} {last} ({name}; {seen_by} found {both})"


def checkpoint_number(name: str | None) -> int | None:
    """``5_Step-5000.ckpt`` -> 5 (DRfC numbers checkpoints across attempts)."""
    head = (name or "").split("_", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass
class Timeline:
    """The demo's lines, from the job's events and what ``state.json`` says of attempts.

    A checkpoint written between two polls has no event of its own; it is shown (marked as
    such) when a later checkpoint or the end of its attempt reveals it, so the timeline
    names every checkpoint the summary does."""

    t0: float
    lines: list[dict[str, Any]] = field(default_factory=list)
    last_checkpoint: int | None = None

    def add(self, event: dict[str, Any], attempts: list[dict[str, Any]] | None = None) -> list[str]:
        self.lines.append(event)
        kind = str(event.get("event"))
        out: list[str] = []
        if kind in ENDINGS:
            out += self._catch_up(event, attempts or [])
        template = DESCRIBE.get(kind)
        if template is None:
            return out
        values = {k: ("-" if v is None else v) for k, v in event.items()}
        if kind == "run.stalled":  # the reason starts "stall: ..." and the line says STALL
            values["reason"] = str(values.get("reason", "")).removeprefix("stall: ")
        try:
            text = template.format_map(values)
        except (KeyError, ValueError):
            text = kind
        if kind == "run.checkpointed":
            n = checkpoint_number(event.get("checkpoint"))
            # the demo's job starts from nothing: its first checkpoint is number 1
            seen = self.last_checkpoint or 0
            if n is not None and n > seen + 1:
                text = _several(seen + 1, n, event.get("checkpoint"), "one poll")
            if n is not None:
                self.last_checkpoint = max(n, self.last_checkpoint or 0)
        out.append(self._line(event["at"], text))
        return out

    def _catch_up(self, event: dict[str, Any], attempts: list[dict[str, Any]]) -> list[str]:
        """The attempt's checkpoints that no poll saw before it ended."""
        mine = [a for a in attempts if a.get("n") == event.get("attempt")]
        if not mine:
            return []
        name = mine[0].get("last_checkpoint")
        n = checkpoint_number(name)
        if n is None or (self.last_checkpoint is not None and n <= self.last_checkpoint):
            return []
        first = (self.last_checkpoint or 0) + 1
        self.last_checkpoint = n
        text = (
            f"checkpoint {name} (written after the last poll, found when the attempt ended)"
            if first == n
            else _several(first, n, name, "the end of the attempt")
        )
        return [self._line(mine[0].get("ended_at") or event["at"], text)]

    def _line(self, at: str, text: str) -> str:
        t = max(0.0, _ts(at) - self.t0)
        return f"  t+{t:6.1f}s  {text}"


def _ts(at: str) -> float:
    return parse_iso(at).timestamp()


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
    """Run the demo; the summary's ``server`` is the live S3 server when ``keep``.

    The work folder (``/tmp/pitstop-demo-*``: the supervisor's state and log) is removed at
    the end, after Ctrl-C or SIGTERM too, unless ``keep``; a demo that fails keeps it, since
    the error names the supervisor's log in it."""
    import logging

    server_class = embedded_s3_server()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the terminal
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    server = server_class(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    work = Path(tempfile.mkdtemp(prefix="pitstop-demo-"))
    keep_work, keep_server = False, False
    restore = _sigterm_interrupts()
    try:
        summary = _run(f"http://127.0.0.1:{server._port}", work, out, timeout_s)
        keep_work = keep_server = keep
        summary["work_dir"] = str(work) if keep else None
        if keep:
            summary["server"] = server
            config = work / "supervisor.toml"
            config.write_text(supervisor_settings(summary["endpoint"], work))
            summary["supervisor_config"] = str(config)
        return summary
    except PitstopError:
        keep_work = True  # the error names the supervisor's log in it
        raise
    finally:
        restore()
        if not keep_server:
            server.stop()
        if not keep_work:
            _remove(work)


def _sigterm_interrupts() -> Callable[[], None]:
    """Until the returned function is called, SIGTERM interrupts like Ctrl-C (so the demo
    cleans up when it is killed politely); only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def _run(endpoint: str, work: Path, out: Callable[[str], None], timeout_s: float) -> dict[str, Any]:
    from pitstop import reward_funcs
    from pitstop.intake import Submission, build_spec, defaults
    from pitstop.reward_funcs import catalog
    from pitstop.store.jobs import JobStore, job_document
    from pitstop.store.layout import Layout
    from pitstop.store.objects import S3Store

    env = {
        # the demo's supervisor reads the demo's settings only, never the user's PITSTOP_*
        **{k: v for k, v in os.environ.items() if not k.startswith("PITSTOP_")},
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
        fields={
            "simulation": DEMO_SIMULATION,
            "world": "reInvent2019_track",
            "evaluate_on": ["reInvent2019_track"],  # queued once training succeeds
        },
        source="demo",
    )
    spec = build_spec(sub)
    jobs.create(spec, sub.files)
    log_path = work / "supervisor.log"
    out(f"S3-compatible server on {endpoint}, bucket {DEMO_BUCKET}")
    out(f"submitted job {spec.id}: 10 checkpoints, freezes in attempt 1, crashes in attempt 2")
    out(
        f"supervisor: stall timeout {DEMO_SETTINGS['PITSTOP_STALL_TIMEOUT_S']} s, poll "
        f"{DEMO_SETTINGS['PITSTOP_POLL_INTERVAL_S']} s (log: {log_path})"
    )
    out("")
    # Ctrl-C or SIGTERM is held while the supervisor starts: one that lands inside Popen
    # would leave a supervisor nobody stops, writing into the work folder as it is removed
    with _signals_held() as held:
        log = log_path.open("wb")
        sup = subprocess.Popen(
            [sys.executable, "-m", "pitstop.cli.main", "supervise", "--log-format", "json"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if held:
        _stop(sup, log)
        raise KeyboardInterrupt
    timeline = Timeline(t0=time.time())
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            # one listing and only the new events, then the state: an attempt's record is
            # written before the event that ends it, so the state read after has it
            new = jobs.events(spec.id, seen)
            status = jobs.status(spec.id)[0]
            ended_by = time.monotonic() + 5.0
            while status.state.is_terminal() and time.monotonic() < ended_by:
                # the event that ends the job is written just after its state: wait for it
                if any(e.get("event") in JOB_ENDINGS for e in timeline.lines + new):
                    break
                new += jobs.events(spec.id, seen)
                time.sleep(0.1)
            attempts = [a.model_dump() for a in status.attempts]
            for e in new:
                for line in timeline.add(e, attempts):
                    out(line)
            if status.state.is_terminal():
                break
            if sup.poll() is not None:
                raise PitstopError(
                    f"the supervisor exited with code {sup.returncode}; see {log_path}"
                )
            time.sleep(0.3)
        else:
            raise PitstopError(f"the demo job did not finish in {timeout_s:.0f} s; see {log_path}")
        evaluation = _evaluation(jobs, spec, out, sup, deadline, log_path)
    finally:
        _stop(sup, log)
    doc = job_document(jobs, spec.id)
    return {
        "job_id": spec.id,
        "state": doc.get("state"),
        "reason": doc.get("reason"),
        "attempts": doc.get("attempts", []),
        "faults": fault_figures(doc),
        "endpoint": endpoint,
        "bucket": DEMO_BUCKET,
        "evaluation": evaluation,
    }


@contextlib.contextmanager
def _signals_held() -> Iterator[list[int]]:
    """SIGINT and SIGTERM are noted, not raised, inside the block (main thread only); the
    yielded list holds those that arrived. A handler, unlike a blocked mask, is not inherited
    by a child that execs."""
    arrived: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived
        return

    def note(signum: int, frame: Any) -> None:
        arrived.append(signum)

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield arrived
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop(sup: subprocess.Popen[bytes], log: Any) -> None:
    sup.terminate()
    try:
        sup.wait(15)
    except subprocess.TimeoutExpired:
        sup.kill()
        sup.wait()
    log.close()


def _remove(work: Path) -> None:
    """Remove the work folder; a late write by a dying child (ENOTEMPTY) gets a second try."""
    for _ in range(5):
        shutil.rmtree(work, ignore_errors=True)
        if not work.exists():
            return
        time.sleep(0.2)


def _evaluation(
    jobs: Any, spec: Any, out: Callable[[str], None], sup: Any, deadline: float, log_path: Path
) -> dict[str, Any] | None:
    """The evaluation the training job queued: wait for it, print its laps and the board."""
    from pitstop.evaluation.board import leaderboard
    from pitstop.evaluation.jobs import evaluations_after, read_results

    status = jobs.status(spec.id)[0]
    queued = evaluations_after(spec, status)
    if status.state.value != "succeeded" or not queued:
        return None
    eval_id = queued[0].id
    out("")
    out(f"evaluation {eval_id} queued on {queued[0].world}: 3 laps of the final checkpoint")
    while time.monotonic() < deadline:
        try:
            state = jobs.status(eval_id)[0].state
        except PitstopError:  # not written yet: the supervisor queues it as it ends the job
            state = None
        if state is not None and state.is_terminal():
            break
        if sup.poll() is not None:
            raise PitstopError(f"the supervisor exited with code {sup.returncode}; see {log_path}")
        time.sleep(0.3)
    else:
        raise PitstopError(f"the evaluation did not finish; see {log_path}")
    res = read_results(jobs, eval_id)
    laps = ", ".join(
        f"{r.time_ms / 1000:.2f} s" + ("" if r.complete else f" ({r.status.lower()})")
        for r in res.laps
    )
    out(f"laps: {laps}")
    board = leaderboard(jobs, res.world, top=1)
    if board:
        top = board[0]
        out(
            f"leaderboard {res.world}: 1. {top.model} {top.lap_ms / 1000:.3f} s "
            f"({top.resets} resets)  -> pitstop leaderboard {res.world}"
        )
    return {"job_id": eval_id, **res.summary.model_dump()}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The summary in words (what ``pitstop demo`` prints; the summary itself is --json).
ATTEMPT_HEADERS = ["ATTEMPT", "OUTCOME", "PRETRAINED", "LAST CHECKPOINT", "TRAINED S"]


def attempt_rows(summary: dict[str, Any]) -> list[list[object]]:
    keys = ("n", "outcome", "pretrained_checkpoint", "last_checkpoint")
    return [[*(a[k] for k in keys), f"{a['training_s']:.1f}"] for a in summary["attempts"]]


def outcome_lines(summary: dict[str, Any]) -> list[str]:
    """A line per fault, then the job's final state."""
    faults = [
        f"{f['fault']:>6} in attempt {f['attempt']}: detected {f['detect_s']} s after the last "
        f"checkpoint, training back {f['recover_s']} s later"
        for f in summary["faults"]
    ]
    return [*faults, f"\nfinal state: {summary['state']}: {summary['reason']}"]


def supervisor_settings(endpoint: str, work: Path) -> str:
    """A settings file (TOML) for one more supervisor on the kept demo: the demo's own, so
    it runs the queued evaluation and any ``pitstop tune`` on the simulated trainer."""
    values: dict[str, str] = {
        **{k.removeprefix("PITSTOP_").lower(): v for k, v in DEMO_SETTINGS.items()},
        "bucket": DEMO_BUCKET,
        "s3_endpoint_url": endpoint,
        "region": "us-east-1",
        "state_dir": str(work / "state"),
    }
    lines = []
    for key, value in values.items():
        try:
            float(value)
            lines.append(f"{key} = {value}")
        except ValueError:
            lines.append(f"{key} = {json.dumps(value)}")  # a JSON string is a TOML string
    return (
        "# pitstop demo --keep: a supervisor for the demo's S3 server\n" + "\n".join(lines) + "\n"
    )


def keep_lines(summary: dict[str, Any]) -> list[str]:
    """With ``--keep``: the settings that reach the demo's S3 server, and what to run."""
    return [
        "\nThe S3 server stays up until Ctrl-C. In another shell:",
        f"  export PITSTOP_BUCKET={summary['bucket']} "
        f"PITSTOP_S3_ENDPOINT_URL={summary['endpoint']} "
        "AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo",
        f"  pitstop jobs && pitstop job {summary['job_id']}",
        f"The supervisor's state and log: {summary['work_dir']}",
        "The live dashboard (queue, curves with the stall and crash marked, logs):",
        "  pitstop serve --port 8080    # then open the address it prints",
        "The demo's supervisor has ended: what you queue now ('pitstop evaluate', 'pitstop"
        " tune') waits for one. Run one on the demo's settings (Ctrl-C stops it):",
        f"  pitstop supervise --config {summary['supervisor_config']}",
    ]
