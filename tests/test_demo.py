"""`pitstop demo` end to end: the real command, its own S3 server and supervisor."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.e2e
def test_demo_recovers_freeze_and_crash_and_exits_zero() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)
    assert doc["state"] == "succeeded"
    assert [a["outcome"] for a in doc["attempts"]] == ["stalled", "crashed", "succeeded"]
    faults = {f["fault"]: f for f in doc["faults"]}
    assert set(faults) == {"freeze", "crash"}
    # the freeze is detected after the stall timeout (4 s), within two polls (+1 s timestamp resolution)
    assert 3.0 <= faults["freeze"]["detect_s"] <= 4 + 2 * 0.5 + 1.5
    assert (
        faults["crash"]["recover_s"] is not None and faults["crash"]["recover_s"] >= 1.0
    )  # the backoff


def test_demo_prints_a_readable_timeline() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", "demo"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for needle in (
        "STALL detected",
        "CRASH detected",
        "final state: succeeded",
        "freeze in attempt 1",
    ):
        assert needle in r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.e2e
def test_demo_keep_leaves_the_server_up_for_pitstop_jobs() -> None:
    import os
    import re
    import signal

    from tests.helpers import wait_for

    p = subprocess.Popen(
        [sys.executable, "-m", "pitstop.cli.main", "demo", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert p.stdout is not None

        def exports() -> str | None:
            line = p.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            return line if line.strip().startswith("export ") else None

        line = wait_for(exports, 240, "the settings to explore the demo")
        env = dict(os.environ)
        env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
        r = subprocess.run(
            [sys.executable, "-m", "pitstop.cli.main", "jobs", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        jobs = json.loads(r.stdout)
        assert len(jobs) == 1 and jobs[0]["state"] == "succeeded"
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(30)
