"""Shared shape of the backends that run one local process group per attempt.

A supervisor that adopts a trainer after a restart is not its parent and cannot learn its
exit code; ``$PITSTOP_EXIT_FILE`` is where a trainer may leave it (the simulated trainer
does; a run script can with ``trap 'echo $? > "$PITSTOP_EXIT_FILE"' EXIT``). It is read only
when the code is otherwise unknown: the exit code is part of the evidence that a run that
wrote ``model/.finished`` succeeded.

Every trainer carries its supervisor's token (``PITSTOP_SUPERVISOR_TOKEN``, see
``base.supervisor_token``) besides its job and instance: leftovers are found by all three,
so supervisors sharing a host never stop each other's trainers. A trainer built without a
token (tests that drive one by hand) carries an empty one and finds only its like.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pitstop.core.failures import Leftovers
from pitstop.core.hangs import Container
from pitstop.core.states import TrainerStatus
from pitstop.trainers.base import TOKEN_VARIABLE, AttemptPlan, tail
from pitstop.trainers.process import ProcessGroup, find_groups, stop_group


class ProcessTrainer:
    """Runs ``argv(plan)`` with the attempt in its environment; subclasses say what to run."""

    def __init__(self, token: str = "") -> None:
        self.token = token  # the supervisor's (base.supervisor_token of its state directory)
        self._group = ProcessGroup()
        self._log: Path | None = None
        self._exit_file: Path | None = None

    def argv(self, plan: AttemptPlan) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_env(self, plan: AttemptPlan) -> dict[str, str]:
        return {}

    def start(self, plan: AttemptPlan) -> dict[str, Any]:
        # a start that fails leaves no earlier attempt's log to be shipped as this one's
        self._log, self._exit_file = None, None
        plan.work_dir.mkdir(parents=True, exist_ok=True)
        argv = self.argv(plan)
        self._exit_file = plan.work_dir / f"attempt-{plan.attempt}.exit"
        self._exit_file.unlink(missing_ok=True)
        env = {
            **os.environ,
            **plan.env(),
            **self.extra_env(plan),
            "PITSTOP_EXIT_FILE": str(self._exit_file),
            TOKEN_VARIABLE: self.token,
        }
        self._log = plan.log_path
        handle = self._group.start(argv, env, plan.work_dir, plan.log_path)
        return {**handle, "log": str(plan.log_path), "exit_file": str(self._exit_file)}

    def adopt(self, handle: dict[str, Any]) -> bool:
        if self._group.adopt(handle):
            log, exit_file = handle.get("log"), handle.get("exit_file")
            self._log = Path(log) if isinstance(log, str) else None
            self._exit_file = Path(exit_file) if isinstance(exit_file, str) else None
            return True
        return False

    def status(self) -> tuple[TrainerStatus, int | None]:
        state, code = self._group.status()
        if state is TrainerStatus.EXITED and code is None and self._exit_file is not None:
            try:  # adopted: not our child, so only the trainer's own word tells the code
                code = int(self._exit_file.read_text().strip())
            except (OSError, ValueError):
                code = None
        return state, code

    def stop(self, timeout_s: float) -> bool:
        return self._group.stop(timeout_s)

    def stop_strays(self, job_id: str, instance_id: str) -> int:
        mine = self._group.pid
        found = find_groups(
            {
                "PITSTOP_JOB_ID": job_id,
                "PITSTOP_INSTANCE_ID": instance_id,
                TOKEN_VARIABLE: self.token,
            }
        )
        strays = [pgid for pgid in found if pgid != mine]
        for pgid in strays:
            stop_group(pgid, 5.0)
        return len(strays)

    def log_files(self) -> list[Path]:
        return [self._log] if self._log is not None and self._log.exists() else []

    def containers(self) -> tuple[Container, ...]:
        return ()  # one process group: nothing but its exit to read

    def leftovers(self) -> Leftovers:
        _, code = self.status()
        return Leftovers(exit_code=code, logs=tail(self._log) if self._log is not None else "")
