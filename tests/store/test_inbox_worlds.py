"""An inbox drop naming a world the simulator does not know becomes a rejected job."""

from __future__ import annotations

import json

from pitstop.inbox import Inbox
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store

REWARD = b"def reward_function(params):\n    return 1.0\n"


def test_a_drop_with_a_misspelt_world_is_rejected_with_a_suggestion_and_kept(
    bucket: str, s3_endpoint: str
) -> None:
    jobs = JobStore(S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout())
    inbox = Inbox(jobs, "i-1", claim_ttl_s=5, dynamic=False, settle_s=3600)
    jobs.store.put("pitstop/inbox/typo/reward_function.py", REWARD)
    jobs.store.put("pitstop/inbox/typo/job.json", json.dumps({"world": "nosuch_track"}).encode())
    jobs.store.put("pitstop/inbox/typo/.ready", b"")
    (job_id,) = inbox.scan()
    status, _ = jobs.status(job_id)
    assert status.state.value == "rejected"
    assert status.reason is not None
    assert "job.json: world: unknown world 'nosuch_track'; did you mean" in status.reason
    kept = {i.key.rsplit("/", 1)[-1] for i in jobs.store.list(f"pitstop/inbox/processed/{job_id}/")}
    assert {"reward_function.py", "job.json"} <= kept


def test_a_drop_with_a_world_in_another_case_runs_on_the_simulators_spelling(
    bucket: str, s3_endpoint: str
) -> None:
    jobs = JobStore(S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout())
    inbox = Inbox(jobs, "i-1", claim_ttl_s=5, dynamic=False, settle_s=3600)
    jobs.store.put("pitstop/inbox/oval/reward_function.py", REWARD)
    jobs.store.put("pitstop/inbox/oval/job.json", json.dumps({"world": "oval_track"}).encode())
    jobs.store.put("pitstop/inbox/oval/.ready", b"")
    (job_id,) = inbox.scan()
    assert jobs.status(job_id)[0].state.value == "pending"
    assert jobs.spec(job_id).world == "Oval_track"
