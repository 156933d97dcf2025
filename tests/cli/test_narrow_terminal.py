"""``pitstop jobs`` and ``pitstop status`` on a narrow terminal (issue 27): every line fits,
and job ids and states stay whole (an id is copied into the next command); the instance,
creation time, restarts and attempts are left out first, the reason is cut last. Piped with
no ``COLUMNS``, nothing is cut (a script reads whole rows). The real CLI against moto's S3
server, its output on a real pseudo-terminal (as a user sees it)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store
from tests.cli.test_bad_input import pitstop
from tests.e2e.harness import submit


def on_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with its output on a pseudo-terminal; (exit code, what it showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pitstop.cli.main", *args],
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**os.environ, **env, "NO_COLOR": "1"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = proc.wait(timeout=60)
    assert proc.stderr is not None
    errors = proc.stderr.read()
    assert not errors, errors
    return code, b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def listed(settings_env: dict[str, str]) -> dict[str, str]:
    """Jobs with long ids in several states, one with a long reason and an instance."""
    jobs = JobStore(
        S3Store(settings_env["PITSTOP_BUCKET"], region="us-east-1",
                endpoint_url=settings_env["PITSTOP_S3_ENDPOINT_URL"]),
        Layout(settings_env.get("PITSTOP_PREFIX", "pitstop")),
    )  # fmt: skip
    states = {}
    for name, state in (
        ("demo-centerline-with-a-long-name", JobState.SUCCEEDED),
        ("a-reward-that-follows-the-racing-line", JobState.RESTARTING),
        ("short", JobState.PENDING),
    ):
        job_id = submit(settings_env, name, {"checkpoints": 2})

        def move(s: JobStatus, state: JobState = state) -> JobStatus:
            s.state = state
            s.instance_id = "i-0123456789abcdef0"
            s.reason = "trainer exited with code 3 before model/.finished (unknown cause)"
            return s

        jobs.update(job_id, move)
        states[job_id] = state.value
    return states


@pytest.mark.parametrize("command", ["jobs", "status"])
@pytest.mark.parametrize("columns", [80, 60])
def test_ids_and_states_stay_whole_and_lines_fit(
    settings_env: dict[str, str], listed: dict[str, str], command: str, columns: int
) -> None:
    code, shown = on_terminal(command, env={**settings_env, "COLUMNS": str(columns)})
    assert code == 0, shown
    lines = shown.splitlines()
    assert lines[0].startswith("JOB ") and "STATE" in lines[0]
    widest_id = max(len(j) for j in listed)
    for line in lines:
        # only a row whose id and state alone are wider than the terminal may pass it
        assert len(line) <= max(columns, widest_id + 2 + len("restarting")), line
    for job_id, state in listed.items():
        (row,) = [line for line in lines if line.startswith(job_id + " ")]
        assert row.split()[:2] == [job_id, state], row
    assert "…" not in " ".join(line.split()[0] for line in lines[1:])  # no id cut
    if columns == 80:
        assert "INSTANCE" not in lines[0]  # left out before anything is cut


def test_a_wide_terminal_and_a_pipe_keep_every_column(
    settings_env: dict[str, str], listed: dict[str, str]
) -> None:
    code, wide = on_terminal("jobs", env={**settings_env, "COLUMNS": "300"})
    assert code == 0, wide
    piped = pitstop("jobs", env={**settings_env, "COLUMNS": "60"})  # a pipe is never cut
    assert piped.returncode == 0, piped.stderr
    for text in (wide, piped.stdout):
        head = text.splitlines()[0]
        assert "INSTANCE" in head and "CREATED (UTC)" in head and "RESTARTS" in head
        assert "…" not in text
