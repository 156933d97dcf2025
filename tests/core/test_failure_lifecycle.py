"""The lifecycle decides from the class: a user error fails at once, an infrastructure fault
restarts on its own budget, an unknown one counts; a known hang stops the run in one poll;
``on_interruption: stop`` ends the job on a notice."""

from __future__ import annotations

from dataclasses import replace

from pitstop.core import hangs
from pitstop.core import lifecycle as lc
from pitstop.core.actions import Emit, EndAttempt, ReleaseLease, Shutdown, StopTrainer, Transition
from pitstop.core.failures import FailureKind, Leftovers
from pitstop.core.hangs import Container
from pitstop.core.states import JobState, Outcome, TrainerStatus

POLICY = lc.Policy(
    stall_timeout_s=1800,
    startup_grace_s=2400,
    max_restarts=10,
    backoff_base_s=10,
    backoff_max_s=600,
    reboot_after_failed_attempts=0,
    max_infra_restarts=2,
)
USER = (
    '  File "/opt/amazon/markov/rewards/reward_function.py", line 9, in reward_function\n'
    '{"simapp_exception": {"message": "Reward function exception: \'speed\'", '
    '"eventType": "user_error", "errorCode": "400"}}\nERROR: FAULT_CODE: 41\n'
)
XID = "NVRM: Xid (PCI:0000:00:1e): 79, pid=1, GPU has fallen off the bus.\n"


def running(**changes: object) -> lc.Run:
    run = lc.Run(
        JobState.RUNNING,
        attempt=1,
        attempt_started_at=0.0,
        stale_since=100.0,
        checkpoint="3_Step-300.ckpt",
        checkpoint_mtime=3.0,
    )
    return replace(run, **changes)  # type: ignore[arg-type]


def exited(logs: str, code: int = 1) -> lc.Observation:
    return lc.Observation(
        TrainerStatus.EXITED, code, lc.Heartbeat(), leftovers=Leftovers(code, logs)
    )


def moves(acts: list[lc.Action]) -> list[Transition]:
    return [a for a in acts if isinstance(a, Transition)]


def test_a_user_error_fails_the_job_at_once_with_the_message_and_line() -> None:
    run, acts = lc.step(running(), exited(USER), 200.0, POLICY)
    assert run.state is JobState.FAILED and run.done
    assert run.restarts == 0  # no restart spent
    assert run.reason is not None and run.reason.startswith("user_error: ")
    assert "Reward function exception: 'speed'" in run.reason
    assert "reward_function.py line 9" in run.reason
    end = next(a for a in acts if isinstance(a, EndAttempt))
    assert end.outcome is Outcome.CRASHED
    assert end.failure is not None and end.failure.kind is FailureKind.USER_ERROR
    failed = moves(acts)[-1]
    assert failed.to is JobState.FAILED
    assert failed.fields == {"failure": "user_error", "signature": "reward_error", "reward_line": 9}
    assert isinstance(acts[-1], ReleaseLease)


def test_an_infrastructure_fault_restarts_without_spending_a_restart() -> None:
    run, acts = lc.step(running(restarts=4), exited(XID, 139), 200.0, POLICY)
    assert run.state is JobState.RESTARTING
    assert (run.restarts, run.infra_restarts) == (4, 1)
    backing_off = moves(acts)[-1]
    assert backing_off.infra_restarts == 1 and backing_off.restarts == 4
    assert backing_off.fields["failure"] == "infrastructure"
    assert backing_off.fields["signature"] == "gpu_xid"
    crashed = next(a for a in acts if isinstance(a, Emit))
    assert crashed.fields["failure"] == "infrastructure"


def test_the_infrastructure_budget_is_its_own_and_ends_the_job_when_spent() -> None:
    run, _ = lc.step(running(infra_restarts=2), exited(XID), 200.0, POLICY)
    assert run.state is JobState.FAILED
    assert run.reason is not None
    assert run.reason.startswith("infrastructure restart budget of 2 spent")
    assert run.restarts == 0


def test_an_unexplained_crash_counts_as_before() -> None:
    run, _ = lc.step(running(), exited("INFO: nothing to see\n", 3), 200.0, POLICY)
    assert run.state is JobState.RESTARTING
    assert (run.restarts, run.infra_restarts) == (1, 0)
    assert run.reason == "trainer exited with code 3 before model/.finished (unknown cause)"
    # and without any evidence gathered (an older supervisor's path), exactly as before
    run, _ = lc.step(
        running(), lc.Observation(TrainerStatus.EXITED, 3, lc.Heartbeat()), 200.0, POLICY
    )
    assert run.reason == "trainer exited with code 3 before model/.finished"


def test_a_stall_is_classified_when_its_trainer_is_down() -> None:
    stalled, acts = lc.step(
        running(), lc.Observation(TrainerStatus.RUNNING, None, lc.Heartbeat()), 1900.0, POLICY
    )
    assert stalled.state is JobState.RESTARTING and any(isinstance(a, StopTrainer) for a in acts)
    # once stopped, the logs show the GPU fell off the bus: not the job's fault
    run, _ = lc.step(stalled, exited(XID, 137), 1910.0, POLICY)
    assert (run.restarts, run.infra_restarts) == (0, 1)
    assert run.reason is not None and run.reason.startswith("infrastructure: GPU Xid error")


def live(*containers: Container, tail: hangs.EvaluationTail | None = None) -> lc.Observation:
    return lc.Observation(
        TrainerStatus.RUNNING,
        None,
        lc.Heartbeat("3_Step-300.ckpt", 3.0, 5.0),
        live=hangs.Live(containers, tail),
    )


def test_a_known_hang_stops_the_run_on_the_poll_it_shows() -> None:
    sagemaker = Container("tmp-algo-1-abcde", "sagemaker", "running")
    workers = [Container(f"deepracer-0_robomaker.{i}", "robomaker", "running") for i in (1, 2)]
    gone = Container(workers[1].name, "robomaker", "exited", 137)
    run, acts = lc.step(running(), live(sagemaker, workers[0], gone), 130.0, POLICY)
    assert run.state is JobState.RESTARTING  # 30 s after the last checkpoint, not 1800
    stalled = moves(acts)[0]
    assert stalled.event == "run.stalled" and stalled.fields == {"signature": "worker_exited"}
    assert stalled.reason is not None and stalled.reason.startswith("stall: worker exited")
    assert any(isinstance(a, StopTrainer) for a in acts)


def test_endless_evaluation_stops_the_run_and_a_new_checkpoint_wins_over_it() -> None:
    tail = hangs.EvaluationTail(episodes=40, seconds=480.0, episode_s=12.0)
    run, acts = lc.step(running(), live(tail=tail), 600.0, POLICY)
    assert run.state is JobState.RESTARTING
    assert moves(acts)[0].fields == {"signature": "endless_evaluation"}
    # the same poll brings a new checkpoint: progress, no hang
    fresh = replace(live(tail=tail), heartbeat=lc.Heartbeat("4_Step-400.ckpt", 4.0, 1.0))
    run, acts = lc.step(running(), fresh, 600.0, POLICY)
    assert run.state is JobState.RUNNING and run.checkpoint == "4_Step-400.ckpt"


def test_the_attempt_record_keeps_the_hang_it_was_stopped_for() -> None:
    tail = hangs.EvaluationTail(
        episodes=2,
        seconds=24.0,
        episode_s=12.0,
        timeline=tuple((i * 12_000, 12.0) for i in range(40)),
        trained=38,
    )
    marks = (hangs.WorkerMark(1, "etag", 5, 0),)
    obs = replace(live(tail=tail), live=hangs.Live((), tail, marks))
    run, acts = lc.step(running(), obs, 600.0, POLICY)
    assert moves(acts)[0].fields == {"signature": "silent_worker"}
    assert run.stop_signature == "silent_worker"
    # the trainer is down, its logs explain nothing: the attempt is named by the hang
    down = lc.Observation(TrainerStatus.EXITED, 137, lc.Heartbeat(), leftovers=Leftovers(137, ""))
    run, acts = lc.step(run, down, 610.0, POLICY)
    (ended,) = [a for a in acts if isinstance(a, EndAttempt)]
    assert ended.outcome is Outcome.STALLED and ended.failure is not None
    assert ended.failure.signature == "silent_worker"
    assert ended.failure.kind is FailureKind.UNKNOWN  # a hang's cause is not known: it counts
    assert ended.reason.startswith("stall: silent worker") and run.restarts == 1
    assert run.stop_signature is None  # the next attempt starts with nothing to carry
    # logs that do explain it (a GPU Xid in the stop's leftovers) win over the hang's name
    run, _ = lc.step(running(), obs, 600.0, POLICY)
    xid = lc.Observation(TrainerStatus.EXITED, 1, lc.Heartbeat(), leftovers=Leftovers(1, XID))
    _, acts = lc.step(run, xid, 610.0, POLICY)
    (ended,) = [a for a in acts if isinstance(a, EndAttempt)]
    assert ended.failure is not None and ended.failure.signature == "gpu_xid"


def test_containers_name_a_hang_even_while_s3_is_unreadable() -> None:
    looping = Container("deepracer-0_robomaker.1", "robomaker", "restarting", None, 5)
    blind = lc.Observation(TrainerStatus.RUNNING, None, None, live=hangs.Live((looping,)))
    run, acts = lc.step(running(), blind, 130.0, POLICY)
    assert run.state is JobState.RESTARTING
    assert moves(acts)[0].fields == {"signature": "restart_loop"}


def test_on_interruption_stop_ends_the_job_on_a_notice() -> None:
    notice = lc.Observation(TrainerStatus.EXITED, 0, lc.Heartbeat(), interruption="terminate")
    run, acts = lc.step(running(stop_on_interruption=True), notice, 200.0, POLICY)
    assert run.state is JobState.CANCELLED and run.done
    assert run.reason is not None and "on_interruption: stop" in run.reason
    assert isinstance(acts[-1], Shutdown)  # the instance still powers off
    assert any(isinstance(a, ReleaseLease) for a in acts)
    # the default goes back to the queue, as always
    run, _ = lc.step(running(), notice, 200.0, POLICY)
    assert run.state is JobState.PREEMPTED
    # a notice while restarting ends it too
    restarting = replace(running(stop_on_interruption=True), state=JobState.RESTARTING)
    run, _ = lc.step(restarting, notice, 200.0, POLICY)
    assert run.state is JobState.CANCELLED


def test_claim_and_resume_carry_the_infrastructure_count_and_the_choice() -> None:
    run, _ = lc.resume(
        JobState.RESTARTING,
        attempts=2,
        attempt_open=False,
        trained_s=10.0,
        restarts=1,
        reboots=0,
        trainer_alive=False,
        attempt_elapsed_s=0.0,
        now=5.0,
        infra_restarts=3,
        stop_on_interruption=True,
    )
    assert (run.infra_restarts, run.stop_on_interruption) == (3, True)
    run, acts = lc.step(run, lc.Observation(TrainerStatus.ABSENT), 6.0, POLICY)
    assert moves(acts)[0].infra_restarts == 3
