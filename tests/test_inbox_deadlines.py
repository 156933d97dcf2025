"""A deadline can buy on-demand time, and anyone who may write the inbox can write one
(issue 22, item 3): an inbox job.json with ``deadline``/``deadline_hours`` is rejected
unless ``inbox_deadlines`` is on; ``pitstop submit`` by an engineer is not limited by it.
S3 on moto's server, the real inbox scan and the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitstop.cli.main import main
from pitstop.config import load_settings
from pitstop.inbox import Inbox
from pitstop.store.jobs import JobStore
from pitstop.supervisor.runtime import build
from tests.e2e.harness import jobs_store

REWARD = b"def reward_function(params):\n    return 1.0\n"


def _drop(jobs: JobStore, name: str, fields: dict[str, object]) -> None:
    jobs.store.put(f"pitstop/inbox/{name}/reward_function.py", REWARD)
    jobs.store.put(f"pitstop/inbox/{name}/job.json", json.dumps(fields).encode())
    jobs.store.put(f"pitstop/inbox/{name}/.ready", b"")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"max_hours": 1, "deadline_hours": 1.5}, "deadline_hours"),
        ({"max_hours": 1, "deadline": "2099-01-01T00:00:00Z"}, "deadline"),
    ],
)
def test_an_inbox_deadline_is_rejected_by_default_with_one_line_and_the_drop_kept(
    settings_env: dict[str, str], fields: dict[str, object], named: str
) -> None:
    jobs = jobs_store(settings_env)
    _drop(jobs, "rush", fields)
    (job_id,) = Inbox(jobs, "i-1", claim_ttl_s=5, dynamic=False, settle_s=0).scan()
    status, _ = jobs.status(job_id)
    assert status.state.value == "rejected"
    reason = status.reason or ""
    bucket = settings_env["PITSTOP_BUCKET"]
    assert reason.startswith(
        f"s3://{bucket}/pitstop/inbox/rush/job.json: {named} not accepted from the inbox "
        "(inbox_deadlines is off"
    ), reason
    assert "pitstop submit" in reason and "\n" not in reason
    spec = jobs.spec(job_id)
    assert spec.deadline is None and spec.deadline_hours is None  # no deadline rides along
    kept = {i.key.rsplit("/", 1)[-1] for i in jobs.store.list(f"pitstop/inbox/processed/{job_id}/")}
    assert {"reward_function.py", "job.json"} <= kept


def test_an_inbox_drop_without_a_deadline_is_unaffected(settings_env: dict[str, str]) -> None:
    jobs = jobs_store(settings_env)
    _drop(jobs, "calm", {"max_hours": 1, "deadline": None})
    (job_id,) = Inbox(jobs, "i-1", claim_ttl_s=5, dynamic=False, settle_s=0).scan()
    assert jobs.status(job_id)[0].state.value == "pending"


def test_an_inbox_deadline_is_accepted_where_inbox_deadlines_allows_it(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # through the supervisor's own wiring: the setting reaches the inbox it scans
    monkeypatch.setenv("PITSTOP_INBOX_DEADLINES", "true")
    monkeypatch.setenv("PITSTOP_MARKET", "spot")  # no metadata service to ask
    monkeypatch.setenv("PITSTOP_INBOX_SETTLE_S", "0")
    jobs = jobs_store(settings_env)
    _drop(jobs, "rush", {"max_hours": 1, "deadline_hours": 1.5})
    supervisor = build(load_settings(None))
    assert supervisor.scan_inbox is not None
    (job_id,) = supervisor.scan_inbox()
    assert jobs.status(job_id)[0].state.value == "pending"
    assert jobs.spec(job_id).deadline_at() is not None


def test_the_supervisor_rejects_inbox_deadlines_by_default(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PITSTOP_MARKET", "spot")
    monkeypatch.setenv("PITSTOP_INBOX_SETTLE_S", "0")
    jobs = jobs_store(settings_env)
    _drop(jobs, "rush", {"max_hours": 1, "deadline_hours": 1.5})
    supervisor = build(load_settings(None))
    assert supervisor.scan_inbox is not None
    (job_id,) = supervisor.scan_inbox()
    assert jobs.status(job_id)[0].state.value == "rejected"


def test_pitstop_submit_keeps_its_deadline_whatever_inbox_deadlines_says(
    tmp_path: Path, settings_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    reward = tmp_path / "fast.py"
    reward.write_text(REWARD.decode())
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"max_hours": 1, "deadline_hours": 1.5}))
    assert main(["submit", str(reward), "--job", str(job), "--json"]) == 0
    job_id = json.loads(capsys.readouterr().out)["id"]
    jobs = jobs_store(settings_env)
    assert jobs.status(job_id)[0].state.value == "pending"
    assert jobs.spec(job_id).deadline_at() is not None
