"""One test per lifecycle edge: state + observation + now in, state + actions out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pitstop.core import events as ev
from pitstop.core import lifecycle as lc
from pitstop.core import ownership
from pitstop.core.lifecycle import (
    ClearStaleLock,
    Emit,
    EndAttempt,
    Heartbeat,
    Observation,
    Outcome,
    Policy,
    Reboot,
    ReleaseLease,
    Run,
    Shutdown,
    StartAttempt,
    StopTrainer,
    TrainerStatus,
    Transition,
)
from pitstop.core.states import JobState

POLICY = Policy(
    stall_timeout_s=60,
    startup_grace_s=120,
    max_restarts=2,
    backoff_base_s=10,
    backoff_max_s=25,
    stop_timeout_s=30,
    reboot_after_failed_attempts=0,
    max_reboots=1,
)
RUNNING = TrainerStatus.RUNNING


def hb(
    ckpt: str | None = "3_Step-300.ckpt",
    mtime: float | None = 1000.0,
    age: float = 0.0,
    finished: bool = False,
) -> Heartbeat:
    return Heartbeat(ckpt, mtime if ckpt else None, age if ckpt else None, finished)


def obs(
    trainer: TrainerStatus = RUNNING, heartbeat: Heartbeat | None = None, **kw: object
) -> Observation:
    return Observation(trainer, heartbeat=heartbeat, **kw)  # type: ignore[arg-type]


def running(now: float = 100.0, **kw: object) -> Run:
    base = Run(
        state=JobState.RUNNING,
        attempt=1,
        attempt_started_at=0.0,
        stale_since=now,
        checkpoint="3_Step-300.ckpt",
        checkpoint_mtime=1000.0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def kinds(actions: list[lc.Action]) -> list[type]:
    return [type(a) for a in actions]


def events(actions: list[lc.Action]) -> list[str]:
    return [a.event for a in actions if isinstance(a, Emit | Transition)]


def states(actions: list[lc.Action]) -> list[JobState]:
    return [a.to for a in actions if isinstance(a, Transition)]


def starts(actions: list[lc.Action], n: int, pretrained: int | None) -> bool:
    """The state goes to ``starting`` first, then attempt ``n`` is recorded and launched."""
    first, second = actions[:2]
    return (
        isinstance(first, Transition)
        and first.to is JobState.STARTING
        and second == StartAttempt(n, pretrained)
    )


def test_pending_to_starting_when_claimed_launches_attempt_one() -> None:
    run, acts = lc.step(Run(JobState.PENDING), obs(TrainerStatus.ABSENT), 5.0, POLICY)
    assert run.state is JobState.STARTING and run.attempt == 1 and run.attempt_started_at == 5.0
    # the state first, then the attempt's record: killed between them, a restart finds the
    # attempt open under ``starting`` and closes or adopts it (issue 23)
    assert starts(acts, 1, None)
    assert states(acts) == [JobState.STARTING] and events(acts) == [ev.RUN_STARTED]


def test_preempted_to_starting_when_claimed_resumes_from_previous_attempt() -> None:
    run, acts = lc.step(
        Run(JobState.PREEMPTED, attempt=2, restarts=1), obs(TrainerStatus.ABSENT), 5.0, POLICY
    )
    assert run.attempt == 3 and run.restarts == 1  # a preemption does not count
    assert starts(acts, 3, 2)
    assert events(acts) == [ev.RUN_RESTARTED]


def test_starting_to_running_on_first_checkpoint() -> None:
    start = Run(JobState.STARTING, attempt=1, attempt_started_at=0.0, stale_since=0.0)
    run, acts = lc.step(start, obs(heartbeat=hb(age=2.0)), 30.0, POLICY)
    assert run.state is JobState.RUNNING and run.checkpoint == "3_Step-300.ckpt"
    assert run.stale_since == 28.0  # written 2 s ago by the server's clock
    assert states(acts) == [JobState.RUNNING] and events(acts) == [ev.RUN_CHECKPOINTED]


def test_running_stays_running_while_checkpoints_are_fresh() -> None:
    run, acts = lc.step(running(now=100.0), obs(heartbeat=hb()), 159.0, POLICY)
    assert run.state is JobState.RUNNING and acts == []


def test_running_to_restarting_when_no_checkpoint_for_stall_timeout() -> None:
    run, acts = lc.step(running(now=100.0), obs(heartbeat=hb()), 160.0, POLICY)
    assert run.state is JobState.RESTARTING and run.stopping is Outcome.STALLED
    assert states(acts) == [JobState.RESTARTING] and events(acts) == [ev.RUN_STALLED]
    assert acts[-1] == StopTrainer(POLICY.stop_timeout_s)


def test_starting_to_restarting_when_no_first_checkpoint_within_startup_grace() -> None:
    start = Run(JobState.STARTING, attempt=1, attempt_started_at=0.0, stale_since=0.0)
    still, _ = lc.step(start, obs(heartbeat=hb(None)), 119.0, POLICY)
    assert (
        still.state is JobState.STARTING
    )  # the stall timeout (60) does not apply before the first checkpoint
    run, acts = lc.step(start, obs(heartbeat=hb(None)), 120.0, POLICY)
    assert run.state is JobState.RESTARTING and "no first checkpoint" in (run.reason or "")
    assert isinstance(acts[-1], StopTrainer)


def test_restarting_after_stop_closes_attempt_clears_lock_and_backs_off() -> None:
    stopping, _ = lc.step(running(now=100.0), obs(heartbeat=hb()), 160.0, POLICY)
    run, acts = lc.step(stopping, obs(TrainerStatus.ABSENT, heartbeat=hb()), 161.0, POLICY)
    assert kinds(acts)[:2] == [EndAttempt, ClearStaleLock]
    end = acts[0]
    assert (
        isinstance(end, EndAttempt) and end.outcome is Outcome.STALLED and end.training_s == 161.0
    )
    assert (
        run.restarts == 1 and run.failures_in_row == 1 and run.start_after == 171.0
    )  # base backoff 10 s
    assert events(acts) == [ev.RUN_BACKING_OFF]


def test_running_to_restarting_when_trainer_crashes() -> None:
    run, acts = lc.step(
        running(), obs(TrainerStatus.EXITED, exit_code=3, heartbeat=hb()), 110.0, POLICY
    )
    assert run.state is JobState.RESTARTING and run.restarts == 1
    end = acts[0]
    assert isinstance(end, EndAttempt) and end.outcome is Outcome.CRASHED and "code 3" in end.reason
    assert ev.RUN_CRASHED in events(acts)
    assert not any(isinstance(a, StopTrainer) for a in acts)  # already gone


def test_backoff_doubles_and_is_capped() -> None:
    assert [POLICY.backoff_s(n) for n in (1, 2, 3, 4)] == [10, 20, 25, 25]


def test_restarting_to_starting_after_backoff_from_previous_attempt() -> None:
    waiting = Run(JobState.RESTARTING, attempt=1, restarts=1, failures_in_row=1, start_after=171.0)
    early, acts = lc.step(waiting, obs(TrainerStatus.ABSENT), 170.9, POLICY)
    assert early is waiting and acts == []
    run, acts = lc.step(waiting, obs(TrainerStatus.ABSENT), 171.0, POLICY)
    assert run.state is JobState.STARTING and run.attempt == 2
    assert starts(acts, 2, 1)


def test_restarting_to_failed_when_restart_budget_spent() -> None:
    exhausted = running(restarts=2, failures_in_row=2)
    run, acts = lc.step(
        exhausted, obs(TrainerStatus.EXITED, exit_code=1, heartbeat=hb()), 110.0, POLICY
    )
    assert run.state is JobState.FAILED and run.done
    assert "restart budget of 2 spent" in (run.reason or "")
    assert states(acts)[-1] is JobState.FAILED and isinstance(acts[-1], ReleaseLease)


def test_running_to_succeeded_when_finished_marker_seen() -> None:
    run, acts = lc.step(running(), obs(heartbeat=hb(finished=True)), 110.0, POLICY)
    assert run.stopping is Outcome.SUCCEEDED and isinstance(acts[-1], StopTrainer)
    run, acts = lc.step(
        run, obs(TrainerStatus.EXITED, exit_code=0, heartbeat=hb(finished=True)), 111.0, POLICY
    )
    assert run.state is JobState.SUCCEEDED and run.done
    assert states(acts) == [JobState.SUCCEEDED] and isinstance(acts[-1], ReleaseLease)


def test_running_to_restarting_when_finished_marker_has_no_evidence_of_success() -> None:
    # simapp writes model/.finished from a finally: block, after an exception too
    marker = replace(hb(), finished=True, finished_ok=False, evidence="40 of 1000 episodes, code 1")
    run, acts = lc.step(
        running(), obs(TrainerStatus.EXITED, exit_code=1, heartbeat=marker), 110.0, POLICY
    )
    assert run.state is JobState.RESTARTING and run.restarts == 1
    end = acts[0]
    assert isinstance(end, EndAttempt) and end.outcome is Outcome.CRASHED
    assert "without evidence of success (40 of 1000 episodes, code 1)" in end.reason
    assert ev.RUN_CRASHED in events(acts) and JobState.SUCCEEDED not in states(acts)


def test_running_finished_marker_without_evidence_stops_a_live_trainer_as_a_crash() -> None:
    marker = replace(hb(), finished=True, finished_ok=False)
    run, acts = lc.step(running(), obs(heartbeat=marker), 110.0, POLICY)
    assert run.stopping is Outcome.CRASHED and isinstance(acts[-1], StopTrainer)


def test_starting_stays_starting_on_the_initial_checkpoint() -> None:
    # simapp saves the model it starts from at once: that is not training progress
    start = Run(JobState.STARTING, attempt=1, attempt_started_at=0.0, stale_since=0.0)
    initial = replace(hb("0_Step-0.ckpt"), initial=True)
    run, acts = lc.step(start, obs(heartbeat=initial), 61.0, POLICY)
    assert run.state is JobState.STARTING and run.checkpoint is None and acts == []
    # the first-checkpoint grace (120 s), not the stall timeout (60 s), still applies
    run, acts = lc.step(start, obs(heartbeat=initial), 120.0, POLICY)
    assert run.state is JobState.RESTARTING and "no first checkpoint" in (run.reason or "")
    trained = hb("1_Step-1000.ckpt", mtime=1061.0)
    run, acts = lc.step(start, obs(heartbeat=trained), 70.0, POLICY)
    assert run.state is JobState.RUNNING and events(acts) == [ev.RUN_CHECKPOINTED]


def test_running_to_succeeded_when_time_budget_spent() -> None:
    policy = replace(POLICY, max_training_s=3600.0)
    kept, _ = lc.step(running(now=599.0, trained_s=3000.0), obs(heartbeat=hb()), 599.0, policy)
    assert kept.stopping is None  # 3000 + 599 s < 1 h
    stopping, acts = lc.step(
        running(now=600.0, trained_s=3000.0), obs(heartbeat=hb()), 600.0, policy
    )
    assert stopping.stopping is Outcome.BUDGET_SPENT and isinstance(acts[-1], StopTrainer)
    done, acts = lc.step(stopping, obs(TrainerStatus.ABSENT, heartbeat=hb()), 601.0, policy)
    assert done.state is JobState.SUCCEEDED and "time budget of 1 h spent" in (done.reason or "")


def test_running_to_preempted_on_spot_notice_stops_fast_and_shuts_down() -> None:
    run, acts = lc.step(running(), obs(heartbeat=hb(), interruption="terminate"), 110.0, POLICY)
    assert acts == [StopTrainer(5.0)]  # never the full stop timeout: the notice gives ~120 s
    run, acts = lc.step(run, obs(TrainerStatus.ABSENT), 112.0, POLICY)
    assert run.state is JobState.PREEMPTED and run.done and run.restarts == 0
    end = acts[0]
    assert isinstance(end, EndAttempt) and end.outcome is Outcome.PREEMPTED
    assert kinds(acts)[-2:] == [ReleaseLease, Shutdown]


def test_preempted_without_shutdown_when_configured() -> None:
    policy = replace(POLICY, shutdown_on_notice=False)
    run, acts = lc.step(running(), obs(TrainerStatus.ABSENT, interruption="stop"), 110.0, policy)
    assert run.state is JobState.PREEMPTED and not any(isinstance(a, Shutdown) for a in acts)


def test_running_to_preempted_on_spot_notice_in_the_first_hour_leaves_the_instance_to_ec2() -> None:
    # AWS bills nothing for a spot instance EC2 interrupts in its first hour; our own
    # power-off might be billed, so the instance waits for EC2 (refund_until: that hour
    # less a margin, on the step's clock)
    policy = replace(POLICY, refund_until=200.0)
    run, _ = lc.step(running(), obs(heartbeat=hb(), interruption="terminate"), 110.0, policy)
    run, acts = lc.step(run, obs(TrainerStatus.ABSENT), 112.0, policy)
    assert run.state is JobState.PREEMPTED and kinds(acts)[-1] is ReleaseLease
    assert not any(isinstance(a, Shutdown) for a in acts)
    # past the first hour (less its margin): powers off as before
    run, _ = lc.step(running(), obs(heartbeat=hb(), interruption="terminate"), 190.0, policy)
    run, acts = lc.step(run, obs(TrainerStatus.ABSENT), 201.0, policy)
    assert kinds(acts)[-2:] == [ReleaseLease, Shutdown]
    # a rebalance recommendation acted on as a notice: EC2 may never take it, power off
    run, _ = lc.step(running(), obs(heartbeat=hb(), interruption="rebalance"), 110.0, policy)
    run, acts = lc.step(run, obs(TrainerStatus.ABSENT), 112.0, policy)
    assert kinds(acts)[-2:] == [ReleaseLease, Shutdown]


def test_notice_reasons_tell_ec2_from_the_owner() -> None:
    assert lc.ec2_notice("spot interruption notice (terminate)")
    assert lc.ec2_notice("spot interruption notice (stop)")
    assert not lc.ec2_notice("spot interruption notice (rebalance)")
    assert not lc.ec2_notice("supervisor stopped (SIGTERM)")
    assert lc.leave_to_ec2(10.0, 20.0) and not lc.leave_to_ec2(20.0, 20.0)
    assert not lc.leave_to_ec2(10.0, None)  # unknown age or on-demand


def test_running_to_cancelled_on_request() -> None:
    run, acts = lc.step(running(), obs(heartbeat=hb(), cancel_requested=True), 110.0, POLICY)
    assert isinstance(acts[-1], StopTrainer)
    run, acts = lc.step(run, obs(TrainerStatus.ABSENT), 111.0, POLICY)
    assert run.state is JobState.CANCELLED and states(acts) == [JobState.CANCELLED]


def test_restarting_to_cancelled_during_backoff() -> None:
    waiting = Run(JobState.RESTARTING, attempt=1, start_after=500.0)
    run, acts = lc.step(waiting, obs(TrainerStatus.ABSENT, cancel_requested=True), 200.0, POLICY)
    assert run.state is JobState.CANCELLED and not any(isinstance(a, StartAttempt) for a in acts)


def test_unknown_heartbeat_is_never_a_stall() -> None:
    run = running(now=100.0)
    for now in (160.0, 400.0, 1000.0):  # 15x the stall timeout
        run, acts = lc.step(run, obs(heartbeat=None), now, POLICY)
        assert run.state is JobState.RUNNING
        assert not any(isinstance(a, StopTrainer) for a in acts)
    assert run.blind


def test_after_unknown_period_trainer_gets_full_stall_timeout_again() -> None:
    run, acts = lc.step(running(now=100.0), obs(heartbeat=None), 150.0, POLICY)
    assert events(acts) == [ev.HEARTBEAT_UNKNOWN]
    run, acts = lc.step(run, obs(heartbeat=hb()), 1000.0, POLICY)  # back; checkpoint old
    assert run.state is JobState.RUNNING and events(acts) == [ev.HEARTBEAT_RESTORED]
    run, _ = lc.step(run, obs(heartbeat=hb()), 1059.0, POLICY)
    assert run.state is JobState.RUNNING
    run, _ = lc.step(run, obs(heartbeat=hb()), 1060.0, POLICY)
    assert run.state is JobState.RESTARTING


def test_trainer_that_cannot_be_stopped_reboots_the_instance() -> None:
    stopping, _ = lc.step(running(now=100.0), obs(heartbeat=hb()), 160.0, POLICY)
    run, acts = lc.step(stopping, obs(TrainerStatus.STOP_FAILED), 200.0, POLICY)
    assert run.reboots == 1 and run.done
    assert kinds(acts)[0] is EndAttempt and isinstance(acts[-1], Reboot)
    assert states(acts) == [JobState.RESTARTING]  # saved before the reboot


def test_unstoppable_trainer_with_reboot_budget_spent_fails() -> None:
    stopping, _ = lc.step(running(now=100.0, reboots=1), obs(heartbeat=hb()), 160.0, POLICY)
    run, acts = lc.step(stopping, obs(TrainerStatus.STOP_FAILED), 200.0, POLICY)
    assert run.state is JobState.FAILED and not any(isinstance(a, Reboot) for a in acts)
    assert "reboot budget of 1 spent" in (run.reason or "")


def test_consecutive_failures_reboot_then_bounded() -> None:
    policy = replace(POLICY, reboot_after_failed_attempts=2, max_restarts=10)
    run, acts = lc.step(
        running(failures_in_row=1),
        obs(TrainerStatus.EXITED, exit_code=1, heartbeat=hb()),
        110.0,
        policy,
    )
    assert isinstance(acts[-1], Reboot) and run.reboots == 1 and run.failures_in_row == 0
    again = running(failures_in_row=1, reboots=1)
    run, acts = lc.step(
        again, obs(TrainerStatus.EXITED, exit_code=1, heartbeat=hb()), 110.0, policy
    )
    assert not any(isinstance(a, Reboot) for a in acts) and run.state is JobState.RESTARTING


def test_lease_lost_stops_at_once_and_writes_nothing() -> None:
    run, acts = lc.step(running(), obs(heartbeat=hb(), lease_lost=True), 110.0, POLICY)
    assert run.done
    assert isinstance(acts[0], StopTrainer) and events(acts) == [ev.LEASE_LOST]
    assert not any(isinstance(a, Transition | ReleaseLease | EndAttempt) for a in acts)


def test_clean_exit_with_unknown_heartbeat_waits_for_s3() -> None:
    run, acts = lc.step(
        running(), obs(TrainerStatus.EXITED, exit_code=0, heartbeat=None), 110.0, POLICY
    )
    assert run.state is JobState.RUNNING and not any(isinstance(a, EndAttempt) for a in acts)


def test_new_checkpoint_resets_failures_in_row() -> None:
    run, _ = lc.step(
        running(failures_in_row=2), obs(heartbeat=hb("4_Step-400.ckpt", 1060.0)), 110.0, POLICY
    )
    assert run.failures_in_row == 0 and run.checkpoint == "4_Step-400.ckpt"


@pytest.mark.parametrize("alive", [True, False])
def test_resume_after_supervisor_restart(alive: bool) -> None:
    run, acts = lc.resume(
        JobState.RUNNING,
        attempts=2,
        attempt_open=True,
        trained_s=50.0,
        restarts=1,
        reboots=0,
        trainer_alive=alive,
        attempt_elapsed_s=30.0,
        now=1000.0,
    )
    if alive:
        assert run.state is JobState.RUNNING and run.attempt_started_at == 970.0
        assert events(acts) == [ev.RUN_ADOPTED]
    else:
        assert run.state is JobState.RESTARTING and run.start_after == 1000.0 and run.restarts == 1
        end = acts[0]
        assert isinstance(end, EndAttempt) and end.outcome is Outcome.INTERRUPTED
        _nxt, acts = lc.step(run, obs(TrainerStatus.ABSENT), 1000.0, POLICY)
        assert acts[1] == StartAttempt(3, 2)


def test_terminal_state_needs_no_supervision() -> None:
    run, acts = lc.step(Run(JobState.SUCCEEDED), obs(TrainerStatus.ABSENT), 1.0, POLICY)
    assert run.done and acts == []


# -- claim / take-over (lifecycle.take), SIGTERM (interrupt), idle, resume edges --------
def _status(**fields):  # type: ignore[no-untyped-def]
    from pitstop.core.records import Attempt, JobStatus

    attempts = [Attempt(**a) for a in fields.pop("attempts", [])]
    return JobStatus(id="j", attempts=attempts, **fields)


CLAIM = ownership.Claim(
    me="i-b",
    epoch=3,
    now_iso="2026-01-01T00:10:00.000Z",
    lost_at_iso="2026-01-01T00:09:00.000Z",
    lost_training_s=500.0,
    lost_checkpoint="7_Step-700.ckpt",
)


def test_pending_to_claimed_takes_owner_and_epoch() -> None:
    new = ownership.take(_status(state=JobState.PENDING, lease_epoch=2), CLAIM)
    assert new is not None and new.instance_id == "i-b" and new.lease_epoch == 3
    assert new.state is JobState.PENDING  # the first step starts it


def test_running_of_a_silent_instance_to_preempted_closes_its_attempt_fairly() -> None:
    attempt = {"n": 1, "model_prefix": "m/1", "started_at": "2026-01-01T00:00:00.000Z"}
    old = _status(state=JobState.RUNNING, instance_id="i-a", lease_epoch=2, attempts=[attempt])
    new = ownership.take(old, CLAIM)
    assert new is not None and new.state is JobState.PREEMPTED
    (a,) = new.attempts
    assert a.outcome == "preempted" and a.ended_at == CLAIM.lost_at_iso
    assert a.training_s == 500.0 and a.last_checkpoint == "7_Step-700.ckpt"  # max_hours holds
    again = ownership.take(new.model_copy(deep=True), CLAIM)  # a lost reply: applied to itself
    assert again == new


def test_claim_steps_back_when_a_newer_lease_wrote_the_state() -> None:
    newer = _status(state=JobState.STARTING, instance_id="i-c", lease_epoch=4)
    assert ownership.take(newer, CLAIM) is None


def test_claim_of_an_ended_or_cancelled_job_is_refused() -> None:
    assert ownership.take(_status(state=JobState.SUCCEEDED), CLAIM) is None
    assert ownership.take(_status(state=JobState.PENDING, cancel_requested=True), CLAIM) is None


def test_own_stranded_attempt_is_closed_as_interrupted() -> None:
    attempt = {"n": 2, "model_prefix": "m/2", "started_at": "2026-01-01T00:00:00.000Z"}
    mine = _status(state=JobState.RUNNING, instance_id="i-b", lease_epoch=1, attempts=[attempt])
    new = ownership.take(mine, CLAIM)
    assert new is not None and new.attempts[0].outcome == "interrupted"
    assert new.state is JobState.PREEMPTED


def test_running_to_preempted_on_sigterm_stops_closes_and_releases() -> None:
    run = Run(state=JobState.RUNNING, attempt=2, attempt_started_at=100.0)
    new, acts = lc.interrupt(run, 160.0, POLICY)
    assert new.state is JobState.PREEMPTED and new.done
    assert acts[:3] == [
        StopTrainer(POLICY.stop_timeout_s),
        EndAttempt(2, Outcome.INTERRUPTED, acts[1].reason, 60.0),  # type: ignore[union-attr]
        ClearStaleLock(2),
    ]
    assert JobState.PREEMPTED in states(acts)
    assert isinstance(acts[-1], ReleaseLease)


def test_idle_decisions() -> None:
    assert ownership.idle(10, idle_shutdown_s=0, notice=False, shutdown_on_notice=True) is None
    assert ownership.idle(10, idle_shutdown_s=5, notice=False, shutdown_on_notice=True) == Shutdown(
        "idle for 10 s"
    )
    notice = ownership.idle(0, idle_shutdown_s=0, notice=True, shutdown_on_notice=True)
    assert notice is not None and "notice" in notice.reason
    assert ownership.idle(0, idle_shutdown_s=0, notice=True, shutdown_on_notice=False) is None
    # a notice in a spot instance's first hour is left to EC2; a long idle still powers off
    kept = ownership.idle(
        0, idle_shutdown_s=0, notice=True, shutdown_on_notice=True, leave_to_ec2=True
    )
    assert kept is None
    late = ownership.idle(
        9, idle_shutdown_s=5, notice=True, shutdown_on_notice=True, leave_to_ec2=True
    )
    assert late == Shutdown("idle for 9 s")


def test_resume_restarting_with_live_trainer_finishes_the_stop_first() -> None:
    run, acts = lc.resume(
        JobState.RESTARTING,
        attempts=1,
        attempt_open=True,
        trained_s=0.0,
        restarts=0,
        reboots=0,
        trainer_alive=True,
        attempt_elapsed_s=40.0,
        now=1000.0,
        reason="stall: no new checkpoint for 60 s",
        policy=POLICY,
    )
    assert acts == [StopTrainer(POLICY.stop_timeout_s)] and run.stopping is Outcome.STALLED
    # the next step sees it stopped: the attempt is closed and counted, then backoff
    run, acts = lc.step(run, Observation(TrainerStatus.ABSENT), 1001.0, POLICY)
    assert EndAttempt(1, Outcome.STALLED, "stall: no new checkpoint for 60 s", 41.0) in acts
    assert run.restarts == 1 and run.state is JobState.RESTARTING


def _resume_claimable(state: JobState, alive: bool) -> tuple[Run, list[lc.Action]]:
    return lc.resume(
        state,
        attempts=2,
        attempt_open=True,
        trained_s=50.0,
        restarts=1,
        reboots=0,
        trainer_alive=alive,
        attempt_elapsed_s=30.0,
        now=1000.0,
        policy=POLICY,
    )


@pytest.mark.parametrize("state", [JobState.PENDING, JobState.PREEMPTED])
def test_resume_claimable_with_an_open_attempt_closes_it_with_its_time(state: JobState) -> None:
    # attempt 2 recorded, then the supervisor killed before the job was marked starting (a
    # version that wrote the record first): it must not stay open behind attempt 3 (issue 23)
    run, acts = _resume_claimable(state, alive=False)
    # taken up as starting (pending -> starting is an edge), then closed as interrupted
    assert states(acts) == [JobState.STARTING, JobState.RESTARTING]
    assert acts[1] == EndAttempt(2, Outcome.INTERRUPTED, acts[1].reason, 30.0)  # type: ignore[union-attr]
    assert run.state is JobState.RESTARTING and run.restarts == 1 and run.trained_s == 80.0
    _nxt, acts = lc.step(run, obs(TrainerStatus.ABSENT), 1000.0, POLICY)
    assert starts(acts, 3, 2)


@pytest.mark.parametrize("state", [JobState.PENDING, JobState.PREEMPTED])
def test_resume_claimable_with_an_open_attempt_and_its_trainer_adopts_it(state: JobState) -> None:
    run, acts = _resume_claimable(state, alive=True)
    assert run.state is JobState.STARTING and run.attempt == 2 and run.attempt_started_at == 970.0
    assert states(acts) == [JobState.STARTING] and events(acts) == [ev.RUN_RESUMED, ev.RUN_ADOPTED]
    assert not any(isinstance(a, (StartAttempt, EndAttempt)) for a in acts)


def test_recording_an_attempt_closes_an_earlier_one_left_open_as_of_its_start() -> None:
    from pitstop.core.records import Attempt

    status = _status(
        state=JobState.STARTING,
        attempts=[
            {
                "n": 1,
                "model_prefix": "m/1",
                "started_at": "2024-01-01T00:00:00.000Z",
                "ended_at": "2024-01-01T00:01:00.000Z",
                "outcome": "crashed",
                "training_s": 60.0,
            },
            {
                "n": 2,
                "model_prefix": "m/2",
                "started_at": "2024-01-01T00:01:10.000Z",
                "outcome": "running",
            },
        ],
    )
    third = Attempt(
        n=3, model_prefix="m/3", started_at="2024-01-01T00:02:00.000Z", outcome="running"
    )
    new = ownership.add_attempt(status, third)
    one, two, three = new.attempts
    assert (one.outcome, one.training_s) == ("crashed", 60.0)  # closed ones are untouched
    assert two.outcome == "interrupted" and two.ended_at == three.started_at
    assert two.training_s == 50.0  # its start until its successor's
    assert three.ended_at is None and three.outcome == "running"
    # a retry after a lost reply sees its own record and changes nothing
    again = ownership.add_attempt(new.model_copy(deep=True), third)
    assert again.attempts == new.attempts


def test_resume_running_finished_while_down_succeeds_without_a_new_attempt() -> None:
    run, acts = lc.resume(
        JobState.RUNNING,
        attempts=1,
        attempt_open=True,
        trained_s=0.0,
        restarts=0,
        reboots=0,
        trainer_alive=False,
        attempt_elapsed_s=30.0,
        now=1000.0,
        finished=True,
        policy=POLICY,
    )
    assert run.state is JobState.SUCCEEDED and run.done
    assert not any(isinstance(a, StartAttempt) for a in acts)
    assert isinstance(acts[0], EndAttempt) and acts[0].outcome is Outcome.SUCCEEDED


def test_starting_to_failed_when_the_attempt_is_refused_at_start() -> None:
    # an evaluation whose checkpoint is gone: no restart brings it back, so none is spent
    start = Run(JobState.STARTING, attempt=1, attempt_started_at=100.0, stale_since=100.0)
    why = "could not start: models/x/attempt-1: checkpoint 99_Step-99.ckpt is not complete"
    refused = lc.Observation(TrainerStatus.ABSENT, refused=why)
    run, acts = lc.step(start, refused, 101.0, POLICY)
    assert run.state is JobState.FAILED and run.done and run.restarts == 0
    end = acts[0]
    assert isinstance(end, EndAttempt) and end.outcome is Outcome.REFUSED and end.reason == why
    assert states(acts) == [JobState.FAILED] and ev.RUN_FAILED in events(acts)
    assert ev.RUN_CRASHED not in events(acts)
    assert not any(isinstance(a, lc.Reboot) for a in acts)
