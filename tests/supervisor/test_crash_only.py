"""Crash-only supervisor, in process: real S3 (moto over HTTP), real trainer processes, and
object stores that fail or pause on purpose (ports passed in, nothing patched).

Each test names the defect of issue 12 it pins; each failed on the supervisor before it.
"""

from __future__ import annotations

import re
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from pitstop.config import Settings, load_settings
from pitstop.core import events as ev
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState, TrainerStatus
from pitstop.errors import CorruptObject
from pitstop.intake import Submission, build_spec, defaults
from pitstop.store.checkpoints import read_progress
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, model_prefix
from pitstop.store.objects import S3Store
from pitstop.supervisor import runtime
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.simulated import SimulatedTrainer
from tests.helpers import wait_for
from tests.supervisor.stores import FaultyStore

REWARD = b"def reward_function(params):\n    return 1.0\n"


def settings_for(bucket: str, endpoint: str, state_dir: Path, **extra: Any) -> Settings:
    base: dict[str, Any] = {
        "bucket": bucket,
        "s3_endpoint_url": endpoint,
        "trainer": "simulated",
        "state_dir": state_dir,
        "instance_id": "i-one",
        "poll_interval_s": 0.05,
        "stall_timeout_s": 5.0,
        "startup_grace_s": 5.0,
        "backoff_base_s": 0.1,
        "backoff_max_s": 0.2,
        "heartbeat_interval_s": 0.3,
        "lease_ttl_s": 1.0,
        "stop_timeout_s": 0.5,
        "reboot_command": "true",
        "shutdown_command": "true",
    }
    return load_settings(None, **{**base, **extra})


def make_job(jobs: JobStore, name: str, **simulation: Any) -> str:
    sim = {"checkpoint_interval_s": 0.1, "checkpoints": 3, **simulation}
    files = {"reward_function.py": REWARD + f"# {uuid.uuid4().hex}\n".encode(), **defaults()}
    spec = build_spec(Submission(name=name, files=files, fields={"simulation": sim}))
    jobs.create(spec, files)
    return spec.id


class Rig:
    """One in-process supervisor on a faulty store; its trainers are stopped at the end."""

    def __init__(self, bucket: str, endpoint: str, tmp: Path, name: str = "i-one", **extra: Any):
        self.settings = settings_for(bucket, endpoint, tmp / name, instance_id=name, **extra)
        self.store = FaultyStore(S3Store.from_settings(self.settings))
        self.jobs = JobStore(self.store.inner, Layout(self.settings.prefix))
        self.trainer = SimulatedTrainer()
        self.commands: list[list[str]] = []
        self.exit_code = 0
        self.sup = Supervisor(
            self.settings,
            self.store,
            self.trainer,
            name,
            spot=NoInterruptions(),
            commands=self._command,
        )

    def _command(self, argv: list[str]) -> int:
        self.commands.append(argv)
        return self.exit_code

    def state(self, job_id: str) -> JobStatus:
        return self.jobs.status(job_id)[0]

    def tick_until(self, predicate: Any, timeout: float, what: str) -> Any:
        def once() -> Any:
            self.sup.tick()
            return predicate()

        return wait_for(once, timeout, what, interval=0.05)

    def close(self) -> None:
        self.store.release.set()
        self.trainer.stop(2)


@pytest.fixture
def rigs(bucket: str, s3_endpoint: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Rig] = []

    def make(name: str = "i-one", **extra: Any) -> Rig:
        rig = Rig(bucket, s3_endpoint, tmp_path, name, **extra)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


# -- defect 3: one failed write at the end of a job ------------------------------------
def test_a_failed_final_state_write_is_retried_and_the_instance_claims_again(rigs) -> None:
    rig = rigs()
    first = make_job(rig.jobs, "first")
    second = make_job(rig.jobs, "second")
    rig.tick_until(lambda: rig.sup.current is not None, 10, "a claim")
    held = rig.sup.current.job_id
    other = second if held == first else first
    finished = model_prefix(held, 1)
    # let it train to the end, then fail the next write of its state.json once
    wait_for(lambda: read_progress(rig.store.inner, finished).finished, 20, ".finished")
    rig.store.fail_next_puts(rf"jobs/{held}/state\.json$", 1)
    results = []
    wait_for(
        lambda: results.append(rig.sup.tick()) or rig.state(held).state is JobState.SUCCEEDED,
        20,
        "the held job to be recorded succeeded",
    )
    assert rig.store.failed == 1 and False in results  # the failed tick said so
    rig.tick_until(lambda: rig.state(other).attempts, 20, "the next job to be claimed")
    assert rig.state(other).instance_id == "i-one"


def test_no_progress_for_max_failed_ticks_exits_non_zero_without_feeding_the_watchdog(
    rigs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = rigs(max_failed_ticks=4)
    make_job(rig.jobs, "doomed", checkpoints=1000)

    class BreaksS3OnStart(SimulatedTrainer):
        def start(self, plan: AttemptPlan) -> dict[str, Any]:
            handle = super().start(plan)
            rig.store.broken = True  # S3 goes away just after the trainer started
            return handle

    rig.trainer = BreaksS3OnStart()
    rig.sup.trainer = rig.sup.ctx.trainer = rig.trainer
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(0.05)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    with capture_logs() as logs:
        code = runtime.run(rig.settings, rig.sup)
    messages = []
    while True:
        try:
            messages.append(notify.recv(100).decode())
        except OSError:
            break
    notify.close()
    assert code == 1
    assert ev.SUPERVISOR_GIVING_UP in [e["event"] for e in logs]
    # fed once, for the tick that launched the trainer; never for the failed ticks after it
    assert "READY=1" in messages and messages.count("WATCHDOG=1") == 1
    assert rig.trainer.status()[0] is TrainerStatus.RUNNING  # left for the next supervisor


# -- defect 11: a power command that fails -------------------------------------------------
def test_a_failed_power_command_is_recorded_and_the_instance_carries_on(rigs) -> None:
    rig = rigs(idle_shutdown_s=0.2)
    rig.exit_code = 1
    with capture_logs() as logs:
        rig.tick_until(lambda: rig.commands, 10, "the idle shutdown")
    failed = [e for e in logs if e["event"] == "instance.power_command_failed"]
    assert failed and failed[0]["exit_code"] == 1
    job_id = make_job(rig.jobs, "after")
    rig.tick_until(lambda: rig.state(job_id).attempts, 10, "a claim after the failed shutdown")
    assert not rig.sup.stopping.is_set()


# -- defects 6 and 7: a claimer paused between its lease and its state write ------------
def test_a_claimer_paused_after_its_lease_never_overwrites_the_new_owner(rigs) -> None:
    a, b = rigs("i-slow"), rigs("i-fast")
    job_id = make_job(a.jobs, "contested", checkpoints=1000)
    # A stops right after its lease PUT lands, before it writes state.json
    a.store.pause_after_put = re.compile(rf"jobs/{job_id}/lease\.json$")
    thread = threading.Thread(target=a.sup.tick, daemon=True)
    thread.start()
    wait_for(a.store.paused.is_set, 10, "A to pause after taking the lease")
    # A is silent past the lease TTL: B takes the job over and starts training
    b.tick_until(lambda: b.sup.current is not None, 15, "B to take the job")
    b.tick_until(lambda: b.trainer.status()[0] is TrainerStatus.RUNNING, 10, "B's trainer")
    a.store.release.set()
    thread.join(20)
    status = b.state(job_id)
    assert status.instance_id == "i-fast" and len(status.attempts) == 1
    assert status.attempts[0].instance_id == "i-fast" and status.attempts[0].ended_at is None
    assert a.sup.current is None  # A stepped back ...
    assert a.trainer.status()[0] is TrainerStatus.ABSENT  # ... and launched nothing
    b.sup.heartbeat()
    assert b.sup.current is not None and not b.sup.current.fenced  # B still holds it
    by_a = [e for e in a.jobs.events(job_id) if e.get("instance_id") == "i-slow"]
    assert by_a == []  # A recorded nothing in a job it did not own


# -- defect 9: every state change keeps both indexes right -------------------------------
def test_every_state_change_keeps_the_claim_and_terminal_indexes(rigs) -> None:
    rig = rigs()
    jobs = rig.jobs
    job_id = make_job(jobs, "indexed")
    assert jobs.claimable_index() == [job_id]

    def to(state: JobState) -> None:
        def change(s: JobStatus) -> JobStatus:
            s.state = state
            return s

        jobs.update(job_id, change)

    to(JobState.RUNNING)
    assert jobs.claimable_index() == []
    to(JobState.PREEMPTED)
    assert jobs.claimable_index() == [job_id]  # back in the queue at once, preempted first
    to(JobState.SUCCEEDED)
    assert jobs.claimable_index() == []
    assert job_id not in jobs.live_job_ids()  # the terminal marker: full scans skip it


def test_an_unreadable_state_of_a_claimable_job_is_set_aside_and_the_queue_goes_on(
    rigs,
) -> None:
    rig = rigs()
    bad = make_job(rig.jobs, "garbled")
    good = make_job(rig.jobs, "fine")
    key = rig.jobs.layout.state(bad)
    rig.store.inner.put(key, b"{not json")

    def both_handled() -> bool:
        try:
            return rig.state(bad).state is JobState.FAILED and bool(rig.state(good).attempts)
        except CorruptObject:
            return False

    rig.tick_until(both_handled, 20, "the bad job set aside and the good one claimed")
    status = rig.state(bad)
    assert status.state is JobState.FAILED and key in (status.reason or "")
    kept = [i.key for i in rig.store.inner.list(key + ".corrupt-")]
    assert len(kept) == 1 and rig.store.inner.get(kept[0]).body == b"{not json"
