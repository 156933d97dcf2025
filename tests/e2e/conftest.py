from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import FAST, SupervisorProc, kill_trainers


@pytest.fixture
def e2e_env(settings_env: dict[str, str]) -> dict[str, str]:
    return {**settings_env, **FAST}


@pytest.fixture
def supervisors(tmp_path: Path) -> Iterator[Callable[..., SupervisorProc]]:
    """Start supervisor processes; every one (and every trainer it left) is killed at the end."""
    started: list[SupervisorProc] = []
    job_ids: list[str] = []

    def start(env: dict[str, str], name: str = "sup", **extra: str) -> SupervisorProc:
        sup = SupervisorProc({**env, **extra}, tmp_path / "logs" / f"{name}.log").start()
        started.append(sup)
        return sup

    start.job_ids = job_ids  # type: ignore[attr-defined]
    yield start
    for sup in started:
        sup.close()
    kill_trainers(job_ids)
