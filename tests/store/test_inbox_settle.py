"""An inbox drop is taken only once it has settled, or once its folder holds ``.ready``."""

from __future__ import annotations

import json

from pitstop.inbox import Inbox
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store
from tests.helpers import wait_for

REWARD = b"def reward_function(params):\n    return 1.0\n"
METADATA = {
    "action_space": [
        {"steering_angle": a, "speed": s, "index": i}
        for i, (a, s) in enumerate((a, s) for a in (-20, 0, 20) for s in (1.0, 2.0))
    ],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "discrete",
    "version": "5",
}


def _inbox(bucket: str, endpoint: str, settle_s: float) -> tuple[Inbox, JobStore]:
    jobs = JobStore(S3Store(bucket, region="us-east-1", endpoint_url=endpoint), Layout())
    return Inbox(jobs, "i-1", claim_ttl_s=5, dynamic=False, settle_s=settle_s), jobs


def test_a_folder_uploaded_file_by_file_becomes_one_job_with_all_its_files(
    bucket: str, s3_endpoint: str
) -> None:
    inbox, jobs = _inbox(bucket, s3_endpoint, settle_s=1.5)
    jobs.store.put("pitstop/inbox/slow/reward_function.py", REWARD)
    assert inbox.scan() == []  # too fresh: the rest may still be on its way
    jobs.store.put("pitstop/inbox/slow/model_metadata.json", json.dumps(METADATA).encode())
    assert inbox.scan() == []
    (job_id,) = wait_for(inbox.scan, 10, "the drop to settle and become a job")
    files = jobs.custom_files(job_id)
    assert json.loads(files["model_metadata.json"])["action_space"] == METADATA["action_space"]
    assert jobs.status(job_id)[0].state.value == "pending"
    assert len(jobs.job_ids()) == 1  # no second, rejected job from the late file


def test_a_ready_marker_takes_the_drop_at_once_and_is_moved_with_it(
    bucket: str, s3_endpoint: str
) -> None:
    inbox, jobs = _inbox(bucket, s3_endpoint, settle_s=3600)
    jobs.store.put("pitstop/inbox/quick/reward_function.py", REWARD)
    assert inbox.scan() == []
    jobs.store.put("pitstop/inbox/quick/.ready", b"")
    (job_id,) = inbox.scan()
    left = [i.key for i in jobs.store.list("pitstop/inbox/") if "/processed/" not in i.key]
    assert left == []
    moved = {
        i.key.rsplit("/", 1)[-1] for i in jobs.store.list(f"pitstop/inbox/processed/{job_id}/")
    }
    assert moved == {"reward_function.py", ".ready"}
