"""Money (issue 22, items 3 and 4): `pitstop fleet watch` against moto's EC2, Auto Scaling
and S3 (loopback server), attacked the way the issue found it open.

- 20 inbox jobs with tight deadlines buy at most ``max_on_demand_instances`` on-demand
  instances; every other one is refused with a reason, as a structured log event and in
  ``--json``.
- The group's MaxSize bounds spot + on-demand.
- A ``state.json`` that cannot be read (garbage, gone) never releases the job's on-demand
  instance; a read ended state does.

Log lines are read as the JSON that ``log_format = "json"`` writes to stderr (the public
form of the events), so nothing of pitstop is patched.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pitstop.cli.main import main
from pitstop.core import events as ev
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.fleet.aws import AwsClients
from pitstop.fleet.runner import DEADLINE_TAG
from pitstop.inbox import Inbox
from tests.e2e.harness import jobs_store, submit

REWARD = b"def reward_function(params):\n    return 1.0\n"
# one hour of training due in 70.2 min: the slack (10.2 min) is under one restart (10 min)
# plus the watchdog's round (1 min), so the policy says on-demand at once
TIGHT = {"max_hours": 1, "deadline_hours": 1.17}


def _fleet(settings_env: dict[str, str], fleet_name: str, instances: int, most: int) -> list[str]:
    common = ["--name", fleet_name, "--endpoint-url", settings_env["PITSTOP_S3_ENDPOINT_URL"]]
    up = ["fleet", "up", "--instances", str(instances), "--max", str(most)]
    assert main([*up, "--types", "g4dn.xlarge,g5.xlarge", *common]) == 0
    return common


def _round(common: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], list]:  # type: ignore[type-arg]
    """One `fleet watch --once --json` round: its document and its log events."""
    capsys.readouterr()
    assert main(["fleet", "watch", "--once", "--json", *common]) == 0
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return json.loads(out), events


def _on_demand_alive(aws: AwsClients, fleet_name: str) -> list[dict[str, Any]]:
    r = aws.ec2.describe_instances(
        Filters=[
            {"Name": "tag:pitstop:fleet", "Values": [fleet_name]},
            {"Name": "tag-key", "Values": [DEADLINE_TAG]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )
    return [i for res in r["Reservations"] for i in res["Instances"]]


def _launched(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in doc["actions"] if a["action"] == "launch-on-demand"]


@pytest.mark.slow
def test_twenty_tight_inbox_jobs_buy_at_most_the_cap_and_every_refusal_has_a_reason(
    settings_env: dict[str, str],
    ami: str,
    fleet_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the attack of issue 22: a trainer with inbox access only drops 20 tight-deadline jobs;
    # even with inbox deadlines allowed, the cap of 2 holds
    for k, v in {
        "MAX_ON_DEMAND_INSTANCES": "2",
        "INBOX_DEADLINES": "true",
        "LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(f"PITSTOP_{k}", v)
    jobs = jobs_store(settings_env)
    for n in range(20):
        jobs.store.put(f"pitstop/inbox/rush-{n:02d}/reward_function.py", REWARD)
        jobs.store.put(f"pitstop/inbox/rush-{n:02d}/job.json", json.dumps(TIGHT).encode())
        jobs.store.put(f"pitstop/inbox/rush-{n:02d}/.ready", b"")
    inbox = Inbox(jobs, "i-test0001", claim_ttl_s=30, dynamic=False, settle_s=0, deadlines=True)
    made = inbox.scan()
    assert len(made) == 20 and all(jobs.status(j)[0].state is JobState.PENDING for j in made)
    common = _fleet(settings_env, fleet_name, instances=0, most=30)  # MaxSize is no limit here
    aws = AwsClients(endpoint_url=settings_env["PITSTOP_S3_ENDPOINT_URL"])

    doc, events = _round(common, capsys)
    assert {d["choice"] for d in doc["deadlines"]} == {"on-demand"} and len(doc["deadlines"]) == 20
    assert (doc["on_demand_cap"], doc["on_demand_running"], doc["on_demand_allowed"]) == (2, 0, 2)
    assert len(_launched(doc)) == 2
    assert len(_on_demand_alive(aws, fleet_name)) == 2
    cap_reason = "on-demand cap reached: 2 of max_on_demand_instances = 2 running or launched"
    assert len(doc["refused"]) == 18
    assert {r["reason"] for r in doc["refused"]} == {cap_reason}
    assert {r["job_id"] for r in doc["refused"]} | {a["job_id"] for a in _launched(doc)} == set(
        made
    )
    # every launch and every refusal is a structured event with the job and the reason
    launched = [e for e in events if e["event"] == ev.ONDEMAND_LAUNCHED]
    refused = [e for e in events if e["event"] == ev.ONDEMAND_REFUSED]
    assert sorted(e["job_id"] for e in launched) == sorted(a["job_id"] for a in _launched(doc))
    assert all(e["reason"] and e["instance_id"].startswith("i-") for e in launched)
    assert sorted(e["job_id"] for e in refused) == sorted(r["job_id"] for r in doc["refused"])
    assert {e["reason"] for e in refused} == {cap_reason}
    assert {e["on_demand_cap"] for e in refused} == {2}
    # no spot capacity is asked for the refused jobs beyond MaxSize less on-demand either
    scale = [a for a in doc["actions"] if a["action"] == "scale"]
    assert all(a["desired"] <= 30 - 2 for a in scale)

    # the next round: the two are running, the cap is full, nothing more is bought
    doc, events = _round(common, capsys)
    assert (doc["on_demand_running"], doc["on_demand_allowed"]) == (2, 0)
    assert _launched(doc) == [] and len(doc["refused"]) == 18
    assert len([e for e in events if e["event"] == ev.ONDEMAND_REFUSED]) == 18
    assert len(_on_demand_alive(aws, fleet_name)) == 2

    # a watchdog whose settings do not allow inbox deadlines honours none of them
    monkeypatch.setenv("PITSTOP_INBOX_DEADLINES", "false")
    monkeypatch.setenv("PITSTOP_MAX_ON_DEMAND_INSTANCES", "10")
    doc, _ = _round(common, capsys)
    assert _launched(doc) == [] and len(doc["refused"]) == 18
    assert {r["reason"] for r in doc["refused"]} == {
        "its deadline came from an inbox job.json and inbox_deadlines is off"
    }
    assert doc["inbox_deadlines"] is False
    main(["fleet", "down", "--delete", *common])


@pytest.mark.slow
def test_on_demand_launches_respect_the_groups_max_size(
    settings_env: dict[str, str],
    ami: str,
    fleet_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PITSTOP_MAX_ON_DEMAND_INSTANCES", "5")  # the cap is not the limit
    common = _fleet(settings_env, fleet_name, instances=1, most=2)  # one spot, MaxSize 2
    aws = AwsClients(endpoint_url=settings_env["PITSTOP_S3_ENDPOINT_URL"])
    # engineers' jobs (not the inbox): deadlines always honoured, MaxSize still holds
    tight = [submit(settings_env, f"due-{n}", {"checkpoints": 2}, **TIGHT) for n in range(3)]

    doc, _ = _round(common, capsys)
    assert (doc["max_size"], doc["spot_instances"], doc["on_demand_allowed"]) == (2, 1, 1)
    assert len(_launched(doc)) == 1 and _launched(doc)[0]["job_id"] in tight
    assert len(doc["refused"]) == 2
    assert {r["reason"] for r in doc["refused"]} == {
        "group MaxSize 2 reached: 1 spot + 1 on-demand"
    }
    # the group is not raised past MaxSize less the on-demand instance for the refused jobs
    assert [a for a in doc["actions"] if a["action"] == "scale"] == []
    group = aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[fleet_name])
    assert group["AutoScalingGroups"][0]["DesiredCapacity"] == 1
    assert len(_on_demand_alive(aws, fleet_name)) == 1

    doc, _ = _round(common, capsys)
    assert _launched(doc) == [] and doc["on_demand_allowed"] == 0
    assert len(_on_demand_alive(aws, fleet_name)) == 1
    main(["fleet", "down", "--delete", *common])


@pytest.mark.slow
def test_a_failed_state_read_keeps_the_on_demand_instance_and_a_read_end_releases_it(
    settings_env: dict[str, str],
    ami: str,
    fleet_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PITSTOP_LOG_FORMAT", "json")
    common = _fleet(settings_env, fleet_name, instances=0, most=2)
    aws = AwsClients(endpoint_url=settings_env["PITSTOP_S3_ENDPOINT_URL"])
    jobs = jobs_store(settings_env)
    job_id = submit(settings_env, "due", {"checkpoints": 2}, **TIGHT)
    doc, _ = _round(common, capsys)
    (launch,) = _launched(doc)
    iid = launch["instance_id"]
    state_key = jobs.layout.state(job_id)
    good = jobs.store.get(state_key).body

    # the blip: one round reads garbage, then the object is gone for a round
    for blip in (b'{"id": "due", "state": ', None):
        if blip is None:
            jobs.store.delete(state_key)
        else:
            jobs.store.put(state_key, blip)
        doc, events = _round(common, capsys)
        assert [a for a in doc["actions"] if a["action"] == "release-on-demand"] == []
        (kept,) = doc["kept"]
        assert kept["instance_id"] == iid and kept["job_id"] == job_id
        assert "could not be read" in kept["reason"] and "kept until" in kept["reason"]
        (logged,) = [e for e in events if e["event"] == ev.ONDEMAND_KEPT]
        assert logged["instance_id"] == iid and logged["reason"] == kept["reason"]
        assert [i["InstanceId"] for i in _on_demand_alive(aws, fleet_name)] == [iid]

    # the read works again, the job is still running: nothing to release, nothing to keep
    jobs.store.put(state_key, good)
    doc, _ = _round(common, capsys)
    assert doc["kept"] == [] and _launched(doc) == []
    assert [a for a in doc["actions"] if a["action"] == "release-on-demand"] == []

    # its ended state is read: now it goes
    def finish(s: JobStatus) -> JobStatus:
        s.state = JobState.SUCCEEDED
        return s

    jobs.update(job_id, finish)
    doc, events = _round(common, capsys)
    (released,) = [a for a in doc["actions"] if a["action"] == "release-on-demand"]
    assert released["instance_id"] == iid and released["reason"] == "its job has ended (succeeded)"
    assert [e["instance_id"] for e in events if e["event"] == ev.ONDEMAND_RELEASED] == [iid]
    assert _on_demand_alive(aws, fleet_name) == []
    main(["fleet", "down", "--delete", *common])
