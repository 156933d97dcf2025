"""The supervisor's lifecycle behaviours on a fake clock: no wall-clock race, whatever the load.

``Supervisor`` runs in-process against moto's S3 server (over HTTP, as in production) with
a ``FakeClock`` and ``FakeTrainer`` passed in as its ports: the test writes the trainer's
checkpoints, crashes and exits itself, moves the clock and calls ``tick()``. Stalls, crash
backoff, restart and time budgets, and S3 outages are decided on the clock's seconds, so a
CPU-starved machine changes nothing but how long the test takes. Only the supervisor's
public surface is used (constructor, ``tick()``, ``heartbeat()``, ``current``).

A few real-process runs of the same behaviours stay in ``tests/e2e`` (real child
processes, real seconds, timings scaled by ``PITSTOP_TEST_TIME_SCALE``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from pitstop.config import Settings, load_settings
from pitstop.core.failures import Leftovers
from pitstop.core.hangs import Container
from pitstop.core.states import TrainerStatus
from pitstop.intake import Submission, build_spec, defaults
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, ModelKeys
from pitstop.store.objects import S3Store
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.base import AttemptPlan
from tests.helpers import wait_for
from tests.supervisor.stores import FaultyStore

REWARD = b"def reward_function(params):\n    return 1.0\n"

# settings in the fake clock's seconds (the lease TTL and the heartbeat are real seconds
# for S3's timestamps, and long: a lease never expires while a test runs)
STALL_S = 600.0
GRACE_S = 900.0
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 120.0
POLL_S = 10.0
# a checkpoint's age is read from S3's real timestamps (1 s resolution, and the real time
# between the upload and the tick): bounds around a checkpoint's time keep this much room
SLACK_S = 30.0


class FakeClock:
    """Monotonic seconds and a wall clock that move only when the test says so."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._wall0 = datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return self._wall0 + timedelta(seconds=self.t - 1000.0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


class FakeTrainer:
    """The trainer port, in memory: the test decides when a checkpoint lands or it exits.

    Checkpoints are written to S3 in DRfC's layout (every file, ``.coach_checkpoint``
    last), so the supervisor reads them as it reads a real trainer's.
    """

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.plans: list[AttemptPlan] = []
        self.state = TrainerStatus.ABSENT
        self.code: int | None = None
        self.stops = 0
        self.done = 0  # trained checkpoints of the current attempt
        self._stamp: datetime | None = None  # .coach_checkpoint's LastModified, last written
        self.log = ""  # the attempt's log tail, as the supervisor will read it once it is down
        self.seen: tuple[Container, ...] = ()  # its containers, as docker would report them

    # -- the port ------------------------------------------------------------------------
    def start(self, plan: AttemptPlan) -> dict[str, Any]:
        self.plans.append(plan)
        self.state, self.code, self.done, self._stamp = TrainerStatus.RUNNING, None, 0, None
        return {"attempt": plan.attempt, "fake": True}

    def adopt(self, handle: dict[str, Any]) -> bool:
        return False

    def status(self) -> tuple[TrainerStatus, int | None]:
        return self.state, self.code

    def stop(self, timeout_s: float) -> bool:
        if self.state is TrainerStatus.RUNNING:
            self.stops += 1
        self.state, self.code = TrainerStatus.ABSENT, None
        return True

    def stop_strays(self, job_id: str, instance_id: str) -> int:
        return 0

    def log_files(self) -> list[Path]:
        return []

    def containers(self) -> tuple[Container, ...]:
        return self.seen

    def leftovers(self) -> Leftovers:
        return Leftovers(exit_code=self.code, logs=self.log, containers=self.seen)

    # -- what the test makes the trainer do -----------------------------------------------
    @property
    def plan(self) -> AttemptPlan:
        return self.plans[-1]

    @property
    def keys(self) -> ModelKeys:
        return ModelKeys(self.plan.model_prefix)

    def checkpoint(self) -> str:
        """Upload the next trained checkpoint (continuing from the pretrained one)."""
        first = int((self.plan.pretrained_checkpoint or "0_").split("_")[0])
        self.done += 1
        n = first + self.done
        name = f"{n}_Step-{n * 1000}.ckpt"
        files = self.keys.checkpoint_files(name)
        for key in files:
            self.store.put(key, b"weights")

        # S3's LastModified has a 1 s resolution: a checkpoint is new to the supervisor when
        # its marker's time differs from the last one's, so rewrite it until it does
        # (at most a second of real time; the fake clock does not move)
        def marked() -> bool:
            self.store.put(self.keys.coach_checkpoint, name.encode())
            head = self.store.head(self.keys.coach_checkpoint)
            assert head is not None
            stamp = head.last_modified
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            return True

        wait_for(marked, 30, f"{name}'s marker to get a time of its own", interval=0.2)
        return name

    def crash(self, code: int) -> None:
        self.state, self.code = TrainerStatus.EXITED, code

    def finish(self) -> None:
        """What simapp does at the end: ``model/.finished``, then exit 0."""
        self.store.put(self.keys.finished, b"")
        self.state, self.code = TrainerStatus.EXITED, 0


class Rig:
    """One supervisor on a fake clock, a fake trainer and moto's S3 (which can be cut)."""

    def __init__(
        self,
        bucket: str,
        endpoint: str,
        tmp: Path,
        *,
        uptime: float | None = None,
        spot: Any = None,
        **extra: Any,
    ) -> None:
        base: dict[str, Any] = {
            "bucket": bucket,
            "s3_endpoint_url": endpoint,
            "trainer": "simulated",
            "state_dir": tmp / "state",
            "instance_id": "i-clock",
            "poll_interval_s": POLL_S,
            "stall_timeout_s": STALL_S,
            "startup_grace_s": GRACE_S,
            "backoff_base_s": BACKOFF_BASE_S,
            "backoff_max_s": BACKOFF_MAX_S,
            "heartbeat_interval_s": 60.0,
            "lease_ttl_s": 600.0,
            "stop_timeout_s": 30.0,
            "reboot_command": "true",
            "shutdown_command": "true",
        }
        self.settings: Settings = load_settings(None, **{**base, **extra})
        inner = S3Store.from_settings(self.settings)
        self.store = FaultyStore(inner)
        self.jobs = JobStore(inner, Layout(self.settings.prefix))
        self.clock = FakeClock()
        self.trainer = FakeTrainer(inner)
        self.commands: list[list[str]] = []
        self.kernel = ""  # the instance's kernel log, as the supervisor reads it
        self.sup = Supervisor(
            self.settings,
            self.store,
            self.trainer,
            "i-clock",
            spot=spot or NoInterruptions(),
            clock=self.clock,
            commands=lambda argv: self.commands.append(argv) or 0,
            host_messages=lambda since: self.kernel,
            uptime=lambda: uptime,  # None: the instance's age is unknown
        )

    def submit(self, name: str, **fields: Any) -> str:
        files = {"reward_function.py": REWARD + f"# {uuid.uuid4().hex}\n".encode(), **defaults()}
        spec = build_spec(Submission(name=name, files=files, fields=fields))
        self.jobs.create(spec, files)
        return spec.id

    def status(self, job_id: str) -> Any:
        return self.jobs.status(job_id)[0]

    def outcomes(self, job_id: str) -> list[str | None]:
        return [a.outcome for a in self.status(job_id).attempts]

    def tick(self, advance: float = 0.0) -> bool:
        self.clock.advance(advance)
        return self.sup.tick()

    def ticks_until(self, predicate: Callable[[], Any], what: str, most: int = 20) -> Any:
        """Tick (the clock still) until ``predicate``; a bound in ticks, never in seconds."""
        for _ in range(most):
            self.sup.tick()
            if found := predicate():
                return found
        raise AssertionError(f"not within {most} ticks: {what}")

    def start(self, job_id: str) -> None:
        """Claim the job and start attempt 1."""
        self.ticks_until(lambda: self.trainer.plans, "the first attempt to start")
        assert self.trainer.plan.job_id == job_id


@pytest.fixture
def rig(bucket: str, s3_endpoint: str, tmp_path: Path) -> Iterator[Rig]:
    made = Rig(bucket, s3_endpoint, tmp_path)
    yield made
    made.store.release.set()


@pytest.fixture
def make_rig(bucket: str, s3_endpoint: str, tmp_path: Path) -> Callable[..., Rig]:
    return lambda **extra: Rig(bucket, s3_endpoint, tmp_path, **extra)


def names(logs: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in logs]


# -- stall --------------------------------------------------------------------------------
def test_running_to_restarting_when_no_checkpoint_for_the_stall_timeout(rig: Rig) -> None:
    job_id = rig.submit("stall", simulation={"checkpoints": 8})
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.ticks_until(lambda: rig.status(job_id).state.value == "running", "running")
    with capture_logs() as logs:
        rig.tick(STALL_S - SLACK_S)  # short of the timeout: not a stall
        assert "run.stalled" not in names(logs)
        assert rig.trainer.stops == 0
        rig.tick(2 * SLACK_S)
    assert "run.stalled" in names(logs)
    assert rig.trainer.stops == 1
    status = rig.status(job_id)
    assert status.attempts[0].outcome == "stalled"
    assert re.search(r"no new checkpoint for 6\d\d s", status.reason or ""), status.reason


def test_a_new_checkpoint_restarts_the_stall_clock(rig: Rig) -> None:
    job_id = rig.submit("progress", simulation={"checkpoints": 8})
    rig.start(job_id)
    for _ in range(3):
        rig.trainer.checkpoint()
        rig.tick(STALL_S - SLACK_S)  # each lands within the timeout of the one before
    with capture_logs() as logs:
        rig.tick()
    assert "run.stalled" not in names(logs)
    assert rig.outcomes(job_id) == ["running"]
    assert rig.trainer.stops == 0


def test_slow_first_checkpoint_is_not_a_stall_within_the_startup_grace(rig: Rig) -> None:
    job_id = rig.submit("slow-start", simulation={"checkpoints": 8})
    rig.start(job_id)
    with capture_logs() as logs:
        rig.tick(GRACE_S - SLACK_S)  # past the stall timeout, inside the grace
    assert "run.stalled" not in names(logs)
    rig.trainer.checkpoint()
    rig.tick(1)
    assert rig.status(job_id).state.value == "running"
    with capture_logs() as logs:
        rig.tick(STALL_S + SLACK_S)  # once a checkpoint is in, the (shorter) stall timeout holds
    assert "run.stalled" in names(logs)


# -- crash and backoff ----------------------------------------------------------------------
def test_a_crash_restarts_after_its_backoff_from_the_last_checkpoint(rig: Rig) -> None:
    job_id = rig.submit("crash", simulation={"checkpoints": 8})
    rig.start(job_id)
    rig.trainer.checkpoint()
    last = rig.trainer.checkpoint()
    rig.tick(1)
    rig.trainer.crash(3)
    with capture_logs() as logs:
        rig.tick(1)
        rig.tick(BACKOFF_BASE_S - 2)  # first failure in a row: base backoff, not yet over
    assert "run.crashed" in names(logs)
    assert len(rig.trainer.plans) == 1
    assert rig.outcomes(job_id) == ["crashed"]
    rig.tick(2)
    rig.ticks_until(lambda: len(rig.trainer.plans) == 2, "attempt 2")
    assert rig.trainer.plan.pretrained_checkpoint == last
    assert rig.status(job_id).attempts[1].pretrained_checkpoint == last
    assert rig.status(job_id).restarts == 1


def test_backoff_doubles_with_failures_in_a_row_up_to_its_maximum(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(reboot_after_failed_attempts=0)
    job_id = rig.submit("crashes", simulation={"checkpoints": 8})
    rig.start(job_id)
    # no checkpoint in between: failures in a row, each backoff twice the one before
    for n, backoff in enumerate([30.0, 60.0, 120.0, 120.0], start=1):
        assert backoff == min(BACKOFF_BASE_S * 2 ** (n - 1), BACKOFF_MAX_S)
        rig.trainer.crash(1)
        rig.tick(1)  # the crash is seen: the backoff starts here
        rig.tick(backoff - 2)
        assert len(rig.trainer.plans) == n, f"attempt {n + 1} started before {backoff} s"
        rig.tick(3)
        rig.ticks_until(lambda n=n: len(rig.trainer.plans) == n + 1, f"attempt {n + 1}")


def test_restart_budget_spent_fails_with_reason(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(max_restarts=2)
    job_id = rig.submit("always-crashes", simulation={"checkpoints": 5})
    rig.start(job_id)
    for _ in range(3):
        rig.trainer.checkpoint()
        rig.tick(1)
        rig.trainer.crash(7)
        rig.tick(1)
        rig.tick(BACKOFF_MAX_S)
        rig.ticks_until(
            lambda: (
                rig.status(job_id).state.value == "failed" or rig.trainer.state.value == "running"
            ),
            "a restart or the end",
        )
    status = rig.status(job_id)
    assert status.state.value == "failed"
    assert "restart budget of 2 spent" in (status.reason or "")
    assert "code 7" in (status.reason or "")
    assert rig.outcomes(job_id) == ["crashed"] * 3
    assert len(rig.trainer.plans) == 3
    assert "run.failed" in [e["event"] for e in rig.jobs.events(job_id)]


def test_freeze_then_crash_then_success_loses_no_checkpoint(rig: Rig) -> None:
    job_id = rig.submit("freeze-crash", simulation={"checkpoints": 6})
    rig.start(job_id)
    written: dict[int, list[str]] = {}
    for _ in range(3):
        written.setdefault(1, []).append(rig.trainer.checkpoint())
        rig.tick(1)
    rig.tick(STALL_S + 1)  # frozen: no checkpoint
    rig.tick(BACKOFF_MAX_S)
    rig.ticks_until(lambda: len(rig.trainer.plans) == 2, "attempt 2")
    written[2] = [rig.trainer.checkpoint()]
    rig.tick(1)
    rig.trainer.crash(3)
    rig.tick(1)
    rig.tick(BACKOFF_MAX_S)
    rig.ticks_until(lambda: len(rig.trainer.plans) == 3, "attempt 3")
    written[3] = [rig.trainer.checkpoint() for _ in range(2)]
    rig.trainer.finish()
    rig.ticks_until(lambda: rig.status(job_id).state.value == "succeeded", "success")
    assert rig.outcomes(job_id) == ["stalled", "crashed", "succeeded"]
    attempts = rig.status(job_id).attempts
    for n in (2, 3):
        assert attempts[n - 1].pretrained_checkpoint == written[n - 1][-1]
    numbers = [int(c.split("_")[0]) for n in (1, 2, 3) for c in written[n]]
    assert numbers == list(range(1, 7))  # every planned iteration, none twice


def test_failed_attempts_in_a_row_reboot_the_instance(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(reboot_after_failed_attempts=2)
    job_id = rig.submit("reboots", simulation={"checkpoints": 8})
    rig.start(job_id)
    for n in (1, 2):
        rig.trainer.crash(1)
        rig.tick(1)
        if n == 1:
            rig.tick(BACKOFF_MAX_S)
            rig.ticks_until(lambda: len(rig.trainer.plans) == 2, "attempt 2")
    assert rig.commands == [rig.settings.command_argv("reboot")]
    assert rig.status(job_id).reboots == 1


# -- why a run stopped (issue 26) ---------------------------------------------------------
def test_a_user_error_fails_the_job_at_once_without_a_restart(rig: Rig) -> None:
    from pitstop.core.records import Fault
    from pitstop.trainers.simulated_run import reward_error_lines

    job_id = rig.submit("user-error", simulation={"checkpoints": 8})
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.tick(1)
    rig.trainer.log = "training...\n" + reward_error_lines(Fault(kind="reward_error"), REWARD)
    rig.trainer.crash(1)
    with capture_logs() as logs:
        rig.tick(1)
    assert "run.failed" in names(logs) and "run.backing_off" not in names(logs)
    status = rig.status(job_id)
    assert status.state.value == "failed"
    assert (status.reason or "").startswith("user_error: simapp: Reward function error"), (
        status.reason
    )
    assert "reward_function.py line 2" in (status.reason or "")
    assert status.restarts == 0 and status.infra_restarts == 0
    (attempt,) = status.attempts
    assert attempt.failure == "user_error" and attempt.signature == "reward_error"
    rig.tick(BACKOFF_MAX_S)  # nothing more, however long
    assert len(rig.trainer.plans) == 1


def test_infrastructure_faults_restart_on_their_own_budget_until_it_is_spent(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(max_infra_restarts=2, max_restarts=0, reboot_after_failed_attempts=0)
    job_id = rig.submit("gpu-xid", simulation={"checkpoints": 8})
    rig.start(job_id)
    rig.trainer.log = "NVRM: Xid (PCI:0000:00:1e): 79, pid=77, GPU has fallen off the bus.\n"
    for n in (1, 2, 3):
        rig.trainer.crash(1)
        rig.tick(1)
        if n < 3:  # max_restarts=0: only the infrastructure budget lets it restart
            rig.tick(BACKOFF_MAX_S)
            rig.ticks_until(lambda n=n: len(rig.trainer.plans) == n + 1, f"attempt {n + 1}")
            assert rig.status(job_id).infra_restarts == n
    status = rig.status(job_id)
    assert status.state.value == "failed"
    assert "infrastructure restart budget of 2 spent" in (status.reason or ""), status.reason
    assert "gpu_xid" not in (status.reason or "") and "GPU Xid error" in (status.reason or "")
    assert status.restarts == 0
    assert [a.failure for a in status.attempts] == ["infrastructure"] * 3
    assert {a.signature for a in status.attempts} == {"gpu_xid"}


def test_a_gpu_fault_only_the_kernel_saw_is_infrastructure(make_rig: Callable[..., Rig]) -> None:
    """The NVIDIA driver reports an Xid in the kernel log, not in any container's: the
    supervisor reads the instance's messages since the attempt started."""
    rig = make_rig(max_restarts=0, reboot_after_failed_attempts=0)
    job_id = rig.submit("kernel-xid", simulation={"checkpoints": 8})
    rig.start(job_id)
    rig.trainer.log = "INFO: iteration 3\nSegmentation fault (core dumped)\n"
    rig.kernel = "NVRM: Xid (PCI:0000:00:1e): 48, pid=91, DBE (double bit error)\n"
    rig.trainer.crash(139)
    rig.tick(1)
    status = rig.status(job_id)
    assert status.state.value == "restarting", status.reason  # max_restarts=0, yet it goes on
    assert (status.restarts, status.infra_restarts) == (0, 1)
    assert status.attempts[0].failure == "infrastructure"
    assert status.attempts[0].signature == "gpu_xid"


def test_a_hang_the_containers_show_stops_the_run_within_one_poll(rig: Rig) -> None:
    job_id = rig.submit("worker-gone", simulation={"checkpoints": 8})
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.ticks_until(lambda: rig.status(job_id).state.value == "running", "running")
    rig.tick(POLL_S)
    assert rig.trainer.stops == 0
    rig.trainer.seen = (
        Container("sagemaker-1", "sagemaker", "running"),
        Container("robomaker-1", "robomaker", "running"),
        Container("robomaker-2", "robomaker", "exited", exit_code=137),
    )
    with capture_logs() as logs:
        rig.tick(POLL_S)  # the next poll, far inside the stall timeout
    assert "run.stalled" in names(logs)
    assert rig.trainer.stops == 1
    stalled = next(e for e in logs if e["event"] == "run.stalled")
    assert stalled["signature"] == "worker_exited"
    status = rig.status(job_id)
    assert "worker exited" in (status.reason or ""), status.reason
    assert status.attempts[0].outcome == "stalled"
    assert status.attempts[0].signature == "worker_exited"
    assert status.restarts == 1  # an unknown cause: counted


# -- budgets ------------------------------------------------------------------------------
def test_time_budget_counts_training_over_attempts(rig: Rig) -> None:
    budget_s = 3600.0
    job_id = rig.submit("budget", simulation={"checkpoints": 1000}, max_hours=budget_s / 3600)
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.tick(2000)
    rig.trainer.crash(1)
    rig.tick(0)
    rig.tick(BACKOFF_MAX_S)  # waiting for a restart is not training
    rig.ticks_until(lambda: len(rig.trainer.plans) == 2, "attempt 2")
    rig.trainer.checkpoint()
    rig.tick(budget_s - 2000 - 10)
    assert rig.status(job_id).state.value == "running"
    rig.trainer.checkpoint()
    rig.tick(20)
    rig.ticks_until(lambda: rig.status(job_id).state.value == "succeeded", "the budget to end it")
    status = rig.status(job_id)
    assert "time budget" in (status.reason or "")
    assert rig.outcomes(job_id) == ["crashed", "budget_spent"]
    total = sum(a.training_s for a in status.attempts)
    assert budget_s <= total <= budget_s + 20  # the second attempt got only what was left


def test_cancel_stops_the_trainer_at_the_next_tick(rig: Rig) -> None:
    from pitstop.cli.main import main

    job_id = rig.submit("to-cancel", simulation={"checkpoints": 100})
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.tick(1)
    env = {
        "PITSTOP_BUCKET": rig.settings.bucket,
        "PITSTOP_S3_ENDPOINT_URL": str(rig.settings.s3_endpoint_url),
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert main(["cancel", job_id]) == 0
    rig.sup.heartbeat()  # reads cancel_requested
    rig.ticks_until(lambda: rig.status(job_id).state.value == "cancelled", "cancelled", most=3)
    assert rig.trainer.stops == 1
    assert rig.outcomes(job_id) == ["cancelled"]


# -- S3 unreachable -------------------------------------------------------------------------
def test_s3_unreachable_is_never_a_stall(rig: Rig) -> None:
    job_id = rig.submit("outage", simulation={"checkpoints": 6})
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.ticks_until(lambda: rig.status(job_id).state.value == "running", "running")
    with capture_logs() as logs:
        rig.store.broken = True
        for _ in range(30):  # 3 x the stall timeout with S3 unreachable
            rig.tick(STALL_S / 10)
        assert rig.trainer.stops == 0
        rig.store.broken = False
        rig.tick(1)
        seen = names(logs)
        assert "heartbeat.unknown" in seen and "heartbeat.restored" in seen
        assert "run.stalled" not in seen
        # the trainer could not upload either: it gets a full stall timeout from now
        rig.tick(STALL_S - 2)
        assert "run.stalled" not in names(logs)
        rig.trainer.checkpoint()
        rig.tick(1)
        assert "run.stalled" not in names(logs)
    assert rig.outcomes(job_id) == ["running"]
    assert rig.trainer.stops == 0
    rig.trainer.finish()
    rig.ticks_until(lambda: rig.status(job_id).state.value == "succeeded", "success")
    assert rig.outcomes(job_id) == ["succeeded"]


def test_an_outage_longer_than_the_stall_timeout_still_stalls_a_frozen_trainer_after(
    rig: Rig,
) -> None:
    job_id = rig.submit("outage-then-freeze", simulation={"checkpoints": 6})
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.tick(1)
    rig.store.broken = True
    rig.tick(2 * STALL_S)
    rig.store.broken = False
    rig.tick(1)  # restored: the stall clock starts again here
    with capture_logs() as logs:
        rig.tick(STALL_S + 1)
    assert "run.stalled" in names(logs)
    assert rig.outcomes(job_id)[0] == "stalled"


def test_a_job_document_from_a_fake_clock_run_is_plain_json(rig: Rig) -> None:
    """What the queue commands read back is the same whatever clock wrote it."""
    job_id = rig.submit("doc", simulation={"checkpoints": 2})
    rig.start(job_id)
    rig.trainer.checkpoint()
    rig.trainer.finish()
    rig.ticks_until(lambda: rig.status(job_id).state.value == "succeeded", "success")
    status = rig.status(job_id)
    json.dumps(status.model_dump())
    (attempt,) = status.attempts
    assert attempt.started_at and attempt.ended_at
    assert attempt.training_s >= 0
