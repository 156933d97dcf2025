"""One ``docker ps`` per poll: the supervisor asks the DRfC backend for its status and then
for its containers (the hang signatures), and the second reuses the first's listing while it
is fresh. A ``docker`` on PATH that logs its calls is the only stand-in (the real scripts'
behaviour is tests/drfc)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pitstop.config import Settings
from pitstop.store.layout import Layout
from pitstop.trainers import drfc
from pitstop.trainers.base import TrainerStatus
from pitstop.trainers.drfc import DrfcTrainer

SAGEMAKER_ID = "a" * 64
COACH_ID = "b" * 64
DOCKER = f"""#!/bin/sh
echo "$*" >> "$DOCKER_CALLS"
case "$1" in
  ps) printf '{SAGEMAKER_ID}\\ttmpabc-algo-1-xyz12\\trunning\\n{COACH_ID}\\tdeepracer-0_rl_coach.1.q\\trunning\\n' ;;
  inspect) printf '{SAGEMAKER_ID}\\t0\\t0\\tfalse\\n{COACH_ID}\\t0\\t2\\tfalse\\n' ;;
esac
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def trainer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DrfcTrainer:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(DOCKER)
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CALLS", str(tmp_path / "calls.log"))
    t = DrfcTrainer(
        Settings(bucket="my-bucket", drfc_home=str(tmp_path / "drfc")), None, Layout("p")
    )  # type: ignore[arg-type]
    t._active = True  # an attempt whose start script has ended: docker tells the rest
    return t


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls.log"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def test_a_poll_lists_the_containers_once(
    trainer: DrfcTrainer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(drfc, "time", clock)
    assert trainer.status() == (TrainerStatus.RUNNING, None)
    seen = trainer.containers()
    assert [(c.role, c.restarts) for c in seen] == [("sagemaker", 0), ("rl_coach", 2)]
    assert calls(tmp_path) == ["ps", "inspect"]  # the status's listing, reused
    # the listing is used once: the next call without a status lists again
    trainer.containers()
    assert calls(tmp_path) == ["ps", "inspect", "ps", "inspect"]


def test_a_stale_listing_is_read_again(
    trainer: DrfcTrainer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(drfc, "time", clock)
    trainer.status()
    clock.now += drfc.LISTING_REUSE_S  # a slow poll: the containers may have changed
    trainer.containers()
    assert calls(tmp_path) == ["ps", "ps", "inspect"]
