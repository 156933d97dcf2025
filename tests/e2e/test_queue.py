"""Spot interruptions and the shared queue, end to end: several real supervisor processes,
a local metadata server per instance, moto's S3 over HTTP."""

from __future__ import annotations

import itertools
import json
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.harness import (
    ENDED,
    LEASE_TTL_S,
    REWARD,
    at,
    checkpoint_numbers,
    job,
    job_in,
    jobs_store,
    kill_trainers,
    submit,
    trainer_pids,
)
from tests.helpers import scaled, wait_for
from tests.servers import FakeImds

pytestmark = pytest.mark.e2e


@pytest.fixture
def imds_servers():  # type: ignore[no-untyped-def]
    made: list[FakeImds] = []

    def make(instance_id: str) -> FakeImds:
        server = FakeImds(instance_id)
        made.append(server)
        return server

    yield make
    for s in made:
        s.close()


def instance(
    env: dict[str, str], name: str, imds: FakeImds, tmp_path: Path, **extra: str
) -> dict[str, str]:
    return {
        **env,
        "PITSTOP_INSTANCE_ID": imds.instance_id,
        "PITSTOP_IMDS_ENDPOINT": imds.endpoint,
        "PITSTOP_STATE_DIR": str(tmp_path / name / "state"),
        "PITSTOP_SHUTDOWN_COMMAND": f"sh -c 'echo shutdown >> {tmp_path / name / 'power.log'}'",
        **extra,
    }


def test_spot_notice_preempts_within_10s_and_another_instance_resumes(
    e2e_env, supervisors, imds_servers, tmp_path
) -> None:
    job_id = submit(e2e_env, "spot", {"checkpoint_interval_s": 0.3, "checkpoints": 12})
    supervisors.job_ids.append(job_id)
    imds_a = imds_servers("i-aaaa")
    a = supervisors(instance(e2e_env, "a", imds_a, tmp_path), name="a")
    wait_for(lambda: len(checkpoint_numbers_live(e2e_env, job_id)) >= 3, 30, "three checkpoints")
    imds_a.notice("terminate")
    t0 = time.time()
    doc = wait_for(lambda: job_in(e2e_env, job_id, "preempted"), 10, "the job to be preempted")
    assert time.time() - t0 <= scaled(10)  # within the 2-minute notice, with room to spare
    assert trainer_pids(job_id) == []  # stopped
    attempt = doc["attempts"][0]
    assert attempt["outcome"] == "preempted" and attempt["last_checkpoint"]
    assert doc["restarts"] == 0  # does not count against max_restarts
    assert a.wait(15) == 0  # it shut the instance down (recorded) and exited
    assert (tmp_path / "a" / "power.log").read_text().split() == ["shutdown"]
    heartbeat = json.loads(
        jobs_store(e2e_env).store.get(f"pitstop/instances/{imds_a.instance_id}.json").body
    )
    assert heartbeat["interruption"] and heartbeat["job_id"] is None
    lease = json.loads(jobs_store(e2e_env).store.get(f"pitstop/jobs/{job_id}/lease.json").body)
    assert lease["released"] is True

    imds_b = imds_servers("i-bbbb")
    supervisors(instance(e2e_env, "b", imds_b, tmp_path), name="b")
    doc = wait_for(lambda: job_in(e2e_env, job_id, *ENDED), 40, "instance b to finish the job")
    assert doc["state"] == "succeeded"
    second = doc["attempts"][1]
    assert (
        second["instance_id"] == "i-bbbb"
        and second["pretrained_checkpoint"] == attempt["last_checkpoint"]
    )
    # every planned iteration: attempt 1 trained 1..N (N what a trainer resumes from, its
    # resume point in S3; its log may miss the line of a checkpoint uploaded just before
    # SIGTERM), b N+1..12
    from pitstop.store.checkpoints import resume_point

    first = resume_point(jobs_store(e2e_env).store, f"models/{job_id}/attempt-1")
    assert first is not None and first.name == attempt["last_checkpoint"]
    n = int(first.name.split("_")[0])
    b_log = checkpoint_numbers(e2e_env, job_id, attempts=(2,))
    assert b_log == list(range(n + 1, 13))


def checkpoint_numbers_live(env: dict[str, str], job_id: str) -> list[str]:
    jobs = jobs_store(env)
    return [i.key for i in jobs.store.list(f"models/{job_id}/") if i.key.endswith(".ckpt.index")]


def test_rebalance_is_recorded_and_acts_only_when_configured(
    e2e_env, supervisors, imds_servers, tmp_path
) -> None:
    job_id = submit(e2e_env, "rebalance", {"checkpoint_interval_s": 0.3, "checkpoints": 8})
    supervisors.job_ids.append(job_id)
    imds = imds_servers("i-rebal")
    supervisors(instance(e2e_env, "r", imds, tmp_path), name="r")
    wait_for(lambda: job_in(e2e_env, job_id, "running"), 30, "running")
    imds.rebalance = {"noticeTime": "2026-11-21T11:50:00Z"}
    wait_for(
        lambda: any(
            e["event"] == "spot.rebalance_recommended" for e in job(e2e_env, job_id)["events"]
        ),
        10,
        "the rebalance event",
    )
    doc = wait_for(lambda: job_in(e2e_env, job_id, *ENDED), 30, "the job to end")
    assert doc["state"] == "succeeded" and len(doc["attempts"]) == 1


def test_eight_supervisors_twenty_drops_each_job_once_never_overlapping(
    e2e_env, supervisors, s3, bucket, tmp_path
) -> None:
    for i in range(20):
        if i % 2:
            s3.put_object(
                Bucket=bucket,
                Key=f"pitstop/inbox/reward_{i:02d}.py",
                Body=REWARD + f"# {i} {bucket}\n".encode(),
            )
        else:
            s3.put_object(
                Bucket=bucket,
                Key=f"pitstop/inbox/drop_{i:02d}/reward_function.py",
                Body=REWARD + f"# {i} {bucket}\n".encode(),
            )
            s3.put_object(
                Bucket=bucket,
                Key=f"pitstop/inbox/drop_{i:02d}/job.json",
                Body=json.dumps(
                    {"simulation": {"checkpoint_interval_s": 0.2, "checkpoints": 3}}
                ).encode(),
            )
    for n in range(8):
        supervisors(
            instance_env := {
                **e2e_env,
                "PITSTOP_INSTANCE_ID": f"i-race{n}",
                "PITSTOP_STATE_DIR": str(tmp_path / f"s{n}"),
                # eight idle supervisors scanning every 0.2 s keep moto's one process busy
                # with 100 requests a second: on two busy cores, everything starves
                "PITSTOP_POLL_INTERVAL_S": "0.5",
            },
            name=f"s{n}",
        )
        del instance_env
    jobs = jobs_store(e2e_env)

    def all_done() -> list[str] | None:
        ids = jobs.job_ids()
        supervisors.job_ids[:] = ids
        if len(ids) < 20:
            return None
        return ids if all(jobs.status(j)[0].state.value in ENDED for j in ids) else None

    ids = wait_for(all_done, 150, "20 jobs to end")
    assert len(ids) == 20  # exactly once: no drop became two jobs
    for job_id in ids:
        status, _ = jobs.status(job_id)
        assert status.state.value == "succeeded", (job_id, status.reason)
        spans = sorted(
            (at(a.started_at), at(a.ended_at))
            for a in status.attempts
            if a.started_at and a.ended_at
        )
        assert len(spans) == len(status.attempts)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"{job_id}: attempts overlap"
        started = [e for e in jobs.events(job_id) if e["event"] in ("run.started", "run.restarted")]
        assert len(started) == len(status.attempts)
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix="pitstop/inbox/").get("Contents", [])
    ]
    assert all(k.startswith("pitstop/inbox/processed/") for k in keys)  # moved, never lost
    assert len([k for k in keys if k.endswith(".py") and "/.claims/" not in k]) == 20


def test_silent_instance_loses_its_job_and_fences_itself(e2e_env, supervisors, tmp_path) -> None:
    job_id = submit(e2e_env, "no-notice", {"checkpoint_interval_s": 0.3, "checkpoints": 14})
    supervisors.job_ids.append(job_id)
    env_a = {**e2e_env, "PITSTOP_INSTANCE_ID": "i-lost", "PITSTOP_STATE_DIR": str(tmp_path / "a")}
    env_b = {**e2e_env, "PITSTOP_INSTANCE_ID": "i-taker", "PITSTOP_STATE_DIR": str(tmp_path / "b")}
    a = supervisors(env_a, name="a")
    wait_for(lambda: len(checkpoint_numbers_live(e2e_env, job_id)) >= 3, 30, "three checkpoints")
    b = supervisors(env_b, name="b")
    # the instance vanishes: supervisor and trainer die with no notice
    a.kill(signal.SIGKILL)
    kill_trainers([job_id])
    killed_at = time.time()
    doc = wait_for(
        lambda: (
            (d := job(e2e_env, job_id))["instance_id"] == "i-taker"
            and len(d["attempts"]) >= 2
            and d
        ),
        30,
        "instance b to take the job",
    )
    # not before the lease TTL (1 s timestamp resolution)
    assert time.time() - killed_at >= LEASE_TTL_S - 1.0
    assert doc["attempts"][0]["outcome"] == "preempted"
    assert doc["attempts"][1]["pretrained_checkpoint"] is not None
    # the lost instance comes back with its old local state: it must not train
    again = supervisors(env_a, name="a-again")
    wait_for(lambda: "supervisor.started" in again.names(), 20, "a to restart")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert len(trainer_pids(job_id)) <= 1
        time.sleep(0.2)
    assert not [e for e in again.events() if e.get("event") == "run.launched"]
    doc = wait_for(lambda: job_in(e2e_env, job_id, *ENDED), 60, "b to finish")
    assert doc["state"] == "succeeded"
    assert all(a_["instance_id"] != "i-lost" for a_ in doc["attempts"][1:])
    # the lost instance's logs died with it; its checkpoints are in S3, and b continued from
    # the one a trainer loads (every file present)
    from pitstop.store.checkpoints import resume_point

    point = resume_point(jobs_store(e2e_env).store, f"models/{job_id}/attempt-1")
    assert point is not None and doc["attempts"][1]["pretrained_checkpoint"] == point.name
    pretrained = int(point.name.split("_")[0])
    later = checkpoint_numbers(e2e_env, job_id, attempts=tuple(range(2, len(doc["attempts"]) + 1)))
    assert later[0] == pretrained + 1 and sorted(set(later)) == list(range(pretrained + 1, 15))
    del b


@pytest.mark.parametrize("mode", ["500", "slow", "expire", "down"])
def test_metadata_trouble_is_never_a_notice(
    mode: str, e2e_env, supervisors, imds_servers, tmp_path
) -> None:
    job_id = submit(e2e_env, f"imds-{mode}", {"checkpoint_interval_s": 0.25, "checkpoints": 6})
    supervisors.job_ids.append(job_id)
    imds = imds_servers("i-imds")
    env = instance(e2e_env, "m", imds, tmp_path)
    if mode == "down":
        env["PITSTOP_IMDS_ENDPOINT"] = "http://127.0.0.1:9"
    else:
        imds.mode = mode
    sup = supervisors(env, name="m")
    doc = wait_for(lambda: job_in(e2e_env, job_id, *ENDED), 60, "the job to end")
    assert doc["state"] == "succeeded" and len(doc["attempts"]) == 1
    names = sup.names()
    assert "spot.notice_received" not in names
    if mode != "expire":
        assert "imds.error" in names
    assert not (tmp_path / "m" / "power.log").exists()


BAD_DROPS = {
    "py310": (
        {
            "reward_function.py": b"def reward_function(params):\n    match params:\n        case _:\n            return 1.0\n"
        },
        "Python 3.8",
    ),
    "syntax": ({"reward_function.py": b"def reward_function(params)\n    return 1.0\n"}, "line 1"),
    "noname": ({"reward_function.py": b"def reward(params):\n    return 1.0\n"}, "reward_function"),
    "badjson": (
        {"reward_function.py": REWARD, "model_metadata.json": b"{not json"},
        "not valid JSON",
    ),
    "forty": (
        {
            "reward_function.py": REWARD,
            "model_metadata.json": json.dumps(
                {
                    "action_space": [
                        {"steering_angle": 0, "speed": 1 + i / 100} for i in range(40)
                    ],
                    "version": "5",
                }
            ).encode(),
        },
        "40 actions",
    ),
    "huge": (
        {
            "reward_function.py": b"def reward_function(params):\n    return 1.0\n"
            + b"#" * 50_000_000
        },
        "too large",
    ),
}


def test_bad_inbox_drops_are_rejected_with_reasons_and_kept(
    e2e_env, supervisors, s3, bucket
) -> None:
    for name, (files, _) in BAD_DROPS.items():
        for fname, body in files.items():
            s3.put_object(Bucket=bucket, Key=f"pitstop/inbox/{name}/{fname}", Body=body)
    sup = supervisors(e2e_env)
    jobs = jobs_store(e2e_env)

    def judged() -> list[str] | None:
        ids = jobs.job_ids()
        return (
            ids
            if len(ids) == len(BAD_DROPS)
            and all(jobs.status(j)[0].state.value in ENDED for j in ids)
            else None
        )

    ids = wait_for(judged, 60, "every drop to be judged")
    supervisors.job_ids.extend(ids)
    for job_id in ids:
        doc = job(e2e_env, job_id)
        name = job_id.rsplit("-", 1)[0]
        assert doc["state"] == "rejected", (job_id, doc["reason"])
        reason = doc["reason"]
        assert BAD_DROPS[name][1] in reason and "\n" not in reason, reason
        assert f"inbox/{name}/" in reason  # names the file
        assert doc["attempts"] == [] and "job.rejected" in [e["event"] for e in doc["events"]]

        def kept(job_id: str = job_id) -> list[str]:
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"pitstop/inbox/processed/{job_id}/")
            return sorted(o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", []))

        # the drop is moved once it is judged (50 MB take a while on a busy machine)
        want = sorted(BAD_DROPS[name][0])
        wait_for(lambda want=want: kept() == want, 30, f"{name}'s files kept in processed/")
    assert "run.launched" not in sup.names()


def test_cancel_stops_a_running_job_within_a_poll(e2e_env, supervisors) -> None:
    from pitstop.cli.main import main

    job_id = submit(e2e_env, "to-cancel", {"checkpoint_interval_s": 0.3, "checkpoints": 100})
    supervisors.job_ids.append(job_id)
    supervisors(e2e_env)
    wait_for(lambda: job_in(e2e_env, job_id, "running"), 30, "running")
    assert main(["cancel", job_id]) == 0
    t0 = time.time()
    doc = wait_for(lambda: job_in(e2e_env, job_id, "cancelled"), 10, "cancelled")
    assert time.time() - t0 < scaled(5)  # a poll, a stop and a write; on a fake clock: one tick
    assert trainer_pids(job_id) == [] and doc["attempts"][0]["outcome"] == "cancelled"


def test_idle_instance_shuts_itself_down(e2e_env, supervisors, tmp_path) -> None:
    power = tmp_path / "idle-power.log"
    sup = supervisors(
        {
            **e2e_env,
            "PITSTOP_IDLE_SHUTDOWN_S": "1.5",
            "PITSTOP_SHUTDOWN_COMMAND": f"sh -c 'echo shutdown >> {power}'",
        }
    )
    assert sup.wait(20) == 0
    assert power.read_text().split() == ["shutdown"]
    assert "instance.idle" in sup.names()


def test_sns_message_per_job_event(e2e_env, supervisors, s3_endpoint) -> None:
    import boto3

    sns = boto3.client("sns", endpoint_url=s3_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint, region_name="us-east-1")
    topic = sns.create_topic(Name=f"pitstop-{int(time.time() * 1000)}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"q-{int(time.time() * 1000)}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sim = {
        "checkpoint_interval_s": 0.2,
        "checkpoints": 3,
        "faults": [{"kind": "crash", "attempt": 1, "after_checkpoint": 1}],
    }
    job_id = submit(e2e_env, "notify", sim)
    supervisors.job_ids.append(job_id)
    supervisors({**e2e_env, "PITSTOP_SNS_TOPIC_ARN": topic})
    wait_for(lambda: job_in(e2e_env, job_id, *ENDED), 40, "the job to end")
    seen: list[str] = []

    def received() -> bool:
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(json.loads(m["Body"])["Message"])
            assert body["job_id"] == job_id and "attempt" in body
            seen.append(body["event"])
        return {"run.started", "run.crashed", "run.restarted", "run.succeeded"} <= set(seen)

    wait_for(received, 15, "the notifications")
