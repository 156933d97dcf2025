"""Shared shape of the backends that run one local process group per attempt."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pitstop.store.states import TrainerStatus
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.process import ProcessGroup, find_groups, stop_group


class ProcessTrainer:
    """Runs ``argv(plan)`` with the attempt in its environment; subclasses say what to run."""

    def __init__(self) -> None:
        self._group = ProcessGroup()
        self._log: Path | None = None

    def argv(self, plan: AttemptPlan) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_env(self, plan: AttemptPlan) -> dict[str, str]:
        return {}

    def start(self, plan: AttemptPlan) -> dict[str, Any]:
        plan.work_dir.mkdir(parents=True, exist_ok=True)
        argv = self.argv(plan)
        env = {**os.environ, **plan.env(), **self.extra_env(plan)}
        self._log = plan.log_path
        handle = self._group.start(argv, env, plan.work_dir, plan.log_path)
        return {**handle, "log": str(plan.log_path)}

    def adopt(self, handle: dict[str, Any]) -> bool:
        if self._group.adopt(handle):
            log = handle.get("log")
            self._log = Path(log) if isinstance(log, str) else None
            return True
        return False

    def status(self) -> tuple[TrainerStatus, int | None]:
        return self._group.status()

    def stop(self, timeout_s: float) -> bool:
        return self._group.stop(timeout_s)

    def stop_strays(self, job_id: str, instance_id: str) -> int:
        mine = self._group.pid
        found = find_groups({"PITSTOP_JOB_ID": job_id, "PITSTOP_INSTANCE_ID": instance_id})
        strays = [pgid for pgid in found if pgid != mine]
        for pgid in strays:
            stop_group(pgid, 5.0)
        return len(strays)

    def log_files(self) -> list[Path]:
        return [self._log] if self._log is not None and self._log.exists() else []
