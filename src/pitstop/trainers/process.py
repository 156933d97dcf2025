"""A child process in its own process group: start, watch, adopt and stop it.

Stopping follows supervisord: SIGTERM to the whole group, wait, SIGKILL, wait; ESRCH
means "already gone". A process started by an earlier supervisor (killed, restarted) is
adopted by pid *and* start time, so a recycled pid is never mistaken for our trainer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from pitstop.core.states import TrainerStatus
from pitstop.errors import TrainerError

KILL_WAIT_S = 5.0


def _proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _group_alive(pgid: int) -> bool:
    """Whether a member of the group still runs: zombies (dead, not yet reaped by a parent
    that has not looked) do not count, so a stopped stray is not waited for twice."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def find_groups(env_match: dict[str, str]) -> list[int]:
    """Process groups whose leader's environment holds every ``KEY=VALUE`` of ``env_match``.

    Trainers carry their job and instance in their environment, so a supervisor that died
    before saving a handle can still find them (``/proc/PID/environ``; same user only).
    """
    needles = {f"{k}={v}".encode() for k, v in env_match.items()}
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if os.getpgid(pid) != pid or _proc_start_time(pid) is None:
                continue  # only group leaders, never zombies
            env = set((entry / "environ").read_bytes().split(b"\0"))
        except (OSError, ProcessLookupError):
            continue
        if needles <= env:
            found.append(pid)
    return found


def stop_group(pgid: int, timeout_s: float) -> bool:
    """SIGTERM a process group, wait, SIGKILL; True once it is gone."""
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT_S
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
    return not _group_alive(pgid)


class ProcessGroup:
    """One launched command and its process group."""

    def __init__(self) -> None:
        self._popen: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._start_time: str | None = None
        self._log: IO[bytes] | None = None
        self.exit_code: int | None = None

    @property
    def pid(self) -> int | None:
        return self._pid

    def start(
        self, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path
    ) -> dict[str, Any]:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        try:
            self._popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: we signal the whole group
            )
        except OSError as e:
            raise TrainerError(f"cannot start {argv[0]}: {e.strerror}") from e
        self._pid = self._popen.pid
        self._start_time = _proc_start_time(self._pid)
        self.exit_code = None
        return {"pid": self._pid, "start_time": self._start_time}

    def adopt(self, handle: dict[str, Any]) -> bool:
        pid = handle.get("pid")
        if not isinstance(pid, int) or pid <= 1:
            return False
        current = _proc_start_time(pid)
        if current is None or current != handle.get("start_time"):
            return False
        self._popen, self._pid, self._start_time, self.exit_code = None, pid, current, None
        return True

    def status(self) -> tuple[TrainerStatus, int | None]:
        if self._pid is None:
            return TrainerStatus.ABSENT, None
        if self._popen is not None:
            code = self._popen.poll()
            if code is None:
                return TrainerStatus.RUNNING, None
            self.exit_code = code
            return TrainerStatus.EXITED, code
        # adopted: not our child, so no exit code; alive means same pid and start time
        if _proc_start_time(self._pid) == self._start_time:
            return TrainerStatus.RUNNING, None
        return TrainerStatus.EXITED, None

    def _alive(self) -> bool:
        if self._pid is None:
            return False
        if self._popen is not None:
            return self._popen.poll() is None
        return _proc_start_time(self._pid) == self._start_time

    def _wait(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, timeout_s: float) -> bool:
        """SIGTERM the group, wait ``timeout_s``, SIGKILL, wait; True once it is gone."""
        if self._pid is None:
            return True
        pgid = self._pid  # start_new_session: the leader's pid is the group id
        if self._alive():
            _signal_group(pgid, signal.SIGTERM)
            if not self._wait(timeout_s):
                _signal_group(pgid, signal.SIGKILL)
                if not self._wait(KILL_WAIT_S):
                    return False
        # the leader is gone; make sure nothing it spawned lingers in the group
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        self.close()
        self._pid = None
        return True

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
