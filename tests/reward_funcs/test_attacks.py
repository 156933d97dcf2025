"""Attacks on the reward sandbox by code that got past the static rules (issue 22).

Each attack here once worked on main: reward code reached ``os`` through a module attribute
(``random._os``), walked frames to find the guard and emptied its handlers, then read a
host file and raised its contents, which landed in the rejected job's reason; or wrote a
"no failure" line to the result pipe and exited, and was accepted. They stay in the suite:
the kernel's walls (the mount namespace, Landlock) must hold with the guard switched off,
and whatever a forger writes must carry nothing of the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pitstop import tracks
from pitstop.reward_funcs import harness, sandbox

ROOT = os.geteuid() == 0
SWEEP = harness.sweep(tracks.load("reInvent2019_track"), stride=40)
SECRET = "TOPSECRET-5f1c0de"

# The module-attribute route to os and sys, then a frame walk that switches the guard off:
# every object on the stack with a ``_handlers`` dict (the guard) loses its handlers.
DISARM = """
import random
os = random._os
sys = os.sys
def disarm():
    f = sys._getframe()
    n = 0
    while f is not None:
        for v in list(f.f_locals.values()):
            h = getattr(v, "_handlers", None)
            if isinstance(h, dict) and h:
                h.clear()
                n += 1
        f = f.f_back
    return n
"""

# Every route to a file's bytes the attack tests know; each outcome is a short tag.
READ_ROUTES = """
def read_all(path):
    import io
    out = []
    def tag(name, fn):
        try:
            data = fn()
        except BaseException as e:
            out.append(name + ":" + type(e).__name__)
            return
        out.append(name + ":GOT " + repr(data))
    builtins = sys.modules["builtins"]
    tag("open", lambda: open(path, "rb").read())
    tag("builtins", lambda: builtins.open(path).read())
    tag("osopen", lambda: os.read(os.open(path, os.O_RDONLY), 4096))
    tag("fileio", lambda: io.FileIO(path).read())
    tag("listdir", lambda: os.listdir(os.path.dirname(path)))
    tag("linecache", lambda: "".join(sys.modules["linecache"].getlines(path)) or 1 / 0)
    tag("hostname", lambda: open("/etc/hostname").read())
    tag("environ", lambda: open("/proc/1/environ", "rb").read())
    tag("passwd", lambda: open("/etc/passwd").read())
    return out
"""


@pytest.fixture
def secret() -> Iterator[Path]:
    """A secret that the sandbox user could read on the host: world-readable, in /tmp."""
    d = Path(tempfile.mkdtemp(prefix="pitstop-secret-", dir="/tmp"))
    d.chmod(0o755)
    f = d / "secret.txt"
    f.write_text(SECRET)
    f.chmod(0o644)
    yield f
    f.unlink()
    d.rmdir()


def run1(source: str, **layers: object) -> sandbox.ChildResult:
    limits = sandbox.Limits(call_seconds=2.0, budget_seconds=3.0, **layers)  # type: ignore[arg-type]
    return sandbox.run([(source, "evil.py")], SWEEP.as_rows(), limits, collect=True)[0]


def everything(res: sandbox.ChildResult) -> str:
    """All the parent got back, as text: where a leak would show."""
    return json.dumps(
        {"failure": res.failure, "values": res.values, "extra": res.extra, "iso": res.isolation}
    )


@pytest.mark.parametrize("layers", [{}, {"guard": False}, {"network_namespace": False}])
def test_disarmed_guard_reads_no_host_file_by_any_route(
    secret: Path, layers: dict[str, bool]
) -> None:
    src = (
        DISARM
        + READ_ROUTES
        + f"""
def reward_function(params):
    disarmed = disarm()
    raise ValueError(str(disarmed) + " " + " ".join(read_all({str(secret)!r})))
"""
    )
    res = run1(src, **layers)
    assert res.failure is not None, "the sandbox accepted an attack"
    text = everything(res)
    assert SECRET not in text and "GOT" not in text, text
    msg = str(res.failure["message"])
    if layers.get("guard") is not False:
        # the frame walk did switch the guard off: what held is the kernel's wall
        assert msg.startswith("raised ValueError: 1 "), msg
    refused = "FileNotFoundError" if ROOT else "PermissionError"
    for route in ("open", "builtins", "osopen", "fileio", "listdir", "hostname", "passwd"):
        assert f"{route}:{refused}" in msg or f"{route}:PermissionError" in msg, (route, msg)
    iso = res.isolation or {}
    assert iso.get("files") != "the in-process guard", iso


def test_forged_result_line_never_reaches_the_parent(secret: Path) -> None:
    """The old forgery: find the result pipe on the stack, write a "no failure" line to it
    (and, for good measure, to every descriptor), exit before reporting."""
    src = (
        DISARM
        + READ_ROUTES
        + f"""
import json
def reward_function(params):
    disarm()
    got = read_all({str(secret)!r})
    line = json.dumps({{"index": 0, "calls": {len(SWEEP)}, "cases_total": {len(SWEEP)},
                       "failure": None, "values": [1.0] * {len(SWEEP)},
                       "stolen": got}}) + "\\n"
    f = sys._getframe()
    while f is not None:  # the result channel, as the old child kept it
        for v in list(f.f_locals.values()):
            if hasattr(v, "write") and hasattr(v, "flush"):
                try:
                    v.write(line)
                    v.flush()
                except BaseException:
                    pass
        f = f.f_back
    for fd in range(64):
        try:
            os.write(fd, line.encode())
        except OSError:
            pass
    os._exit(0)
"""
    )
    res = run1(src)
    text = everything(res)
    assert SECRET not in text and "stolen" not in text
    # the forged line reached the worker's own report pipe at best; the child judged it:
    # either refused, or accepted as the values a reward could have returned anyway
    if res.failure is None:
        assert res.values == [1.0] * len(SWEEP)
    else:
        assert "valid report" in str(res.failure["message"]), res.failure


def test_a_worker_that_exits_before_reporting_every_state_fails() -> None:
    src = (
        DISARM
        + """
def reward_function(params):
    if params["steps"] > 40:
        os._exit(0)
    return 1.0
"""
    )
    res = run1(src)
    assert res.failure is not None, "an early exit was accepted"
    assert "ended without a valid report" in str(res.failure["message"])


def test_rejection_reasons_have_a_fixed_size() -> None:
    res = run1("def reward_function(params):\n    raise ValueError('x' * 1_000_000)\n")
    assert res.failure is not None
    assert len(str(res.failure["message"])) <= sandbox.MAX_MESSAGE
    assert str(res.failure["message"]).startswith("raised ValueError: xxx")


def test_a_hostile_str_is_still_reported() -> None:
    src = (
        "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
        "def reward_function(params):\n    raise E()\n"
    )
    res = run1(src)
    assert res.failure is not None and res.failure["message"] == "raised E"


def test_the_worker_dies_with_the_sandbox() -> None:
    """A call that swallows the interruption is killed with its child: nothing stays."""
    src = (
        "def reward_function(params):\n"
        "    while True:\n        try:\n            while True:\n                pass\n"
        "        except BaseException:\n            pass\n"
    )
    # the sandbox processes that appear while it runs (other tests' too, when they run in
    # parallel: theirs end as well); every one of them must be gone afterwards
    before = _sandbox_processes()
    seen: set[int] = set()
    running = threading.Event()
    running.set()

    def watch() -> None:
        while running.is_set():
            seen.update(_sandbox_processes() - before)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        res = sandbox.run(
            [(src, "hang.py")],
            SWEEP.as_rows(),
            sandbox.Limits(call_seconds=0.5, budget_seconds=1.0, startup_seconds=20.0),
        )[0]
    finally:
        running.clear()
        watcher.join()
    assert res.failure is not None and res.failure["rule"] == "timeout", res.failure
    assert seen, "no sandbox process was seen while it ran"
    from tests.helpers import wait_for

    wait_for(lambda: not seen & _sandbox_processes(), 30, "the sandbox's processes to exit")


def _sandbox_processes() -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            state = (d / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if b"pitstop.reward_funcs._child" in cmd and state != "Z":
            out.add(int(d.name))
    return out


FLOOD = """
import json, resource, sys
from pitstop.reward_funcs import validate_source
src = "def reward_function(params):\\n    print('x' * 65536 * 16)\\n    return 1.0\\n"
report = validate_source(src, "flood.py")
# VmHWM: this process's own peak (ru_maxrss keeps the pytest parent's across exec)
peak = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) * 1024
print(json.dumps({"ok": report.ok, "reason": report.reason, "warnings": report.warnings,
                  "peak": peak}))
"""


@pytest.mark.slow
def test_a_print_flood_does_not_grow_the_validator() -> None:
    """Each call prints 1 MiB over the full sweep (about 3 GiB in all at the default
    stride); the validating process keeps a bounded tail (it held it all before: 411 MiB
    for a smaller flood)."""
    r = subprocess.run([sys.executable, "-c", FLOOD], capture_output=True, text=True, timeout=280)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout.splitlines()[-1])
    assert doc["peak"] < 160 << 20, doc["peak"]
    assert any(w.startswith("it printed ") for w in doc["warnings"]), doc
