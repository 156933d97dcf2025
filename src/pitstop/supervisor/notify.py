"""Optional SNS notifications: one message per job event that a person cares about."""

from __future__ import annotations

import json
from typing import Any

import structlog

from pitstop.config import Settings
from pitstop.core import events as ev

log = structlog.get_logger("pitstop.notify")

NOTIFIED = frozenset(
    {
        ev.RUN_STARTED,
        ev.RUN_RESTARTED,
        ev.RUN_PREEMPTED,
        ev.RUN_STALLED,
        ev.RUN_CRASHED,
        ev.RUN_FAILED,
        ev.RUN_SUCCEEDED,
        ev.RUN_CANCELLED,
        ev.JOB_REJECTED,
    }
)


class SnsNotifier:
    def __init__(self, topic_arn: str, region: str, endpoint_url: str | None = None) -> None:
        import boto3

        self.topic_arn = topic_arn
        self._sns = boto3.client("sns", region_name=region, endpoint_url=endpoint_url)

    @classmethod
    def from_settings(cls, settings: Settings) -> SnsNotifier:
        assert settings.sns_topic_arn
        # an S3-compatible test endpoint (moto) serves SNS too
        return cls(settings.sns_topic_arn, settings.region, settings.s3_endpoint_url)

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        if event not in NOTIFIED:
            return
        failure = fields.get("failure")
        subject = f"pitstop: {fields.get('job_id')} {event}" + (f" ({failure})" if failure else "")
        # the one line a person reads first: the class and the reason (user_error: ...)
        summary = f"{fields.get('job_id')} {event}: {fields.get('reason') or fields.get('state')}"
        try:
            self._sns.publish(
                TopicArn=self.topic_arn,
                Subject=subject[:100],
                Message=json.dumps({"summary": summary, "event": event, **fields}, default=str),
            )
        except Exception as e:  # a notification must never break supervision
            log.warning("notify.failed", event=event, error=str(e))
