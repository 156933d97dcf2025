"""Run reward functions in a confined child process with time and memory limits (parent side).

Reward code comes from the inbox, so the child is treated as hostile. This side starts it
with a minimal environment (no ``AWS_*``, ``PITSTOP_*`` or anything else inherited: only
``PATH``, the locale and Python's own switches) and tells it which user to become; the child
(``_child.py``, ``confine.py``) confines itself before any reward code runs: no network (its
own network namespace, or the guard), no new privileges, an unprivileged user (``nobody``
when started as root, or ``Limits.user``), its resource limits, and an audit hook that
records every attempt at files, network or processes. All of that happens in the child,
not in a ``preexec_fn``, which is unsafe in a threaded caller such as the supervisor. It
reports one JSON line per source.

This side enforces a wall-clock limit: a child that does not finish is killed (only
that child, by its pid) and the state it was running is read back from a small shared
progress file, so even an uninterruptible hang is reported with its params.
"""

from __future__ import annotations

import json
import mmap
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pitstop
from pitstop.reward_funcs.confine import NOBODY

MAX_MESSAGE = 300  # a failure message is cut to this many characters
MAX_RESULTS = 64 << 20  # result lines kept from the child (values of large sweeps)
STDERR_TAIL = 2000  # the last bytes of what rewards print, kept for a killed child's report
PRINT_WARNING = 1 << 20  # a reward that prints more than this during the check is named


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox run."""

    call_seconds: float = 1.0  # one reward call longer than this is a hang
    budget_seconds: float = 5.0  # soft: stop sweeping (and say so) after this much time
    memory_bytes: int = 512 * 1024 * 1024  # address space the reward may add
    startup_seconds: float = 10.0  # margin for interpreter start and module load
    user: str = "nobody"  # who the child becomes when started as root (a name or a uid)
    # the layers can be turned off one at a time to measure what each holds by itself
    # (tests, docs/security.md); never in production
    network_namespace: bool = True
    guard: bool = True
    file_wall: bool = True  # the mount namespace and Landlock (confine.py)
    # refuse to run reward code when no kernel wall holds the file system (the queue's
    # check of inbox code); a local check of one's own file may run without one
    require_file_wall: bool = True

    def wall_seconds(self, sources: int) -> float:
        return self.startup_seconds + sources * (self.budget_seconds + self.call_seconds + 1.0)


@dataclass
class ChildResult:
    """What happened to one source in the child."""

    index: int
    calls: int = 0
    cases_total: int = 0
    failure: dict[str, Any] | None = None
    call_seconds_total: float = 0.0
    max_call_seconds: float = 0.0
    values: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    isolation: dict[str, Any] | None = None  # what the child did to confine itself
    printed_bytes: int = 0  # what the rewards printed (the parent kept STDERR_TAIL of it)


def _child_env() -> dict[str, str]:
    """A minimal, explicit environment: nothing of the parent's (credentials, settings)."""
    src_dir = str(Path(pitstop.__file__).resolve().parent.parent)
    old = os.environ.get("PYTHONPATH")
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": src_dir + (os.pathsep + old if old else ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1",
        "PYTHONSAFEPATH": "1",  # 3.11+: the working directory is not an import path
    }
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def _identity(user: str) -> dict[str, Any]:
    """uid/gid of the sandbox user (``nobody``'s 65534 when the name is unknown here)."""
    import pwd

    try:
        pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
        return {"user": pw.pw_name, "uid": pw.pw_uid, "gid": pw.pw_gid}
    except KeyError:
        if user.isdigit():
            return {"user": f"uid {user}", "uid": int(user), "gid": int(user)}
        return {"user": user, "uid": NOBODY, "gid": NOBODY}


def describe_exit(rc: int) -> tuple[str, str]:
    """(rule, message) for a process that ended with ``rc`` (negative: killed by a signal),
    as a reward's failure: the sandbox child's worker and the child itself."""
    if rc >= 0:
        return "killed", f"exited with status {rc}"
    if -rc == signal.SIGXCPU:
        return "timeout", "exceeded its CPU time limit and was killed"
    if -rc == signal.SIGKILL:
        return "memory", "was killed (memory or time limit)"
    try:
        name = signal.Signals(-rc).name
    except ValueError:
        name = f"signal {-rc}"
    return "killed", f"was killed by {name}"


@dataclass
class _Output:
    """What the parent kept of the child's output: bounded, whatever the reward prints."""

    out: bytearray = field(default_factory=bytearray)  # the result lines (at most MAX_RESULTS)
    err_tail: bytes = b""  # the last STDERR_TAIL bytes of stderr
    err_total: int = 0  # every byte printed
    out_over: bool = False

    def take(self, name: str, chunk: bytes) -> None:
        if name == "out":
            if len(self.out) + len(chunk) > MAX_RESULTS:
                self.out_over = True
            else:
                self.out += chunk
            return
        self.err_total += len(chunk)
        self.err_tail = (self.err_tail + chunk)[-STDERR_TAIL:]


def _wait(
    proc: subprocess.Popen[bytes],
    progress: mmap.mmap,
    limits: Limits,
    n_sources: int,
) -> tuple[_Output, bool]:
    """Read the child's output (bounded) until it exits; kill it when one call hangs past
    the limit, time runs out or it reports too much. Returns (output, killed).

    The child interrupts a slow call itself (SIGALRM); this catches the calls that swallow
    that interruption or sit in C code. Only this child is killed (its worker dies with it).
    """
    import selectors

    assert proc.stdout is not None and proc.stderr is not None
    got = _Output()
    sel = selectors.DefaultSelector()
    for name, pipe in (("out", proc.stdout), ("err", proc.stderr)):
        os.set_blocking(pipe.fileno(), False)
        sel.register(pipe, selectors.EVENT_READ, name)
    deadline = time.monotonic() + limits.wall_seconds(n_sources)
    stall_after = limits.call_seconds + 1.0
    last = struct.unpack_from("qq", progress, 0)
    last_change = time.monotonic()
    killed = False
    while sel.get_map():
        for key, _ in sel.select(timeout=0.2):
            chunk = os.read(key.fd, 1 << 16)
            if chunk:
                got.take(key.data, chunk)
            else:
                sel.unregister(key.fileobj)
        now = time.monotonic()
        current = struct.unpack_from("qq", progress, 0)
        if current != last:
            last, last_change = current, now
        stalled = current[1] >= 0 and now - last_change > stall_after
        if not killed and (stalled or now > deadline or got.out_over):
            proc.kill()
            killed = True
    sel.close()
    proc.wait()
    return got, killed


def _clip(text: str, size: int = MAX_MESSAGE) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def size_text(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def run(
    sources: list[tuple[str, str]],
    rows: dict[str, Any],
    limits: Limits | None = None,
    *,
    collect: bool = False,
) -> list[ChildResult]:
    """Call each ``(source, filename)``'s reward over the states ``rows``; one result each.

    ``collect``: also return every value (the preview's heat map).
    """
    limits = limits or Limits()
    request = {
        "collect": collect,
        "sources": sources,
        "rows": rows,
        "isolation": {
            **_identity(limits.user),
            "network_namespace": limits.network_namespace,
            "guard": limits.guard,
            "file_wall": limits.file_wall,
            "require_file_wall": limits.require_file_wall and limits.file_wall,
        },
        "limits": {
            "call_seconds": limits.call_seconds,
            "budget_seconds": limits.budget_seconds,
            "memory_bytes": limits.memory_bytes,
            "cpu_seconds": limits.wall_seconds(len(sources)) + 1.0,
        },
    }
    payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    with tempfile.TemporaryDirectory(prefix="pitstop-reward-") as tmp:
        progress_path = Path(tmp) / "progress"
        progress_path.write_bytes(struct.pack("qq", -1, -1))
        request_path = Path(tmp) / "request.pickle"
        request_path.write_bytes(payload)
        # stderr is a pipe, not a file: the child may not write files (RLIMIT_FSIZE=0),
        # and reward functions print
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pitstop.reward_funcs._child",
                str(request_path),
                str(progress_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_env(),
            cwd=tmp,
        )
        with progress_path.open("r+b") as f, mmap.mmap(f.fileno(), 16) as m:
            got, killed = _wait(proc, m, limits, len(sources))
            last_source, last_case = struct.unpack_from("qq", m, 0)
        out = bytes(got.out)
        stderr_tail = got.err_tail.decode("utf-8", "replace")
        printed = got.err_total

    results: dict[int, ChildResult] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        failure = doc.get("failure")
        if isinstance(failure, dict) and "message" in failure:
            failure["message"] = _clip(str(failure["message"]))
        results[int(doc["index"])] = ChildResult(
            index=int(doc["index"]),
            calls=int(doc.get("calls", 0)),
            cases_total=int(doc.get("cases_total", 0)),
            failure=failure,
            call_seconds_total=float(doc.get("call_seconds_total", 0.0)),
            max_call_seconds=float(doc.get("max_call_seconds", 0.0)),
            values=doc.get("values"),
            isolation=doc.get("isolation"),
            printed_bytes=printed,
        )
    for i in range(len(sources)):
        if i in results:
            continue
        if i == last_source:
            case = last_case if last_case >= 0 else None
            if killed:
                message = (
                    f"did not return within {limits.call_seconds:g} s and ignored the "
                    "interruption; killed (infinite loop?)"
                    if case is not None
                    else "did not finish loading in time; killed"
                )
                rule = "timeout"
            else:
                message = describe_exit(proc.returncode)[1]
                rule = "killed"
            results[i] = ChildResult(
                index=i,
                calls=max(case or 0, 0),
                failure={"rule": rule, "case": case, "message": message, "line": None},
                extra={"stderr": stderr_tail},
                printed_bytes=printed,
            )
        else:
            results[i] = ChildResult(
                index=i,
                failure={
                    "rule": "not_run",
                    "case": None,
                    "message": "not run: the sandbox stopped on an earlier file",
                    "line": None,
                },
                extra={"stderr": stderr_tail},
                printed_bytes=printed,
            )
    return [results[i] for i in range(len(sources))]
