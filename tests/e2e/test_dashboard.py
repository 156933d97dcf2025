"""``pitstop serve`` as a real process against moto's S3 server, with real supervisors.

Jobs in several states (the demo's freeze+crash job among them, one training, one queued,
one rejected, one with a hostile name); the JSON API and the pages are checked, the pages
in headless Chromium (Debian's package; those checks skip without it).
Set ``DASHBOARD_SCREENSHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pitstop.core.states import JobState
from pitstop.demo import DEMO_SIMULATION
from pitstop.intake import Submission, build_spec, defaults
from tests.e2e.harness import REWARD, jobs_store, start_fleet, submit
from tests.helpers import scaled, wait_for
from tests.serve.browser import CHROMIUM, headless
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str, token: str) -> None:
        self.proc, self.url, self.token = proc, url, token

    def call(
        self, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        req = urllib.request.Request(self.url + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def api(self, path: str) -> Any:
        status, doc = self.call(path)
        assert status == 200, doc
        return doc


def start_serve(env: dict[str, str], *extra: str) -> Served:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pitstop.cli.main", "serve", "--port", str(port), *extra],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    while not any("write token" in line for line in lines):
        line = proc.stdout.readline()
        assert line, f"pitstop serve exited: {''.join(lines)}"
        lines.append(line)
    token = re.search(r"write token \(cancel\): (\S+)", "".join(lines))
    assert token is not None
    return Served(proc, f"http://127.0.0.1:{port}", token.group(1))


@pytest.fixture
def serve(e2e_env: dict[str, str]) -> Iterator[Any]:
    started: list[Served] = []

    def start(*extra: str) -> Served:
        started.append(start_serve(e2e_env, *extra))
        return started[-1]

    yield start
    for s in started:
        s.proc.terminate()
        s.proc.wait(10)


def chromium(url: str, *, shot: Path | None = None, budget_ms: int = 6000) -> str:
    """The DOM after the page's scripts ran for ``budget_ms`` of virtual time (and a
    screenshot when ``shot``)."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        args = [
            *headless(profile),
            f"--virtual-time-budget={budget_ms}",
            "--window-size=1400,1300",
        ]
        if shot is not None:
            subprocess.run(
                [*args, f"--screenshot={shot}", url], capture_output=True, timeout=90, check=False
            )
            assert shot.is_file(), "chromium wrote no screenshot"
        out = subprocess.run(
            [*args, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False
        )
    return out.stdout


def keep(shot: Path) -> None:
    where = os.environ.get("DASHBOARD_SCREENSHOTS")
    if where:
        shutil.copy(shot, Path(where) / shot.name)


def test_dashboard_against_a_live_queue(
    e2e_env: dict[str, str], supervisors: Any, serve: Any, tmp_path: Path
) -> None:
    env = e2e_env
    demo = submit(env, "demo freeze+crash", DEMO_SIMULATION)
    long = submit(env, "long run", {"checkpoint_interval_s": 0.5, "checkpoints": 200})
    supervisors.job_ids.extend([demo, long])  # type: ignore[attr-defined]
    start_fleet(supervisors, env, "dash", n=2)
    s = serve("--spot-price", "0.5", "--scan-interval", "1")

    # the queue: every job with its state, in one listing
    def states() -> dict[str, str]:
        return {j["id"]: j["state"] for j in s.api("/api/jobs")["jobs"]}

    wait_for(
        lambda: states().get(long) == "running" and states().get(demo) != "pending",
        30,
        "both supervisors to train",
        interval=0.5,
    )
    queued = submit(env, "queued", {"checkpoints": 3})  # both instances busy: stays queued
    jobs = jobs_store(env)
    sub = Submission(
        name="名前 🏎️ ~/../odd\tname",
        files={"reward_function.py": REWARD + b"# bad\n", **defaults()},
    )
    rejected = build_spec(sub)
    jobs.create(rejected, sub.files, state=JobState.REJECTED, reason="reward_function: bad")
    supervisors.job_ids.append(queued)  # type: ignore[attr-defined]
    got = wait_for(
        lambda: (st := states()) and len(st) == 4 and st, 10, "four jobs listed", interval=0.5
    )
    assert got[queued] == "pending" and got[rejected.id] == "rejected"
    row = next(j for j in s.api("/api/jobs")["jobs"] if j["id"] == rejected.id)
    assert row["name"] == "名前 🏎️ ~/../odd\tname"
    assert [j["id"] for j in s.api("/api/jobs?state=pending")["jobs"]] == [queued]
    assert s.call("/api/jobs?state=bogus")[0] == 400

    # cancel: refused without the token or with a wrong one, done with it
    assert s.call(f"/api/jobs/{queued}/cancel", method="POST")[0] == 403
    bad = {"X-Pitstop-Token": "nope"}
    assert s.call(f"/api/jobs/{queued}/cancel", method="POST", headers=bad)[0] == 403
    assert states()[queued] == "pending"
    good = {"X-Pitstop-Token": s.token}
    status, doc = s.call(f"/api/jobs/{queued}/cancel", method="POST", headers=good)
    assert (status, doc["state"]) == (200, "cancelled")
    assert states()[queued] == "cancelled"
    again = s.call(f"/api/jobs/{queued}/cancel", method="POST", headers=good)
    assert again == (200, {"id": queued, "state": "cancelled", "cancel_requested": False})
    assert s.call("/api/jobs/NOT%20AN%20ID", method="GET")[0] == 400
    evil = {"Host": "evil.example:80"}
    assert s.call("/api/jobs", headers=evil)[0] == 403

    # the log tail grows while the long job trains
    def log_size() -> int:
        logs = [
            lg for lg in s.api(f"/api/jobs/{long}")["logs"] if lg["name"].endswith("trainer.log")
        ]
        if not logs:
            return 0
        tail = s.api(f"/api/jobs/{long}/log?name={logs[-1]['name']}&offset=0")
        assert tail["size"] == len(tail["text"].encode()) or tail["size"] > 64 * 1024
        return int(tail["offset"])

    first = wait_for(log_size, 30, "the long job's trainer log in S3", interval=0.5)
    wait_for(lambda: log_size() > first, 30, "the log tail to grow", interval=0.5)
    name = [lg for lg in s.api(f"/api/jobs/{long}")["logs"] if lg["name"].endswith("trainer.log")][
        -1
    ]["name"]
    rest = s.api(f"/api/jobs/{long}/log?name={name}&offset={first}")
    assert rest["offset"] >= first and (rest["text"] or rest["offset"] == first)

    # the fleet: both instances' heartbeats, one of them on the long job
    fleet = wait_for(
        lambda: (f := s.api("/api/fleet")) and len(f["instances"]) == 2 and f,
        20,
        "two heartbeats",
        interval=0.5,
    )
    assert {i["instance_id"] for i in fleet["instances"]} == {"i-dash0", "i-dash1"}
    assert long in {i["job_id"] for i in fleet["instances"]}
    assert all(i["age_s"] < scaled(30) for i in fleet["instances"])

    # the demo job ends with its stall, crash and restarts marked
    wait_for(lambda: states()[demo] == "succeeded", 90, "the demo job to succeed", interval=0.5)
    doc = s.api(f"/api/jobs/{demo}")
    kinds = {m["kind"] for m in doc["markers"]}
    assert {"stall", "crash", "restart"} <= kinds, doc["markers"]
    assert len(doc["series"]) == 3 and all(x["points"] for x in doc["series"])
    assert doc["checkpoints"] and doc["cost"] is not None

    # pages in a real browser
    if CHROMIUM is not None:
        shot = tmp_path / "dashboard-queue.png"
        dom = chromium(s.url + "/", shot=shot)
        for job_id, state in [
            (demo, "succeeded"),
            (queued, "cancelled"),
            (rejected.id, "rejected"),
        ]:
            assert f'data-job="{job_id}" data-state="{state}"' in dom, dom[-3000:]
        assert f'data-job="{long}" data-state="running"' in dom
        keep(shot)
        shot = tmp_path / "dashboard-job.png"
        dom = chromium(f"{s.url}/jobs/{demo}", shot=shot)
        m = re.search(r'data-marker-kinds="([^"]*)"', dom)
        assert m is not None and {"crash", "restart", "stall"} <= set(m.group(1).split()), dom[
            :2000
        ]
        assert re.search(r'data-points="([1-9]\d*)"', dom)
        assert "<canvas" in dom  # uPlot drew
        keep(shot)
        _assert_marker_colours(shot)
        _assert_fits_1280(s.url, demo, long)

    # a running job: cancel requested, its supervisor stops it
    status, doc = s.call(f"/api/jobs/{long}/cancel", method="POST", headers=good)
    assert status == 200 and doc["cancel_requested"]
    wait_for(
        lambda: states()[long] == "cancelled", 30, "the long job to be cancelled", interval=0.5
    )


def _assert_fits_1280(url: str, *job_ids: str) -> None:
    """At 1280x900, with real jobs (a finished one with its chart, one training): no element
    overlaps another, no table is wider than the viewport (tests/serve/test_dashboard_layout.py)."""
    from tests.serve.browser import Browser
    from tests.serve.test_dashboard_layout import GEOMETRY, UPDATED

    b = Browser(1280, 900)
    try:
        for path in ["/", *(f"/jobs/{j}" for j in job_ids)]:
            b.open(url + path)
            b.wait_until(f"!!({UPDATED})", 15, f"{path} to draw")
            problems = b.evaluate(GEOMETRY)
            assert problems == [], f"{path}: " + "; ".join(problems)
    finally:
        b.close()


def _assert_marker_colours(shot: Path) -> None:
    """The crash marker's red (#dc2626) and the stall's amber (#f59e0b) are drawn."""
    from matplotlib import image

    rgb = (image.imread(str(shot))[..., :3] * 255).astype(int)

    def count(r: int, g: int, b: int) -> int:
        near = (
            (abs(rgb[..., 0] - r) < 30) & (abs(rgb[..., 1] - g) < 30) & (abs(rgb[..., 2] - b) < 30)
        )
        return int(near.sum())

    assert count(0xDC, 0x26, 0x26) > 200, "no crash marker drawn"
    assert count(0xF5, 0x9E, 0x0B) > 200, "no stall marker drawn"


def test_host_0000_warns_and_bad_port_is_one_line(e2e_env: dict[str, str]) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pitstop.cli.main",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
        ],
        env={**os.environ, **e2e_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "warning: --host 0.0.0.0" in line
    finally:
        proc.terminate()
        proc.wait(10)
    out = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", "serve", "--port", "70000"],
        env={**os.environ, **e2e_env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0, out.stderr


def test_half_sent_requests_leave_serve_with_its_workers_only(
    e2e_env: dict[str, str], serve: Any
) -> None:
    """The real process: ``--workers`` and ``--read-timeout`` bound its threads
    (``/proc/PID/task``) however many connections hang half-sent."""
    import socket

    from tests.serve.test_server import _dropped

    s = serve("--workers", "2", "--read-timeout", "1")

    def threads() -> int:
        return len(os.listdir(f"/proc/{s.proc.pid}/task"))

    idle = threads()  # the main thread (accepting) and the 2 workers
    assert idle <= 3 + 2, idle  # (and whatever the interpreter may run)
    port = int(s.url.rsplit(":", 1)[1])
    conns = []
    try:
        for _ in range(300):
            c = socket.create_connection(("127.0.0.1", port), timeout=30)
            c.sendall(b"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            conns.append(c)
        # a request in progress may list jobs/ with 2 threads of its own, no more
        assert threads() <= idle + 2 * 2, (idle, threads())

        def answered() -> bool:
            try:
                return s.call("/api/jobs")[0] == 200
            except (OSError, ValueError):  # refused (503, reset) while every worker is taken
                return False

        wait_for(answered, 60, "a whole request to be answered", interval=0.2)
        for c in conns:
            assert _dropped(c, 60), "a half-sent request was held past --read-timeout"
        assert threads() <= idle + 2 * 2, (idle, threads())
    finally:
        for c in conns:
            c.close()
