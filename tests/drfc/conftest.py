"""Fixtures of the DRfC conformance harness: emulated instances and supervisors on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.drfc.sandbox import RELEASES, VERSIONS, Instance, NamespacedSupervisor, namespaces_work
from tests.e2e.harness import FAST, kill_trainers
from tests.helpers import scaled

# the DRfC backend's pace: a start sources activate.sh and calls the AWS CLI (about 1 s per
# call), so attempts take seconds, not milliseconds; everything else as tests/e2e
DRFC_FAST = {
    **FAST,
    "PITSTOP_TRAINER": "drfc",
    "PITSTOP_POLL_INTERVAL_S": "0.5",
    # (the race-prone ones scaled as tests/e2e's: PITSTOP_TEST_TIME_SCALE)
    "PITSTOP_STALL_TIMEOUT_S": f"{scaled(3.0):g}",
    "PITSTOP_STARTUP_GRACE_S": f"{scaled(40.0):g}",
    "PITSTOP_STOP_TIMEOUT_S": "5.0",
    "PITSTOP_LEASE_TTL_S": f"{max(12.0, scaled(5.0)):g}",  # longer than a stop (the settings refuse less)
    # fewer requests per second: two cores run the supervisor, DRfC, moto and the trainer
    "PITSTOP_HEARTBEAT_INTERVAL_S": "1.0",
    "PITSTOP_SPOT_POLL_INTERVAL_S": "1.0",
}


def _skip_reason() -> str | None:
    if not all((RELEASES / v / "bin" / "activate.sh").is_file() for v in VERSIONS):
        return f"the DRfC releases are not at {RELEASES} (set PITSTOP_DRFC_RELEASES)"
    return namespaces_work()


_REASON = _skip_reason()


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def instances(tmp_path: Path, s3_endpoint: str) -> Iterator[Callable[..., Instance]]:
    """Make emulated instances; every container they ran is killed at the end, and a call
    the stand-ins do not model fails the test."""
    if _REASON:
        pytest.skip(_REASON)
    made: list[Instance] = []

    def make(version: str, name: str = "i", *, init: bool = True, **kw: object) -> Instance:
        inst = Instance(tmp_path / name, version, s3_endpoint, **kw)  # type: ignore[arg-type]
        made.append(inst)
        if init:
            inst.init()
        return inst

    yield make
    for inst in made:
        inst.kill_all()
    for inst in made:
        inst.assert_supported()


@pytest.fixture
def drfc_env(settings_env: dict[str, str]) -> dict[str, str]:
    return {**settings_env, **DRFC_FAST}


@pytest.fixture
def supervisors_on(tmp_path: Path) -> Iterator[Callable[..., NamespacedSupervisor]]:
    """Start ``pitstop supervise`` on an instance; each is killed at the end."""
    started: list[NamespacedSupervisor] = []
    job_ids: list[str] = []

    def start(
        inst: Instance, env: dict[str, str], name: str = "sup", **extra: str
    ) -> NamespacedSupervisor:
        full = {
            **env,
            "PITSTOP_DRFC_HOME": str(inst.drfc_home),
            "PITSTOP_STATE_DIR": str(inst.root / "state"),
            **extra,
        }
        sup = NamespacedSupervisor(full, tmp_path / "logs" / f"{name}.log", instance=inst).start()
        started.append(sup)
        return sup

    start.job_ids = job_ids  # type: ignore[attr-defined]
    yield start
    for sup in started:
        sup.close()
    kill_trainers(job_ids)
