"""Inbox drops from someone who means harm: validation runs their code, and it gets nothing.

The reward functions here pass the static rules (``random._os`` is a plain attribute, not a
dunder), so only the sandbox stands between them and the instance. Each drop must become a
``rejected`` job whose reason names what was tried, with the files kept.
"""

from __future__ import annotations

import os

import pytest

from pitstop.inbox import Inbox
from pitstop.reward_funcs import sandbox, static
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store

SNOOP_SHADOW = b"""import random

def reward_function(params):
    o = random._os
    try:
        fd = o.open("/etc/shadow", 0)
        data = o.read(fd, 4096)
    except OSError:
        data = b""
    return 1.0 + float(len(data) > 0)
"""

SNOOP_PARENT = b"""import random

def reward_function(params):
    o = random._os
    try:
        fd = o.open("/proc/%d/environ" % o.getppid(), 0)
        data = o.read(fd, 65536)
    except OSError:
        data = b""
    return 1.0 + float(b"AWS_" in data)
"""

RUN_A_SHELL = b"""import random

def reward_function(params):
    try:
        random._os.execv("/bin/sh", ["sh", "-c", "touch /tmp/pitstop-sandbox-escaped"])
    except OSError:
        pass
    return 1.0
"""

DROPS = {
    "snoop-shadow": (SNOOP_SHADOW, "tried to read /etc/shadow; stopped by"),
    "snoop-parent": (SNOOP_PARENT, "/environ; stopped by"),
    "run-a-shell": (RUN_A_SHELL, "tried to start a process (os.exec: /bin/sh)"),
}


@pytest.mark.parametrize("name", sorted(DROPS))
def test_a_drop_that_snoops_is_rejected_naming_what_it_tried(
    name: str, s3, bucket: str, s3_endpoint: str
) -> None:  # type: ignore[no-untyped-def]
    body, fragment = DROPS[name]
    assert static.check_source(body.decode()) == []  # only the sandbox can stop it
    s3.put_object(Bucket=bucket, Key=f"pitstop/inbox/{name}/reward_function.py", Body=body)
    jobs = JobStore(S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout())
    [job_id] = Inbox(jobs, "i-test0001", claim_ttl_s=30, settle_s=0).scan()
    status, _ = jobs.status(job_id)
    assert status.state.value == "rejected", status
    reason = status.reason or ""
    assert fragment in reason and "\n" not in reason, reason
    assert reason.startswith(f"s3://{bucket}/pitstop/inbox/{name}/reward_function.py: line ")
    assert "for params {" in reason  # the state the reward was called with
    kept = s3.list_objects_v2(Bucket=bucket, Prefix=f"pitstop/inbox/processed/{job_id}/")
    assert [o["Key"].rsplit("/", 1)[-1] for o in kept["Contents"]] == ["reward_function.py"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop happens only as root")
def test_the_sandbox_user_is_configurable(s3, bucket: str, s3_endpoint: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="pitstop/inbox/who/reward_function.py", Body=SNOOP_SHADOW)
    jobs = JobStore(S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout())
    inbox = Inbox(
        jobs,
        "i-test0001",
        claim_ttl_s=30,
        settle_s=0,
        # without the file wall, the user's own rights are what hold: they name the user
        sandbox=sandbox.Limits(user="54321", file_wall=False),
    )
    [job_id] = inbox.scan()
    reason = jobs.status(job_id)[0].reason or ""
    assert "tried to read /etc/shadow; stopped by the unprivileged user uid 54321" in reason
