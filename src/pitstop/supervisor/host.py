"""The instance's own messages since an attempt started: the kernel log, where the NVIDIA
driver reports a GPU Xid and the OOM killer its victims (neither reaches a container's log).

Read with ``journalctl -k`` (the supervisor runs as root under systemd, so it may); a host
without it, or a call that fails or hangs, gives "" (no evidence), never an error.
"""

from __future__ import annotations

import shutil
import subprocess

TIMEOUT_S = 5.0
MAX_LINES = 500
UPTIME = "/proc/uptime"


def instance_uptime(path: str = UPTIME) -> float | None:
    """Seconds since this machine booted (``/proc/uptime``); None where it cannot be read.
    On EC2 the boot follows the launch by well under a minute."""
    try:
        with open(path, encoding="ascii") as f:
            value = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return value if value >= 0 else None


def kernel_messages(since_epoch: float) -> str:
    """Kernel log lines since ``since_epoch`` (wall-clock seconds), at most ``MAX_LINES``."""
    journalctl = shutil.which("journalctl")
    if journalctl is None:
        return ""
    argv = [
        journalctl,
        "-k",
        "-o",
        "cat",
        "--no-pager",
        "-n",
        str(MAX_LINES),
        "--since",
        f"@{int(since_epoch)}",
    ]
    try:
        r = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    if r.returncode != 0:
        return ""
    return r.stdout.decode("utf-8", "replace")
