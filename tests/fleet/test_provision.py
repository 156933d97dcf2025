"""`fleet up | scale | down` and the IAM policy against moto's server (EC2, Auto Scaling, IAM, SSM)."""

from __future__ import annotations

import base64
import json

import pytest

from pitstop.config import Settings
from pitstop.fleet.aws import AwsClients, FleetError
from pitstop.fleet.policy import instance_policy
from pitstop.fleet.provision import Fleet, FleetSpec

TYPES = ("g4dn.2xlarge", "g5.2xlarge", "g6.2xlarge")


def _spec(name: str, n: int = 2, **kw: object) -> FleetSpec:
    return FleetSpec(
        name=name,
        instance_types=TYPES,
        instances=n,
        max_instances=4,
        zones=("us-east-1a", "us-east-1b"),
        tags={"team": "racing"},
        **kw,
    )  # type: ignore[arg-type]


def test_up_creates_template_and_group_with_spot_settings(
    aws: AwsClients, ami: str, settings: Settings, fleet_name: str
) -> None:
    fleet = Fleet(aws, fleet_name)
    changes = fleet.up(_spec(fleet_name), settings, create_role=True)
    assert {c.action for c in changes} >= {"created"}

    lt = aws.ec2.describe_launch_template_versions(LaunchTemplateName=fleet_name)[
        "LaunchTemplateVersions"
    ]
    assert len(lt) == 1
    data = lt[0]["LaunchTemplateData"]
    assert data["ImageId"] == ami
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert data["IamInstanceProfile"]["Name"] == "pitstop-instance"
    (root,) = data["BlockDeviceMappings"]
    assert root["Ebs"]["VolumeType"] == "gp3"
    assert root["Ebs"]["DeleteOnTermination"] is True
    tags = {t["Key"]: t["Value"] for spec in data["TagSpecifications"] for t in spec["Tags"]}
    assert tags["pitstop:fleet"] == fleet_name and tags["team"] == "racing"

    user_data = base64.b64decode(data["UserData"]).decode()
    assert "/etc/pitstop/pitstop.toml" in user_data
    assert f'bucket = "{settings.bucket}"' in user_data
    commands = [ln for ln in user_data.splitlines() if ln and not ln.startswith("#")]
    body = "\n".join(commands).lower()
    assert not any(w in body for w in ("secret", "aws_access_key", "password", "token", "testing"))
    assert not any(c.startswith(("systemctl", "curl", "aws ", "pip")) for c in commands)

    group = fleet.group()
    assert group is not None
    assert group["DesiredCapacity"] == 2 and group["MaxSize"] == 4 and group["MinSize"] == 0
    assert group["CapacityRebalance"] is True
    mip = group["MixedInstancesPolicy"]
    dist = mip["InstancesDistribution"]
    assert dist["OnDemandBaseCapacity"] == 0 and dist["OnDemandPercentageAboveBaseCapacity"] == 0
    assert dist["SpotAllocationStrategy"] == "price-capacity-optimized"
    assert [o["InstanceType"] for o in mip["LaunchTemplate"]["Overrides"]] == list(TYPES)
    assert sorted(group["AvailabilityZones"]) == ["us-east-1a", "us-east-1b"]

    profile = aws.iam.get_instance_profile(InstanceProfileName="pitstop-instance")[
        "InstanceProfile"
    ]
    assert [r["RoleName"] for r in profile["Roles"]] == ["pitstop-instance"]


def test_up_twice_is_a_no_op(
    aws: AwsClients, ami: str, settings: Settings, fleet_name: str
) -> None:
    fleet = Fleet(aws, fleet_name)
    fleet.up(_spec(fleet_name), settings)
    before = fleet.group()
    again = fleet.up(_spec(fleet_name), settings)
    assert [c.action for c in again] == ["unchanged", "unchanged"]
    versions = aws.ec2.describe_launch_template_versions(LaunchTemplateName=fleet_name)[
        "LaunchTemplateVersions"
    ]
    assert len(versions) == 1
    after = fleet.group()
    assert before is not None and after is not None
    assert after["DesiredCapacity"] == before["DesiredCapacity"]
    assert sorted(i["InstanceId"] for i in after["Instances"]) == sorted(
        i["InstanceId"] for i in before["Instances"]
    )


def test_up_with_a_changed_setting_makes_a_new_template_version(
    aws: AwsClients, ami: str, settings: Settings, fleet_name: str
) -> None:
    fleet = Fleet(aws, fleet_name)
    fleet.up(_spec(fleet_name), settings)
    changes = fleet.up(_spec(fleet_name, root_gb=200), settings)
    assert changes[0].action == "updated"
    assert fleet.launch_template()["_version"] == 2  # type: ignore[index]


def test_scale_and_down_leave_nothing_running(
    aws: AwsClients, ami: str, settings: Settings, fleet_name: str
) -> None:
    fleet = Fleet(aws, fleet_name)
    fleet.up(_spec(fleet_name, n=1), settings)
    assert fleet.scale(3).action == "scaled"
    assert fleet.group()["DesiredCapacity"] == 3  # type: ignore[index]
    assert fleet.scale(3).action == "unchanged"
    fleet.down(delete=True)
    assert fleet.group() is None
    assert fleet.launch_template() is None
    running = aws.ec2.describe_instances(
        Filters=[
            {"Name": "tag:pitstop:fleet", "Values": [fleet_name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    assert running == []


def test_scale_without_a_fleet_is_an_error(aws: AwsClients, fleet_name: str) -> None:
    with pytest.raises(FleetError, match="fleet up"):
        Fleet(aws, fleet_name).scale(2)


def _writes(policy: dict[str, object], action: str) -> set[str]:
    """Resources an Allow statement grants ``action`` on."""
    out: set[str] = set()
    for st in policy["Statement"]:  # type: ignore[attr-defined]
        if st["Effect"] == "Allow" and action in st["Action"]:
            out.update(st["Resource"])
    return out


def _denied(policy: dict[str, object], action: str) -> set[str]:
    out: set[str] = set()
    for st in policy["Statement"]:  # type: ignore[attr-defined]
        if st["Effect"] == "Deny" and action in st["Action"]:
            out.update(st["Resource"])
    return out


def _scoped(policy: dict[str, object], allowed_wildcards: set[str]) -> set[str]:
    """No wildcard actions, no NotAction/NotResource, wildcards only where named; services."""
    services = set()
    for st in policy["Statement"]:  # type: ignore[attr-defined]
        assert st["Effect"] in ("Allow", "Deny")
        assert "NotAction" not in st and "NotResource" not in st
        for action in st["Action"]:
            assert "*" not in action, action
            services.add(action.split(":")[0])
        for res in st["Resource"]:
            assert res != "*"
            if "*" in res:
                assert res in allowed_wildcards, res
    json.dumps(policy)
    return services


def test_instance_policy_is_scoped_to_named_resources(settings_env: dict[str, str]) -> None:
    from pitstop.config import load_settings

    s = load_settings(None, sns_topic_arn="arn:aws:sns:us-east-1:123456789012:pitstop")
    policy = instance_policy(s, account_id="123456789012")
    b = f"arn:aws:s3:::{s.bucket}"
    allowed_wildcards = {
        f"{b}/pitstop/*",
        f"{b}/pitstop/jobs/*",
        f"{b}/pitstop/index/*",
        f"{b}/pitstop/instances/*",
        f"{b}/pitstop/inbox/*",
        f"{b}/pitstop/inbox/processed/*",
        f"{b}/models/*",
        "arn:aws:ssm:us-east-1:123456789012:parameter/pitstop/*",
    }
    assert _scoped(policy, allowed_wildcards) == {"s3", "ssm", "sns"}
    for st in policy["Statement"]:
        if st["Action"] == ["s3:ListBucket"]:
            assert st["Resource"] == [b]
            assert st["Condition"]["StringLike"]["s3:prefix"] == ["pitstop/*", "models/*"]
    assert _writes(policy, "s3:GetObject") == {f"{b}/pitstop/*", f"{b}/models/*"}
    # an instance writes the queue, its heartbeat and models; never scripts/ or defaults/,
    # and in the inbox only what it moves out of it (processed/)
    assert _writes(policy, "s3:PutObject") == {
        f"{b}/pitstop/jobs/*",
        f"{b}/pitstop/index/*",
        f"{b}/pitstop/instances/*",
        f"{b}/pitstop/inbox/processed/*",
        f"{b}/models/*",
    }
    assert _writes(policy, "s3:DeleteObject") == {
        f"{b}/pitstop/inbox/*",
        f"{b}/pitstop/index/*",
        f"{b}/models/*",
    }
    sns = [st for st in policy["Statement"] if st["Action"] == ["sns:Publish"]]
    assert sns[0]["Resource"] == ["arn:aws:sns:us-east-1:123456789012:pitstop"]


def test_trainer_policy_writes_the_inbox_only(settings_env: dict[str, str]) -> None:
    from pitstop.config import load_settings
    from pitstop.fleet.policy import trainer_policy

    s = load_settings(None)
    policy = trainer_policy(s)
    b = f"arn:aws:s3:::{s.bucket}"
    wildcards = {
        f"{b}/pitstop/*",
        f"{b}/pitstop/inbox/*",
        f"{b}/pitstop/inbox/processed/*",
        f"{b}/models/*",
    }
    assert _scoped(policy, wildcards) == {"s3"}
    assert _writes(policy, "s3:PutObject") == {f"{b}/pitstop/inbox/*"}
    assert _denied(policy, "s3:PutObject") == {f"{b}/pitstop/inbox/processed/*"}
    assert _writes(policy, "s3:DeleteObject") == set()
    assert _writes(policy, "s3:GetObject") == {f"{b}/pitstop/*", f"{b}/models/*"}
    for st in policy["Statement"]:
        for res in st["Resource"]:
            assert "/scripts/" not in res and "/jobs/" not in res


ACCOUNT = ("--account-id", "123456789012")


def test_iam_policy_command_prints_either_policy(settings_env: dict[str, str]) -> None:
    import subprocess
    import sys

    def run(*extra: str) -> dict[str, object]:
        r = subprocess.run(
            [sys.executable, "-m", "pitstop.cli.main", "fleet", "iam-policy", *ACCOUNT, *extra],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)  # type: ignore[no-any-return]

    assert "sts:AssumeRole" not in json.dumps(run())
    assert _writes(run(), "s3:PutObject") == _writes(run("--for", "instance"), "s3:PutObject")
    trainer = run("--for", "trainer")
    assert _writes(trainer, "s3:PutObject") == {
        f"arn:aws:s3:::{settings_env['PITSTOP_BUCKET']}/pitstop/inbox/*"
    }
