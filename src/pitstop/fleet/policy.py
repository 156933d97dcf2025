"""The instance's IAM policy: exactly what a supervisor needs, scoped to named resources.

S3: the bucket's pitstop prefix (queue, leases, events, heartbeats) and the model prefixes
(``models/*``, DRfC's ``DR_LOCAL_S3_MODEL_PREFIX``); SNS publish on the configured topic;
SSM read of ``/pitstop/*``. No ``*`` actions, no resource wildcards beyond those prefixes.
"""

from __future__ import annotations

from typing import Any

from pitstop.config import Settings
from pitstop.store.layout import MODELS_ROOT

OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
SSM_PARAMETER_PREFIX = "/pitstop/"


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def instance_policy(settings: Settings, *, account_id: str) -> dict[str, Any]:
    """The policy document attached to the instance role (``account_id`` names the SSM ARN's account)."""
    part = _partition(settings.region)
    bucket_arn = f"arn:{part}:s3:::{settings.bucket}"
    prefixes = [f"{settings.prefix}/", f"{MODELS_ROOT}/"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListPitstopAndModelPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [p + "*" for p in prefixes]}},
        },
        {
            "Sid": "ReadWritePitstopAndModelObjects",
            "Effect": "Allow",
            "Action": OBJECT_ACTIONS,
            "Resource": [f"{bucket_arn}/{p}*" for p in prefixes],
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
