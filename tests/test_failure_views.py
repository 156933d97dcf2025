"""The class and reason of a failure, in one line, where a person looks: ``pitstop job``, the
dashboard's API and the SNS notification (through moto's server: SNS -> SQS, read back)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3

from pitstop.job_views import job_view, last_failure
from pitstop.supervisor.notify import SnsNotifier

ATTEMPTS: list[dict[str, Any]] = [
    {
        "n": 1,
        "model_prefix": "models/job-a/attempt-1",
        "started_at": "2026-12-05T00:00:00.000Z",
        "ended_at": "2026-12-05T00:10:00.000Z",
        "outcome": "crashed",
        "pretrained_prefix": None,
        "pretrained_checkpoint": None,
        "last_checkpoint": "3_Step-300.ckpt",
        "failure": "infrastructure",
        "failure_reason": "GPU Xid error: NVRM: Xid (PCI:0000:00:1e): 79",
        "signature": "gpu_xid",
    },
    {
        "n": 2,
        "model_prefix": "models/job-a/attempt-2",
        "started_at": "2026-12-05T00:11:00.000Z",
        "ended_at": "2026-12-05T00:12:00.000Z",
        "outcome": "crashed",
        "pretrained_prefix": "models/job-a/attempt-1",
        "pretrained_checkpoint": "3_Step-300.ckpt",
        "last_checkpoint": None,
        "failure": "user_error",
        "failure_reason": "simapp: Reward function exception: 'speed' (reward_function.py line 9)",
        "signature": "reward_error",
    },
]


def test_the_job_view_names_the_last_failure_in_one_line() -> None:
    doc = {
        "id": "job-a",
        "name": "job a",
        "state": "failed",
        "reason": "user_error: simapp: Reward function exception: 'speed' (reward_function.py line 9)",
        "instance_id": "i-1",
        "restarts": 0,
        "infra_restarts": 1,
        "training_s": 660.0,
        "attempts": ATTEMPTS,
        "events": [],
    }
    view = job_view(doc)
    failure = [line for line in view.lines if line.startswith("failure ")]
    assert failure == [
        "failure   user_error: simapp: Reward function exception: 'speed' "
        "(reward_function.py line 9) (attempt 2, reward_error)"
    ]
    assert any("restarts 0 (+1 after infrastructure faults)" in line for line in view.lines)
    assert [row[3] for row in view.attempts] == ["crashed (infrastructure)", "crashed (user_error)"]
    # no failure recorded (older jobs, successes): no line
    assert last_failure([{**a, "failure": None} for a in ATTEMPTS]) is None


def test_the_notification_carries_the_class_and_reason(s3_endpoint: str) -> None:
    sns = boto3.client("sns", endpoint_url=s3_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint, region_name="us-east-1")
    topic = sns.create_topic(Name=f"pitstop-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"pitstop-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
    notify = SnsNotifier(topic, "us-east-1", s3_endpoint)
    reason = "user_error: simapp: Reward function exception: 'speed' (reward_function.py line 9)"
    notify(
        "run.failed",
        {"job_id": "job-a", "state": "failed", "reason": reason, "failure": "user_error"},
    )
    notify("run.checkpointed", {"job_id": "job-a"})  # not one a person wants mail for
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=5)
    messages = [json.loads(m["Body"]) for m in got.get("Messages", [])]
    assert len(messages) == 1
    assert messages[0]["Subject"] == "pitstop: job-a run.failed (user_error)"
    body = json.loads(messages[0]["Message"])
    assert body["summary"] == f"job-a run.failed: {reason}"
    assert body["failure"] == "user_error"
