"""`pitstop demo` end to end: the real command, its own S3 server and supervisor."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import scaled


@pytest.mark.e2e
def test_two_demos_at_once_each_tell_their_full_story(tmp_path: Path) -> None:
    """Two demos on one host hold the same job id and instance id (issue 23, item 2); each
    supervisor stops only its own trainers (its state directory's token), so neither story
    gains a "CRASH code -15" or ends with its supervisor gone. Each recovers its freeze and
    its crash as one demo alone does."""
    procs = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "pitstop.cli.main", "demo", "--json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "TMPDIR": str(tmp_path / name)},
            )
        )
    try:
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    docs = []
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
        docs.append(json.loads(out))
    assert docs[0]["job_id"] == docs[1]["job_id"]  # the same job: only the token tells apart
    for doc in docs:
        assert doc["state"] == "succeeded", doc
        outcomes = [a["outcome"] for a in doc["attempts"]]
        # the freeze, the crash, the success; a CPU starved past the demo's fixed 4 s stall
        # timeout may add a stall of its own (seen at load 15), never anything else
        assert outcomes[:2] == ["stalled", "crashed"] and outcomes[-1] == "succeeded", outcomes
        assert set(outcomes[2:-1]) <= {"stalled"}, outcomes
        assert {f["fault"] for f in doc["faults"]} == {"freeze", "crash"}
        assert "-15" not in json.dumps(doc)
        assert doc["evaluation"]["laps"] == 3 and doc["evaluation"]["best_ms"] is not None
        faults = {f["fault"]: f for f in doc["faults"]}
        # the freeze is never detected before the demo's stall timeout (4 s, -1 s: timestamps
        # have a 1 s resolution); the upper bound is a sanity check, generous on a busy machine
        assert 3.0 <= faults["freeze"]["detect_s"] <= 4 + scaled(10)
        recover = faults["crash"]["recover_s"]
        assert recover is not None and recover >= 1.0  # the backoff
    for name in ("one", "two"):
        assert list((tmp_path / name).iterdir()) == []  # each work folder is gone


def assert_readable_timeline(stdout: str) -> None:
    """The demo's story in words: both faults found, every checkpoint named (even one no
    poll saw), and the evaluation the job queued with its laps and leaderboard line."""
    for needle in (
        "STALL detected: ",  # the endless evaluation's signature, or the stall timeout
        "CRASH detected",
        "final state: succeeded: training finished",
        "freeze in attempt 1",
    ):
        assert needle in stdout
    assert "stall: " not in stdout
    timeline = stdout.split("\nATTEMPT")[0]
    shown: set[int] = set()
    for first, last in re.findall(r"checkpoints (\d+) (?:and|to) (\d+)", timeline):
        shown |= set(range(int(first), int(last) + 1))
    shown |= {int(n) for n in re.findall(r"checkpoint (\d+)_Step", timeline)}
    assert shown == set(range(1, 11)), timeline
    assert re.search(r"evaluation \S+ queued on reInvent2019_track", stdout), stdout
    assert re.search(r"laps: \d+\.\d\d s", stdout)
    assert re.search(
        r"leaderboard reInvent2019_track: 1\. demo-centerline-\S+ \d+\.\d{3} s", stdout
    )


def default_sigint() -> None:
    """In the child: SIGINT as a terminal delivers it. A suite started in the background
    (``cmd &``) inherits SIGINT ignored, and Python then installs no handler for it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_demo_removes_its_folder(sig: signal.Signals, tmp_path: Path) -> None:
    from tests.helpers import wait_for

    p = subprocess.Popen(
        [sys.executable, "-m", "pitstop.cli.main", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        preexec_fn=default_sigint,
    )
    try:
        wait_for(
            lambda: any((d / "supervisor.log").exists() for d in tmp_path.glob("pitstop-demo-*")),
            60,
            "the demo's supervisor to start",
        )
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1] == "pitstop: interrupted" and "Traceback" not in err
    assert list(tmp_path.glob("pitstop-demo-*")) == []


def test_a_checkpoint_no_poll_saw_is_named_before_the_end_of_its_attempt() -> None:
    from pitstop.demo import Timeline

    t = Timeline(t0=0.0)
    at = "1970-01-01T00:00:%02dZ"

    def ev(kind: str, sec: int, **kw: object) -> dict[str, object]:
        return {"event": kind, "at": at % sec, "attempt": 1, **kw}

    lines = t.add(ev("run.checkpointed", 1, checkpoint="1_Step-1000.ckpt"))
    lines += t.add(ev("run.checkpointed", 3, checkpoint="3_Step-3000.ckpt"))
    ended = [{"n": 1, "last_checkpoint": "5_Step-5000.ckpt", "ended_at": at % 6}]
    lines += t.add(ev("run.crashed", 6, reason="trainer exited with code 3"), ended)
    assert lines == [
        "  t+   1.0s  checkpoint 1_Step-1000.ckpt",
        "  t+   3.0s  checkpoints 2 and 3 (3_Step-3000.ckpt; one poll found both)",
        "  t+   6.0s  checkpoints 4 and 5 (5_Step-5000.ckpt; the end of the attempt found both)",
        "  t+   6.0s  CRASH detected: trainer exited with code 3",
    ]


def test_progress_goes_to_a_terminal_only() -> None:
    import io

    from pitstop.cli.output import progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    progress(tty)("t+ 1.0s checkpoint 1")
    progress(pipe)("t+ 1.0s checkpoint 1")
    assert tty.getvalue() == "t+ 1.0s checkpoint 1\n" and pipe.getvalue() == ""


def test_checkpoints_before_the_first_poll_are_named_too() -> None:
    # a busy machine: the supervisor's first poll already finds checkpoint 2
    from pitstop.demo import Timeline

    t = Timeline(t0=0.0)
    lines = t.add(
        {"event": "run.checkpointed", "at": "1970-01-01T00:00:02Z", "attempt": 1,
         "checkpoint": "2_Step-2000.ckpt"}
    )  # fmt: skip
    assert lines == ["  t+   2.0s  checkpoints 1 and 2 (2_Step-2000.ckpt; one poll found both)"]
