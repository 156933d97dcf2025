"""The state machine's table is the truth: every change the core makes is one of its edges,
every edge is made by some core function, and none is made without its ``Transition``."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from pitstop.core import edges, hangs, ownership
from pitstop.core import lifecycle as lc
from pitstop.core.actions import Transition
from pitstop.core.failures import Leftovers
from pitstop.core.hangs import Container
from pitstop.core.records import Attempt, JobStatus
from pitstop.core.states import JobState, TrainerStatus
from pitstop.errors import IllegalTransition

POLICY = lc.Policy(
    stall_timeout_s=60,
    startup_grace_s=120,
    max_restarts=3,
    backoff_base_s=5,
    backoff_max_s=20,
    stop_timeout_s=10,
    reboot_after_failed_attempts=2,
    max_reboots=1,
    max_training_s=4000,
)
ALL_EDGES = {(a, b) for a, targets in edges.EDGES.items() for b in targets}
# made by the intake, not by the core: a job refused at submission is rejected as it is made
NOT_THE_CORE = {(JobState.PENDING, JobState.REJECTED)}


def _observation(rng: random.Random, n: int) -> lc.Observation:
    trainer = rng.choice(list(TrainerStatus))
    hb: lc.Heartbeat | None = None
    if rng.random() < 0.85:
        finished = rng.random() < 0.1
        hb = lc.Heartbeat(
            checkpoint=f"{n}_Step-{n * 100}.ckpt" if rng.random() < 0.8 else None,
            checkpoint_mtime=float(n),
            age_s=rng.uniform(0, 5),
            finished=finished,
            finished_ok=rng.choice([True, False, None]) if finished else None,
            initial=rng.random() < 0.05,
        )
    return lc.Observation(
        trainer=trainer,
        exit_code=rng.choice([None, 0, 1, 137]),
        heartbeat=hb,
        cancel_requested=rng.random() < 0.03,
        interruption="terminate" if rng.random() < 0.03 else None,
        lease_lost=rng.random() < 0.01,
        refused="checkpoint gone" if rng.random() < 0.01 else None,
        start_error="docker failed" if rng.random() < 0.02 else None,
        live=rng.choice(LIVE) if rng.random() < 0.1 else None,
        leftovers=rng.choice(LEFTOVERS) if rng.random() < 0.5 else None,
    )


# what an attempt may leave (each class) and show while it runs (each hang, and none)
USER = '{"simapp_exception": {"message": "Reward function error", "eventType": "user_error"}}'
LEFTOVERS = [
    Leftovers(exit_code=1, logs=USER),
    Leftovers(exit_code=1, logs="NVRM: Xid (PCI:0000:00:1e): 79, GPU has fallen off the bus"),
    Leftovers(exit_code=3),
]
LIVE = [
    hangs.Live((Container("x-algo-1-abcde", "sagemaker", "exited", 1),
                Container("deepracer-0_robomaker.1", "robomaker", "running"))),
    hangs.Live((Container("deepracer-0_robomaker.1", "robomaker", "restarting", None, 4),)),
    hangs.Live((Container("deepracer-0_robomaker.1", "robomaker", "running"),
                Container("deepracer-0_robomaker.2", "robomaker", "exited", 137))),
    hangs.Live((), hangs.EvaluationTail(episodes=40, seconds=800.0, episode_s=10.0)),
    hangs.Live((), hangs.EvaluationTail(episodes=1, seconds=10.0, episode_s=10.0)),
]  # fmt: skip


def _walk(seed: int, steps: int = 400) -> set[tuple[JobState, JobState]]:
    """Random observations into ``step`` (and now and then a SIGTERM or a restart of the
    supervisor): every Transition is an edge, and the run's state only changes by one."""
    rng = random.Random(seed)
    seen: set[tuple[JobState, JobState]] = set()
    stop_on_notice = rng.random() < 0.3  # the job's on_interruption: stop
    start = rng.choice([JobState.PENDING, JobState.PREEMPTED])
    run = lc.Run(start, stop_on_interruption=stop_on_notice)
    now = 0.0
    for n in range(1, steps):
        now += rng.choice([1.0, 10.0, 70.0, 200.0])
        before = run
        roll = rng.random()
        if roll < 0.02:
            run, acts = lc.interrupt(run, now, POLICY)
        elif roll < 0.05 and run.state.is_active():
            run, acts = lc.resume(
                run.state,
                attempts=run.attempt,
                attempt_open=rng.random() < 0.7,
                trained_s=run.trained_s,
                restarts=run.restarts,
                reboots=run.reboots,
                trainer_alive=rng.random() < 0.5,
                attempt_elapsed_s=30.0,
                now=now,
                finished=rng.random() < 0.2,
                policy=POLICY,
                infra_restarts=run.infra_restarts,
                stop_on_interruption=stop_on_notice,
            )
        else:
            run, acts = lc.step(run, _observation(rng, n), now, POLICY)
        moves = [a for a in acts if isinstance(a, Transition)]
        state = before.state
        for m in moves:
            assert edges.allowed(state, m.to), (state, m)
            seen.add((state, m.to))
            state = m.to
        if moves:
            assert moves[-1].to is run.state
        elif run.state is not before.state:
            # only resume's in-memory restart (every attempt closed: start again) moves
            # without writing; it writes when the next attempt starts
            assert run.state is JobState.RESTARTING and not before.done
        if run.done:
            if run.state.is_terminal():
                return seen
            # handed back (preempted, lease lost, reboot): another claim takes it up
            status = JobStatus(id="job-a", state=run.state, restarts=run.restarts)
            status.reboots = run.reboots
            run = lc.claimed_run(
                ownership.claimed_state(run.state),
                attempts=run.attempt,
                restarts=run.restarts,
                reboots=run.reboots,
                trained_s=run.trained_s,
                infra_restarts=run.infra_restarts,
                stop_on_interruption=stop_on_notice,
            )
    return seen


def test_every_change_the_lifecycle_makes_is_an_edge_and_every_edge_is_made() -> None:
    seen: set[tuple[JobState, JobState]] = set()
    for seed in range(300):
        seen |= _walk(seed)
    seen |= _ownership_edges()
    assert seen <= ALL_EDGES
    assert ALL_EDGES - NOT_THE_CORE - seen == set()


def _ownership_edges() -> set[tuple[JobState, JobState]]:
    seen = set()
    claim = ownership.Claim(me="i-b", epoch=5, now_iso="2026-12-04T10:00:00.000Z")
    for state in (JobState.STARTING, JobState.RUNNING, JobState.RESTARTING):
        old = JobStatus(id="job-a", state=state, instance_id="i-a", lease_epoch=4)
        new = ownership.take(old, claim)
        assert new is not None
        seen.add((state, new.state))
    for state in (JobState.PENDING, JobState.PREEMPTED):
        cancelled = ownership.request_cancel(JobStatus(id="job-a", state=state))
        assert cancelled is not None
        seen.add((state, cancelled.state))
        done = ownership.quarantine(
            JobStatus(id="job-a", state=state), "bad", me="i-b", epoch=1, now_iso="t"
        )
        assert done is not None
        seen.add((state, done[0].state))
    return seen


def test_a_change_outside_the_table_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="succeeded -> running"):
        edges.check(JobState.SUCCEEDED, JobState.RUNNING, "test")
    with pytest.raises(IllegalTransition):
        edges.check(JobState.PENDING, JobState.RUNNING, "test")  # never without starting
    for terminal in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
        assert edges.EDGES[terminal] == frozenset()


def test_a_done_run_decides_nothing_more() -> None:
    run = replace(lc.Run(JobState.SUCCEEDED), done=True)
    assert lc.step(run, lc.Observation(TrainerStatus.RUNNING), 10.0, POLICY) == (run, [])


def test_ownership_changes_are_copies_never_the_callers_record() -> None:
    attempt = Attempt(n=1, model_prefix="m/1", started_at="2026-12-04T09:00:00.000Z")
    old = JobStatus(id="job-a", state=JobState.RUNNING, instance_id="i-a", attempts=[attempt])
    frozen = old.model_dump()
    claim = ownership.Claim(me="i-b", epoch=3, now_iso="2026-12-04T10:00:00.000Z")
    assert ownership.take(old, claim) is not None
    assert ownership.request_cancel(old) is not None
    assert ownership.quarantine(old, "bad", me="i-b", epoch=3, now_iso="t") is not None
    second = Attempt(n=2, model_prefix="m/2", started_at="2026-12-04T10:00:00.000Z")
    assert len(ownership.add_attempt(old, second).attempts) == 2
    ended = ownership.end_attempt(
        old, 1, outcome=lc.Outcome.CRASHED, ended_at="t", training_s=5.0, last=None
    )
    assert ended.attempts[0].outcome == "crashed"
    moved = Transition(JobState.RESTARTING, "stall", "run.stalled", restarts=1)
    assert ownership.apply(old, moved).state is JobState.RESTARTING
    assert old.model_dump() == frozen


@pytest.mark.parametrize(
    ("status", "me", "epoch", "ours"),
    [
        (JobStatus(id="j", instance_id="i-a", lease_epoch=3), "i-a", 3, True),
        (JobStatus(id="j", instance_id=None, lease_epoch=0), "i-a", 3, True),
        (JobStatus(id="j", instance_id="i-a", lease_epoch=4), "i-a", 3, False),  # newer lease
        (JobStatus(id="j", instance_id="i-b", lease_epoch=3), "i-a", 3, False),  # named other
    ],
)
def test_one_fencing_rule(status: JobStatus, me: str, epoch: int, ours: bool) -> None:
    assert ownership.owns(status, me, epoch) is ours
    claim = ownership.Claim(me=me, epoch=epoch, now_iso="2026-12-04T10:00:00.000Z")
    # a claim steps back exactly when the state was written under a newer lease
    assert (ownership.take(status, claim) is None) is ownership.superseded(status, epoch)


def test_a_take_over_never_ends_an_attempt_before_it_started() -> None:
    # the old owner's lease was renewed within the second its attempt started: by the
    # lease's 1 s timestamp it was "last heard of" just before that start
    started = "2026-12-04T10:00:00.700Z"
    attempt = Attempt(n=3, model_prefix="m/3", started_at=started)
    old = JobStatus(id="job-a", state=JobState.STARTING, instance_id="i-a", attempts=[attempt])
    claim = ownership.Claim(
        me="i-b", epoch=9, now_iso="2026-12-04T10:00:40.000Z",
        lost_at_iso="2026-12-04T10:00:00.000Z",
    )  # fmt: skip
    new = ownership.take(old, claim)
    assert new is not None and new.attempts[0].ended_at == started


@pytest.mark.parametrize(
    ("counted", "ended_at", "kept"),
    [
        (3.0, "2026-12-04T10:00:01.800Z", 1.8),  # the start's record was written late
        (1.5, "2026-12-04T10:00:01.800Z", 1.5),  # within the span: as counted
        (3.0, "not a time", 3.0),  # an unreadable end: as counted
        # the wall clock stepped back 10 min during an hour's attempt (NTP after a boot):
        # the monotonic count stands, or the job would train past max_hours
        (3600.0, "2026-12-04T10:50:00.000Z", 3600.0),
    ],
)
def test_an_attempt_never_counts_more_time_than_its_recorded_span(
    counted: float, ended_at: str, kept: float
) -> None:
    # the supervisor counts from its decision to start; the record (and the trainer) come
    # after a write that a busy store can make slow
    attempt = Attempt(n=1, model_prefix="m/1", started_at="2026-12-04T10:00:00.000Z")
    status = JobStatus(id="job-a", state=JobState.RUNNING, attempts=[attempt])
    ended = ownership.end_attempt(
        status, 1, outcome=lc.Outcome.CRASHED, ended_at=ended_at, training_s=counted, last=None
    )
    assert ended.attempts[0].training_s == kept
