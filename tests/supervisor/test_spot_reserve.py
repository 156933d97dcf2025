"""A spot instance leaves a deadline job the priced rule keeps for on-demand to the
on-demand instance the watchdog launches, and takes it after all when none came within
the grace. In-process supervisor on a fake clock, moto's S3 server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from pitstop.core import events as ev
from pitstop.supervisor.reserve import GRACE_EXTRA_S
from tests.supervisor.test_fake_clock import Rig, names

PRICED = {"deadline_spot_price": 0.9, "deadline_on_demand_price": 3.06}
OVERHEAD_S = 600.0  # deadline_restart_overhead_s's default


@pytest.fixture
def rigs(bucket: str, s3_endpoint: str, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(**extra: Any) -> Rig:
        r = Rig(bucket, s3_endpoint, tmp_path / str(len(made)), uptime=600.0, **extra)
        made.append(r)
        return r

    yield make
    for r in made:
        r.store.release.set()


def _snug(rig: Rig) -> str:
    # 1 h of training due in 1 h 15 min: a spot attempt started now could be cut by the
    # deadline before its first checkpoint, so the priced rule keeps it for on-demand
    return rig.submit("snug", max_hours=1, deadline_hours=1.25, simulation={"checkpoints": 8})


def test_a_priced_spot_instance_leaves_a_kept_job_then_takes_it_after_the_grace(
    rigs: Callable[..., Rig],
) -> None:
    rig = rigs(market="spot", **PRICED)
    job_id = _snug(rig)
    with capture_logs() as logs:
        for _ in range(3):
            rig.tick(5)
    assert rig.trainer.plans == []  # not claimed
    assert names(logs).count(ev.CLAIM_RESERVED_SKIPPED) == 1  # said once, not every tick
    assert rig.status(job_id).state.value == "pending"
    with capture_logs() as logs:
        rig.tick(OVERHEAD_S + GRACE_EXTRA_S)  # no on-demand instance came
        rig.start(job_id)
    assert ev.CLAIM_RESERVED_TAKEN in names(logs)


def test_a_spot_instance_takes_a_job_the_rule_lets_go_to_spot(rigs: Callable[..., Rig]) -> None:
    rig = rigs(market="spot", **PRICED)
    job_id = rig.submit("roomy", max_hours=1, deadline_hours=24, simulation={"checkpoints": 8})
    rig.start(job_id)


@pytest.mark.parametrize(
    "extra",
    [{"market": "spot"}, {"market": "on-demand", **PRICED}],
    ids=["spot-without-prices", "on-demand"],
)
def test_without_prices_or_on_on_demand_the_job_is_claimed_at_once(
    rigs: Callable[..., Rig], extra: dict[str, Any]
) -> None:
    rig = rigs(**extra)
    job_id = _snug(rig)
    rig.start(job_id)
