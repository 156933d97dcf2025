"""What ``pitstop supervise`` loads for a training job (issue 29): the supervisor imports only
what its path needs. numpy and matplotlib (evaluation laps, track geometry, plots) are
loaded by the commands that draw or simulate, never by a supervisor holding a training
job. Read from the running process's own memory map (``/proc/PID/maps``: every shared
object it loaded), not from inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import job_in, submit
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e

HEAVY = ("numpy", "matplotlib", "PIL", "scipy")


def loaded(pid: int) -> set[str]:
    """The paths of the shared objects a process has mapped."""
    out = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and (parts[5].endswith(".so") or ".so." in parts[5]):
            out.add(parts[-1])
    return out


def test_a_supervisor_training_a_job_loads_no_numpy_or_matplotlib(e2e_env, supervisors) -> None:
    job_id = submit(e2e_env, "imports", {"checkpoint_interval_s": 0.3, "checkpoints": 400})
    supervisors.job_ids.append(job_id)
    sup = supervisors(e2e_env)
    wait_for(lambda: job_in(e2e_env, job_id, "running"), 60, "the job to run")
    assert sup.proc is not None and sup.proc.poll() is None
    libs = loaded(sup.proc.pid)
    assert any("python" in p or "_ssl" in p or "libssl" in p for p in libs), libs  # it reads
    heavy = sorted(p for p in libs if any(f"/{name}" in p for name in HEAVY))
    assert not heavy, heavy
