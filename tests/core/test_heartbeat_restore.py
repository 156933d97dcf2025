"""Readings restored after an outage give the trainer a full stall timeout from that moment,
even when the same poll finds a checkpoint written before or during the outage (seen in a
fresh-clone CI run: the checkpoint's old write time wound the clock back, and the next poll
called a stall)."""

from __future__ import annotations

from pitstop.core import lifecycle as lc
from pitstop.core.states import JobState, TrainerStatus

POLICY = lc.Policy(
    stall_timeout_s=5, startup_grace_s=15, max_restarts=3, backoff_base_s=0.4, backoff_max_s=1
)


def test_a_checkpoint_found_as_readings_return_does_not_wind_the_stall_clock_back() -> None:
    run = lc.Run(
        JobState.RUNNING,
        attempt=1,
        attempt_started_at=0.0,
        stale_since=10.0,
        checkpoint="1_Step-1000.ckpt",
        checkpoint_mtime=1.0,
        blind=True,  # S3 was unreachable
    )
    # at 20 s readings return, with checkpoint 2, written at 12 s (8 s ago)
    back = lc.Observation(TrainerStatus.RUNNING, None, lc.Heartbeat("2_Step-2000.ckpt", 2.0, 8.0))
    run, _ = lc.step(run, back, 20.0, POLICY)
    assert run.checkpoint == "2_Step-2000.ckpt" and run.stale_since == 20.0
    same = lc.Observation(TrainerStatus.RUNNING, None, lc.Heartbeat("2_Step-2000.ckpt", 2.0, 8.3))
    run, acts = lc.step(run, same, 20.3, POLICY)
    assert run.state is JobState.RUNNING and acts == []  # not a stall 0.3 s after the return
    run, _ = lc.step(run, same, 25.1, POLICY)
    assert run.state is JobState.RESTARTING  # a full stall timeout after it: a stall
