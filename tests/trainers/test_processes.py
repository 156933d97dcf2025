"""Process backends on a shared host (issue 23, item 2): a supervisor finds its leftover
trainers by job, instance *and* its own token (from its state directory), so supervisors
that share a host, even with the same job and instance ids, never stop each other's."""

from __future__ import annotations

from pathlib import Path

from pitstop.core.states import TrainerStatus
from pitstop.intake import Submission, build_spec, defaults
from pitstop.trainers.base import TOKEN_VARIABLE, AttemptPlan, supervisor_token
from pitstop.trainers.simulated import SimulatedTrainer
from tests.helpers import wait_for

REWARD = b"def reward_function(params):\n    return 1.0\n"


def _plan(state_dir: Path, bucket: str, endpoint: str) -> AttemptPlan:
    # the same job (same content, same id) for every supervisor, as two demos have
    files = {"reward_function.py": REWARD, **defaults()}
    sim = {"checkpoint_interval_s": 0.5, "checkpoints": 1000}
    spec = build_spec(Submission(name="shared", files=files, fields={"simulation": sim}))
    return AttemptPlan(
        job_id=spec.id,
        attempt=1,
        spec=spec,
        model_prefix=f"models/{spec.id}/{state_dir.parent.name}/attempt-1",
        pretrained_prefix=None,
        pretrained_checkpoint=None,
        bucket=bucket,
        region="us-east-1",
        endpoint_url=endpoint,
        custom_files_prefix=f"pitstop/jobs/{spec.id}/custom_files/",
        work_dir=state_dir / "jobs" / spec.id,
        instance_id="i-0demo0000000001",  # both supervisors: the demo's instance id
    )


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_a_supervisor_stops_only_its_own_leftover_trainers(
    tmp_path: Path, bucket: str, s3_endpoint: str
) -> None:
    a_dir, b_dir = tmp_path / "a" / "state", tmp_path / "b" / "state"
    a = SimulatedTrainer(supervisor_token(a_dir))
    b = SimulatedTrainer(supervisor_token(b_dir))
    a_plan, b_plan = _plan(a_dir, bucket, s3_endpoint), _plan(b_dir, bucket, s3_endpoint)
    assert a_plan.job_id == b_plan.job_id
    a_pid = a.start(a_plan)["pid"]
    b_pid = b.start(b_plan)["pid"]
    try:
        # until a child has exec'd, /proc shows its parent's environment (a busy machine
        # can take a while): wait for each trainer's own, then go on
        for pid, state in ((a_pid, a_dir), (b_pid, b_dir)):
            wait_for(lambda pid=pid: TOKEN_VARIABLE in _environ(pid), 30, f"trainer {pid} to exec")
            assert _environ(pid)[TOKEN_VARIABLE] == supervisor_token(state)
        # A starts its next attempt: it looks for leftovers of the job, finds none of its own
        assert a.stop_strays(a_plan.job_id, a_plan.instance_id) == 0
        assert b.status()[0] is TrainerStatus.RUNNING  # B's trainer untouched
        # B restarts (a new trainer object, the same state directory) without its handle:
        # it finds its own leftover, and only that one
        b_again = SimulatedTrainer(supervisor_token(b_dir))
        assert b_again.stop_strays(b_plan.job_id, b_plan.instance_id) == 1
        wait_for(lambda: b.status()[0] is TrainerStatus.EXITED, 20, "B's leftover to stop")
        assert a.status()[0] is TrainerStatus.RUNNING
    finally:
        a.stop(2)
        b.stop(2)


def test_the_token_is_the_state_directorys_whatever_its_spelling(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    token = supervisor_token(tmp_path / "state")
    assert supervisor_token(Path("state")) == token
    assert supervisor_token(tmp_path / "x" / ".." / "state") == token
    assert supervisor_token(tmp_path / "other") != token
