"""`pitstop fleet watch` and deadlines, against moto's EC2, Auto Scaling and S3 (loopback
server): an on-demand instance is launched for a job whose slack ran out, never twice,
and released once the job has ended."""

from __future__ import annotations

import json

import pytest

from pitstop.cli.main import main
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.fleet.aws import AwsClients
from pitstop.fleet.runner import DEADLINE_TAG, MARKET_TAG
from tests.e2e.harness import jobs_store, submit


def _instances(aws: AwsClients, fleet_name: str) -> list[dict[str, object]]:
    r = aws.ec2.describe_instances(Filters=[{"Name": "tag:pitstop:fleet", "Values": [fleet_name]}])
    return [i for res in r["Reservations"] for i in res["Instances"]]


@pytest.mark.slow
def test_watch_launches_on_demand_when_slack_runs_out_and_releases_it_after(
    settings_env: dict[str, str], ami: str, fleet_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = settings_env["PITSTOP_S3_ENDPOINT_URL"]
    common = ["--name", fleet_name, "--endpoint-url", endpoint]
    up = ["fleet", "up", "--instances", "0", "--max", "2", "--types", "g4dn.xlarge,g5.xlarge"]
    assert main([*up, *common]) == 0
    aws = AwsClients(endpoint_url=endpoint)
    # one hour of training due in 1 h 10 min: the slack is one restart (10 min), so the
    # policy says on-demand at once; the roomy job has hours to spare and waits for spot
    tight = submit(settings_env, "tight", {"checkpoints": 2}, max_hours=1, deadline_hours=7 / 6)
    roomy = submit(settings_env, "roomy", {"checkpoints": 2}, max_hours=1, deadline_hours=9)
    capsys.readouterr()
    watch = ["fleet", "watch", "--once", "--json", *common]

    assert main(watch) == 0
    doc = json.loads(capsys.readouterr().out)
    choices = {d["job_id"]: d["choice"] for d in doc["deadlines"]}
    assert choices == {tight: "on-demand", roomy: "spot"}
    launched = [a for a in doc["actions"] if a["action"] == "launch-on-demand"]
    assert [(a["job_id"], a["instance_type"]) for a in launched] == [(tight, "g4dn.xlarge")]
    iid = launched[0]["instance_id"]
    (inst,) = [i for i in _instances(aws, fleet_name) if i["InstanceId"] == iid]
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}  # type: ignore[attr-defined]
    assert tags[DEADLINE_TAG] == tight and tags[MARKET_TAG] == "on-demand"
    assert "InstanceLifecycle" not in inst  # on-demand: no spot request behind it
    assert inst["ImageId"] == ami  # from the fleet's launch template

    # the next round sees it and launches no second one
    assert main(watch) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [a for a in doc["actions"] if a["action"] == "launch-on-demand"] == []
    assert [o["instance_id"] for o in doc["on_demand"]] == [iid]

    # the job ends: its on-demand instance is let go
    def finish(s: JobStatus) -> JobStatus:
        s.state = JobState.SUCCEEDED
        return s

    jobs_store(settings_env).update(tight, finish)
    assert main(watch) == 0
    doc = json.loads(capsys.readouterr().out)
    released = [a for a in doc["actions"] if a["action"] == "release-on-demand"]
    assert [(a["instance_id"], a["job_id"]) for a in released] == [(iid, tight)]
    (inst,) = [i for i in _instances(aws, fleet_name) if i["InstanceId"] == iid]
    assert inst["State"]["Name"] in ("shutting-down", "terminated")  # type: ignore[index]

    # --no-deadlines: the watchdog of before, no deadline views at all
    assert main([*watch, "--no-deadlines"]) == 0
    assert json.loads(capsys.readouterr().out)["deadlines"] == []
    main(["fleet", "down", "--delete", *common])


@pytest.mark.slow
def test_with_prices_the_watchdog_applies_the_cost_cap(
    settings_env: dict[str, str],
    ami: str,
    fleet_name: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = settings_env["PITSTOP_S3_ENDPOINT_URL"]
    common = ["--name", fleet_name, "--endpoint-url", endpoint]
    up = ["fleet", "up", "--instances", "0", "--max", "2", "--types", "g4dn.xlarge"]
    assert main([*up, *common]) == 0
    # one hour of training due in 1 h 25 min: 25 minutes of slack cover a restart (greedy:
    # spot), but not a restart above the safety net plus a checkpoint interval, so a spot
    # attempt could be forced off before it keeps anything (budget: on-demand now)
    job = submit(settings_env, "snug", {"checkpoints": 2}, max_hours=1, deadline_hours=85 / 60)
    capsys.readouterr()
    watch = ["fleet", "watch", "--once", "--json", "--dry-run", *common]

    assert main(watch) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(d["job_id"], d["choice"]) for d in doc["deadlines"]] == [(job, "spot")]

    monkeypatch.setenv("PITSTOP_DEADLINE_SPOT_PRICE", "0.526")
    monkeypatch.setenv("PITSTOP_DEADLINE_ON_DEMAND_PRICE", "0.526")  # spot no cheaper
    assert main(watch) == 0
    doc = json.loads(capsys.readouterr().out)
    (view,) = doc["deadlines"]
    assert view["choice"] == "on-demand" and "as much as on-demand" in view["reason"]

    monkeypatch.setenv("PITSTOP_DEADLINE_SPOT_PRICE", "0.16")
    assert main(watch) == 0
    doc = json.loads(capsys.readouterr().out)
    (view,) = doc["deadlines"]
    assert view["choice"] == "on-demand" and "forced off" in view["reason"]
    # --dry-run: the launch it would make, and nothing launched
    launched = [a for a in doc["actions"] if a["action"] == "launch-on-demand"]
    assert [(a["job_id"], a["dry_run"]) for a in launched] == [(job, True)]
    assert doc["on_demand"] == []
    main(["fleet", "down", "--delete", *common])
