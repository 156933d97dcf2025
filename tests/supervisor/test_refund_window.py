"""A spot notice in the instance's first hour is left to EC2 (AWS bills nothing for a spot
instance it interrupts in its first hour; the owner's own power-off might be billed), and
the attempt records what the deadline rule's cost cap bills it by. In-process supervisor
on a fake clock, moto's S3 server, the instance's uptime passed in as its port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from pitstop.core import events as ev
from pitstop.store.spend import spent
from pitstop.supervisor.host import instance_uptime
from pitstop.supervisor.spot import Notice
from tests.supervisor.test_fake_clock import Rig, names


class OneNotice:
    """The metadata service: nothing until ``send``, then that notice once."""

    def __init__(self) -> None:
        self.pending: list[Notice] = []

    def send(self, kind: str, action: str) -> None:
        self.pending.append(Notice(kind, action, "2026-12-05T12:00:00Z"))

    def poll(self) -> list[Notice]:
        out, self.pending = self.pending, []
        return out


@pytest.fixture
def rigs(bucket: str, s3_endpoint: str, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(uptime: float | None, spot: OneNotice, **extra: Any) -> Rig:
        r = Rig(bucket, s3_endpoint, tmp_path / str(len(made)), uptime=uptime, spot=spot,
                market="spot", **extra)  # fmt: skip
        made.append(r)
        return r

    yield make
    for r in made:
        r.store.release.set()


def _preempt(rig: Rig, spot: OneNotice, kind: str = "interruption", action: str = "terminate"):
    job_id = rig.submit("notice", simulation={"checkpoints": 8})
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.ticks_until(lambda: rig.status(job_id).state.value == "running", "running")
    rig.tick(300)  # five minutes of training (inside the stall timeout)
    with capture_logs() as logs:
        spot.send(kind, action)
        rig.sup.poll_spot()
        rig.ticks_until(lambda: rig.status(job_id).state.value == "preempted", "preempted")
        rig.tick(1)
        rig.tick(1)
    return job_id, logs


def test_a_notice_in_the_first_hour_is_left_to_ec2_and_the_attempt_is_refunded(
    rigs: Callable[..., Rig],
) -> None:
    spot = OneNotice()
    rig = rigs(600.0, spot)  # booted 10 minutes ago
    job_id, logs = _preempt(rig, spot)
    assert rig.commands == []  # no power-off: EC2 takes it within two minutes
    assert ev.INSTANCE_LEFT_TO_EC2 in names(logs)
    (a,) = rig.status(job_id).attempts
    assert a.market == "spot" and a.ec2_notice and a.outcome == "preempted"
    assert a.launched_at is not None and a.started_at is not None
    booted = datetime.fromisoformat(a.launched_at).timestamp()
    started = datetime.fromisoformat(a.started_at).timestamp()
    assert 590 <= started - booted <= 700  # 10 minutes of uptime before the attempt
    # the bill the deadline rule reads: nothing (EC2 ended it inside the first hour)
    now = datetime.fromisoformat(a.ended_at or "").timestamp()
    assert spent([a], now, spot_price=1.0, on_demand_price=3.0) == 0.0


def test_after_the_first_hour_a_notice_powers_off_and_the_attempt_is_billed(
    rigs: Callable[..., Rig],
) -> None:
    spot = OneNotice()
    rig = rigs(2 * 3600.0, spot)
    job_id, logs = _preempt(rig, spot)
    assert [argv[0] for argv in rig.commands] == ["true"]  # shutdown_command
    assert ev.INSTANCE_LEFT_TO_EC2 not in names(logs)
    (a,) = rig.status(job_id).attempts
    ended = datetime.fromisoformat(a.ended_at or "").timestamp()
    started = datetime.fromisoformat(a.started_at or "").timestamp()
    assert a.ec2_notice and ended - started >= 300
    # billed by the second, at the spot price (its market)
    bill = spent([a], ended, spot_price=1.0, on_demand_price=3.0)
    assert bill == pytest.approx((ended - started) / 3600)


@pytest.mark.parametrize(
    ("extra", "kind", "action", "why"),
    [
        ({"shutdown_on_notice_first_hour": True}, "interruption", "terminate", "asked to"),
        ({"rebalance_is_notice": True}, "rebalance", "rebalance", "the owner's choice"),
    ],
)
def test_a_first_hour_notice_still_powers_off_when(
    rigs: Callable[..., Rig], extra: dict[str, Any], kind: str, action: str, why: str
) -> None:
    spot = OneNotice()
    rig = rigs(600.0, spot, **extra)
    job_id, _ = _preempt(rig, spot, kind, action)
    assert [argv[0] for argv in rig.commands] == ["true"], why
    (a,) = rig.status(job_id).attempts
    assert a.ec2_notice is (kind == "interruption")


def test_an_unknown_uptime_records_no_launch_and_powers_off(rigs: Callable[..., Rig]) -> None:
    spot = OneNotice()
    rig = rigs(None, spot)
    job_id, _ = _preempt(rig, spot)
    assert [argv[0] for argv in rig.commands] == ["true"]
    (a,) = rig.status(job_id).attempts
    assert a.launched_at is None and a.market == "spot"


def test_instance_uptime_reads_proc_uptime_and_never_raises(tmp_path: Path) -> None:
    real = instance_uptime()
    assert real is not None and real > 0
    for body in ("", "garbage 12", "-5 3"):
        (tmp_path / "uptime").write_text(body)
        assert instance_uptime(str(tmp_path / "uptime")) is None, body
    (tmp_path / "uptime").write_text("3600.25 7000.10\n")
    assert instance_uptime(str(tmp_path / "uptime")) == 3600.25
    assert instance_uptime(str(tmp_path / "missing")) is None
