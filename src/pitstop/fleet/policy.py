"""IAM policies for the two kinds of principal that touch the bucket, scoped to named keys.

Who may write what is the trust boundary (docs/security.md):

- **instances** (``instance_policy``, the role ``fleet up --create-role`` makes): read
  ``PREFIX/*`` and ``models/*``; write the queue (``jobs/``, ``index/``), their heartbeat
  (``instances/``), processed drops (``inbox/processed/``) and models (``models/*``, which
  DRfC's containers write through the same role); delete only drops they moved, index
  entries and model objects (stale ``.lock``, DRfC's checkpoint rotation). Never
  ``scripts/`` or ``defaults/``: an instance runs those, so it may not change them.
  SNS publish on the configured topic, SSM read of ``/pitstop/*``.
- **trainers** (``trainer_policy``): read ``PREFIX/*`` and ``models/*`` (their jobs, logs
  and models); write ``inbox/`` only, never ``inbox/processed/`` (explicit deny), delete
  nothing. ``pitstop submit`` and ``cancel`` write ``jobs/`` directly, so they need the
  credentials of whoever administers the bucket, as writing ``scripts/`` and ``defaults/`` does.

No ``*`` actions, no resource wildcards beyond those prefixes, no NotAction/NotResource.
"""

from __future__ import annotations

from typing import Any, Literal

from pitstop.config import Settings
from pitstop.store.layout import MODELS_DIR, Layout

SSM_PARAMETER_PREFIX = "/pitstop/"
Principal = Literal["instance", "trainer"]


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _s3(settings: Settings) -> tuple[str, str, str]:
    """(bucket ARN, ARN of every object of pitstop's, ARN of every model object)."""
    bucket_arn = f"arn:{_partition(settings.region)}:s3:::{settings.bucket}"
    return (
        bucket_arn,
        _objects(settings, Layout(settings.prefix).root),
        _objects(settings, MODELS_DIR),
    )


def _objects(settings: Settings, key_prefix: str) -> str:
    """The ARN of every object under ``key_prefix`` (a ``Layout`` prefix, ending in ``/``)."""
    return f"arn:{_partition(settings.region)}:s3:::{settings.bucket}/{key_prefix}*"


def _read(settings: Settings) -> list[dict[str, Any]]:
    bucket_arn, ours, models = _s3(settings)
    return [
        {
            "Sid": "ListPitstopAndModelPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {
                "StringLike": {"s3:prefix": [f"{Layout(settings.prefix).root}*", f"{MODELS_DIR}*"]}
            },
        },
        {
            "Sid": "ReadPitstopAndModelObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [ours, models],
        },
    ]


def instance_policy(settings: Settings, *, account_id: str) -> dict[str, Any]:
    """The policy document attached to the instance role (``account_id`` names the SSM ARN's account)."""
    part = _partition(settings.region)
    _, _, models = _s3(settings)
    layout = Layout(settings.prefix)
    statements: list[dict[str, Any]] = [
        *_read(settings),
        {
            "Sid": "WriteQueueHeartbeatsProcessedDropsAndModels",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [
                _objects(settings, layout.jobs),
                _objects(settings, layout.index),
                _objects(settings, layout.instances),
                _objects(settings, layout.inbox_processed),
                models,
            ],
        },
        {
            "Sid": "DeleteMovedDropsIndexEntriesAndModelObjects",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject"],
            "Resource": [
                _objects(settings, layout.inbox),
                _objects(settings, layout.index),
                models,
            ],
        },
        {
            "Sid": "ReadPitstopParameters",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
            "Resource": [
                f"arn:{part}:ssm:{settings.region}:{account_id}:parameter{SSM_PARAMETER_PREFIX}*"
            ],
        },
    ]
    if settings.sns_topic_arn:
        statements.append(
            {
                "Sid": "PublishNotifications",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": [settings.sns_topic_arn],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def trainer_policy(settings: Settings) -> dict[str, Any]:
    """For the people who train models: read everything of pitstop's, write the inbox only."""
    layout = Layout(settings.prefix)
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_read(settings),
            {
                "Sid": "DropIntoTheInbox",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [_objects(settings, layout.inbox)],
            },
            {
                # instances keep rejected drops and their claims here; a trainer's write
                # could fake one
                "Sid": "NeverWriteProcessedDrops",
                "Effect": "Deny",
                "Action": ["s3:PutObject"],
                "Resource": [_objects(settings, layout.inbox_processed)],
            },
        ],
    }


def policy_for(principal: Principal, settings: Settings, *, account_id: str) -> dict[str, Any]:
    if principal == "trainer":
        return trainer_policy(settings)
    return instance_policy(settings, account_id=account_id)


EC2_TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
