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


def test_iam_policy_is_scoped_to_named_resources(settings_env: dict[str, str]) -> None:
    from pitstop.config import load_settings

    s = load_settings(None, sns_topic_arn="arn:aws:sns:us-east-1:123456789012:pitstop")
    policy = instance_policy(s, account_id="123456789012")
    allowed_wildcards = {
        f"arn:aws:s3:::{s.bucket}/pitstop/*",
        f"arn:aws:s3:::{s.bucket}/models/*",
        "arn:aws:ssm:us-east-1:123456789012:parameter/pitstop/*",
    }
    services = set()
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow"
        assert "NotAction" not in st and "NotResource" not in st
        for action in st["Action"]:
            assert "*" not in action, action
            services.add(action.split(":")[0])
        for res in st["Resource"]:
            assert res != "*"
            if "*" in res:
                assert res in allowed_wildcards, res
        if st["Action"] == ["s3:ListBucket"]:
            assert st["Resource"] == [f"arn:aws:s3:::{s.bucket}"]
            assert st["Condition"]["StringLike"]["s3:prefix"] == ["pitstop/*", "models/*"]
    assert services == {"s3", "ssm", "sns"}
    sns = [st for st in policy["Statement"] if st["Action"] == ["sns:Publish"]]
    assert sns[0]["Resource"] == ["arn:aws:sns:us-east-1:123456789012:pitstop"]
    json.dumps(policy)
