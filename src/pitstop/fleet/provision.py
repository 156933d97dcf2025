"""Launch template, Auto Scaling group and instance role: ``fleet up | scale | down``.

``up`` is idempotent: it reads what exists, compares it with what it would create, and
changes only what differs (a new launch-template version only when its data changed), so
running it twice changes nothing. The group is all spot, ``price-capacity-optimized`` over
several instance types and zones, with capacity rebalancing: lost spot capacity is
replaced by the group, not by pitstop.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pitstop.config import Settings
from pitstop.errors import FleetError, UsageError
from pitstop.fleet.aws import AwsClients, call, error_code
from pitstop.fleet.policy import EC2_TRUST_POLICY, instance_policy

AMI_PARAMETER = "/pitstop/ami-id"
FLEET_TAG = "pitstop:fleet"
# settings the instances share with the engineer's machine; the rest keep their defaults
INSTANCE_SETTINGS = (
    "bucket",
    "prefix",
    "region",
    "s3_endpoint_url",
    "trainer",
    "sns_topic_arn",
    "lease_ttl_s",
    "heartbeat_interval_s",
    "stall_timeout_s",
    "max_restarts",
    "idle_shutdown_s",
)
ROLE_POLICY_NAME = "pitstop-instance"


@dataclass(frozen=True)
class FleetSpec:
    """What ``fleet up`` makes. ``name`` names the template, the group and the tags."""

    name: str
    instance_types: tuple[str, ...]
    instances: int
    max_instances: int
    zones: tuple[str, ...] = ()
    subnets: tuple[str, ...] = ()
    ami: str | None = None
    instance_profile: str = "pitstop-instance"
    root_gb: int = 120
    key_name: str | None = None
    security_groups: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    spot_max_price: str | None = None


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def render_user_data(settings: Settings) -> str:
    """The user-data script: writes /etc/pitstop/pitstop.toml (no secrets), nothing else."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("pitstop", "templates/fleet"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["toml"] = _toml_value
    values = {k: getattr(settings, k) for k in INSTANCE_SETTINGS}
    values = {k: v for k, v in values.items() if v is not None}
    return env.get_template("user-data.sh.j2").render(settings=values)


def _tags(spec: FleetSpec) -> dict[str, str]:
    return {"Name": f"pitstop-{spec.name}", **spec.tags, FLEET_TAG: spec.name}


def resolve_ami(aws: AwsClients, explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        r = aws.ssm.get_parameter(Name=AMI_PARAMETER)
    except Exception as e:
        if error_code(e) == "ParameterNotFound":
            raise FleetError(
                f"no AMI: SSM parameter {AMI_PARAMETER} does not exist (run 'pitstop image build' or pass --ami)"
            ) from None
        raise FleetError(f"reading SSM {AMI_PARAMETER}: {e}") from e
    return str(r["Parameter"]["Value"])


def _root_device(aws: AwsClients, ami: str) -> str:
    images = call("describe AMI", aws.ec2.describe_images, ImageIds=[ami]).get("Images", [])
    if not images:
        raise FleetError(f"AMI {ami} not found in {aws.region}")
    return str(images[0].get("RootDeviceName") or "/dev/sda1")


def launch_template_data(
    spec: FleetSpec, settings: Settings, ami: str, root_device: str
) -> dict[str, Any]:
    tags = [{"Key": k, "Value": v} for k, v in sorted(_tags(spec).items())]
    data: dict[str, Any] = {
        "ImageId": ami,
        "IamInstanceProfile": {"Name": spec.instance_profile},
        # IMDSv2 only; hop limit 2 so DRfC's containers (one hop behind docker0) reach it
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled",
            "InstanceMetadataTags": "enabled",
        },
        "BlockDeviceMappings": [
            {
                "DeviceName": root_device,
                "Ebs": {
                    "VolumeSize": spec.root_gb,
                    "VolumeType": "gp3",
                    "DeleteOnTermination": True,
                    "Encrypted": True,
                },
            }
        ],
        "UserData": base64.b64encode(render_user_data(settings).encode()).decode(),
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": tags},
            {"ResourceType": "volume", "Tags": tags},
        ],
    }
    if spec.key_name:
        data["KeyName"] = spec.key_name
    if spec.security_groups:
        data["SecurityGroupIds"] = list(spec.security_groups)
    return data


def _normal(v: Any) -> Any:
    """Compare AWS answers with requests: sort lists of dicts, drop empty values."""
    if isinstance(v, dict):
        return {k: _normal(x) for k, x in sorted(v.items()) if x not in (None, [], {})}
    if isinstance(v, list):
        items = [_normal(x) for x in v]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
    return v


def _same(want: dict[str, Any], have: dict[str, Any]) -> bool:
    """True when every field we ask for is already what AWS has (AWS may add others)."""
    if "TagSpecifications" in want:
        # some implementations list the template's own tags here too: compare ours only
        kinds = {t["ResourceType"] for t in want["TagSpecifications"]}
        have = {
            **have,
            "TagSpecifications": [
                t for t in have.get("TagSpecifications", []) if t.get("ResourceType") in kinds
            ],
        }
    return all(_normal(want[k]) == _normal(have.get(k)) for k in want)


@dataclass
class Change:
    resource: str
    action: str  # created | updated | unchanged | deleted | scaled
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"resource": self.resource, "action": self.action, "detail": self.detail}


class Fleet:
    """The fleet's AWS resources, named after ``name``."""

    def __init__(self, aws: AwsClients, name: str = "pitstop") -> None:
        self.aws = aws
        self.name = name

    # -- IAM ---------------------------------------------------------------------------
    def account_id(self) -> str:
        r = call("sts get-caller-identity", self.aws.client("sts").get_caller_identity)
        return str(r["Account"])

    def ensure_role(self, profile: str, settings: Settings) -> list[Change]:
        iam = self.aws.iam
        changes: list[Change] = []
        policy = json.dumps(instance_policy(settings, account_id=self.account_id()), sort_keys=True)
        try:
            iam.get_role(RoleName=profile)
            changes.append(Change(f"role/{profile}", "unchanged"))
        except Exception as e:
            if error_code(e) != "NoSuchEntity":
                raise FleetError(f"iam get-role {profile}: {e}") from e
            call(
                "iam create-role",
                iam.create_role,
                RoleName=profile,
                AssumeRolePolicyDocument=json.dumps(EC2_TRUST_POLICY),
                Description="pitstop instances: the queue, leases and model prefixes in S3",
                Tags=[{"Key": FLEET_TAG, "Value": self.name}],
            )
            changes.append(Change(f"role/{profile}", "created"))
        try:
            have = iam.get_role_policy(RoleName=profile, PolicyName=ROLE_POLICY_NAME)[
                "PolicyDocument"
            ]
            if isinstance(have, str):
                from urllib.parse import unquote

                have = json.loads(unquote(have))
            same = json.dumps(have, sort_keys=True) == policy
        except Exception as e:
            if error_code(e) != "NoSuchEntity":
                raise FleetError(f"iam get-role-policy {profile}: {e}") from e
            same = False
        if not same:
            call(
                "iam put-role-policy",
                iam.put_role_policy,
                RoleName=profile,
                PolicyName=ROLE_POLICY_NAME,
                PolicyDocument=policy,
            )
            changes.append(Change(f"role-policy/{profile}/{ROLE_POLICY_NAME}", "updated"))
        try:
            roles = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"][
                "Roles"
            ]
        except Exception as e:
            if error_code(e) != "NoSuchEntity":
                raise FleetError(f"iam get-instance-profile {profile}: {e}") from e
            call(
                "iam create-instance-profile",
                iam.create_instance_profile,
                InstanceProfileName=profile,
            )
            changes.append(Change(f"instance-profile/{profile}", "created"))
            roles = []
        if not any(r["RoleName"] == profile for r in roles):
            call(
                "iam add-role-to-instance-profile",
                iam.add_role_to_instance_profile,
                InstanceProfileName=profile,
                RoleName=profile,
            )
            changes.append(Change(f"instance-profile/{profile}", "updated", "role added"))
        return changes

    # -- launch template ---------------------------------------------------------------
    def launch_template(self) -> dict[str, Any] | None:
        """The default version's data, with ``_version``; None when there is none."""
        ec2 = self.aws.ec2
        try:
            r = ec2.describe_launch_template_versions(
                LaunchTemplateName=self.name, Versions=["$Default"]
            )
        except Exception as e:
            if error_code(e) in (
                "InvalidLaunchTemplateName.NotFoundException",
                "InvalidLaunchTemplateId.NotFound",
            ):
                return None
            raise FleetError(f"describe launch template {self.name}: {e}") from e
        versions = r.get("LaunchTemplateVersions", [])
        if not versions:
            return None
        v = versions[0]
        return {**v["LaunchTemplateData"], "_version": v["VersionNumber"]}

    def ensure_launch_template(self, data: dict[str, Any]) -> Change:
        ec2 = self.aws.ec2
        have = self.launch_template()
        if have is None:
            call(
                "create launch template",
                ec2.create_launch_template,
                LaunchTemplateName=self.name,
                LaunchTemplateData=data,
                TagSpecifications=[
                    {
                        "ResourceType": "launch-template",
                        "Tags": [{"Key": FLEET_TAG, "Value": self.name}],
                    }
                ],
            )
            return Change(f"launch-template/{self.name}", "created", "version 1")
        if _same(data, have):
            return Change(
                f"launch-template/{self.name}", "unchanged", f"version {have['_version']}"
            )
        r = call(
            "create launch template version",
            ec2.create_launch_template_version,
            LaunchTemplateName=self.name,
            LaunchTemplateData=data,
        )
        version = str(r["LaunchTemplateVersion"]["VersionNumber"])
        call(
            "set default launch template version",
            ec2.modify_launch_template,
            LaunchTemplateName=self.name,
            DefaultVersion=version,
        )
        return Change(f"launch-template/{self.name}", "updated", f"version {version}")

    # -- Auto Scaling group ------------------------------------------------------------
    def group(self) -> dict[str, Any] | None:
        r = call(
            "describe auto scaling group",
            self.aws.autoscaling.describe_auto_scaling_groups,
            AutoScalingGroupNames=[self.name],
        )
        groups = r.get("AutoScalingGroups", [])
        return dict(groups[0]) if groups else None

    def _zones(self, spec: FleetSpec) -> tuple[str, ...]:
        if spec.zones or spec.subnets:
            return spec.zones
        r = call("describe availability zones", self.aws.ec2.describe_availability_zones)
        return tuple(
            sorted(z["ZoneName"] for z in r["AvailabilityZones"] if z.get("State") == "available")
        )

    def group_request(self, spec: FleetSpec) -> dict[str, Any]:
        spot: dict[str, Any] = {
            "OnDemandBaseCapacity": 0,
            "OnDemandPercentageAboveBaseCapacity": 0,  # all spot
            "SpotAllocationStrategy": "price-capacity-optimized",
        }
        if spec.spot_max_price:
            spot["SpotMaxPrice"] = spec.spot_max_price
        req: dict[str, Any] = {
            "AutoScalingGroupName": self.name,
            "MinSize": 0,
            "MaxSize": spec.max_instances,
            "DesiredCapacity": spec.instances,
            "CapacityRebalance": True,
            "MixedInstancesPolicy": {
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {
                        "LaunchTemplateName": self.name,
                        "Version": "$Default",
                    },
                    "Overrides": [{"InstanceType": t} for t in spec.instance_types],
                },
                "InstancesDistribution": spot,
            },
        }
        if spec.subnets:
            req["VPCZoneIdentifier"] = ",".join(spec.subnets)
        else:
            req["AvailabilityZones"] = list(self._zones(spec))
        return req

    @staticmethod
    def _group_differs(req: dict[str, Any], have: dict[str, Any]) -> list[str]:
        out = []
        for k in ("MinSize", "MaxSize", "DesiredCapacity", "CapacityRebalance"):
            if req[k] != have.get(k):
                out.append(k)
        want_mip, have_mip = req["MixedInstancesPolicy"], have.get("MixedInstancesPolicy") or {}
        want_types = [o["InstanceType"] for o in want_mip["LaunchTemplate"]["Overrides"]]
        have_types = [
            o.get("InstanceType") for o in have_mip.get("LaunchTemplate", {}).get("Overrides", [])
        ]
        if want_types != have_types:
            out.append("instance types")
        dist = have_mip.get("InstancesDistribution", {})
        for k, v in want_mip["InstancesDistribution"].items():
            if dist.get(k) != v:
                out.append(k)
        if "AvailabilityZones" in req and sorted(req["AvailabilityZones"]) != sorted(
            have.get("AvailabilityZones", [])
        ):
            out.append("zones")
        if "VPCZoneIdentifier" in req and sorted(req["VPCZoneIdentifier"].split(",")) != sorted(
            (have.get("VPCZoneIdentifier") or "").split(",")
        ):
            out.append("subnets")
        return out

    def ensure_group(self, spec: FleetSpec) -> Change:
        asg = self.aws.autoscaling
        req = self.group_request(spec)
        have = self.group()
        if have is None:
            tags = [
                {
                    "Key": k,
                    "Value": v,
                    "PropagateAtLaunch": False,
                    "ResourceId": self.name,
                    "ResourceType": "auto-scaling-group",
                }
                for k, v in sorted(_tags(spec).items())
            ]
            call("create auto scaling group", asg.create_auto_scaling_group, **req, Tags=tags)
            return Change(f"auto-scaling-group/{self.name}", "created", f"desired {spec.instances}")
        differs = self._group_differs(req, have)
        if not differs:
            return Change(
                f"auto-scaling-group/{self.name}", "unchanged", f"desired {spec.instances}"
            )
        call("update auto scaling group", asg.update_auto_scaling_group, **req)
        return Change(f"auto-scaling-group/{self.name}", "updated", ", ".join(differs))

    # -- the commands ------------------------------------------------------------------
    def up(self, spec: FleetSpec, settings: Settings, *, create_role: bool = False) -> list[Change]:
        if not spec.instance_types:
            raise FleetError("at least one instance type is needed")
        changes: list[Change] = []
        if create_role:
            changes += self.ensure_role(spec.instance_profile, settings)
        ami = resolve_ami(self.aws, spec.ami)
        data = launch_template_data(spec, settings, ami, _root_device(self.aws, ami))
        changes.append(self.ensure_launch_template(data))
        changes.append(self.ensure_group(spec))
        return changes

    def scale(self, n: int) -> Change:
        have = self.group()
        if have is None:
            raise FleetError(f"no fleet {self.name!r}: run 'pitstop fleet up' first")
        if n > int(have["MaxSize"]):
            call(
                "update auto scaling group",
                self.aws.autoscaling.update_auto_scaling_group,
                AutoScalingGroupName=self.name,
                MaxSize=n,
            )
        if int(have["DesiredCapacity"]) == n:
            return Change(f"auto-scaling-group/{self.name}", "unchanged", f"desired {n}")
        call(
            "set desired capacity",
            self.aws.autoscaling.set_desired_capacity,
            AutoScalingGroupName=self.name,
            DesiredCapacity=n,
            HonorCooldown=False,
        )
        return Change(
            f"auto-scaling-group/{self.name}", "scaled", f"desired {have['DesiredCapacity']} -> {n}"
        )

    def down(self, *, delete: bool = False) -> list[Change]:
        asg, changes = self.aws.autoscaling, []
        have = self.group()
        if have is not None:
            if int(have["DesiredCapacity"]) or int(have["MinSize"]):
                call(
                    "scale to zero",
                    asg.update_auto_scaling_group,
                    AutoScalingGroupName=self.name,
                    MinSize=0,
                    DesiredCapacity=0,
                )
                changes.append(Change(f"auto-scaling-group/{self.name}", "scaled", "desired 0"))
            # terminate what is left now rather than waiting for the group's own pace
            ids = [i["InstanceId"] for i in self.group_instances()]
            if ids:
                call("terminate instances", self.aws.ec2.terminate_instances, InstanceIds=ids)
                changes.append(Change("instances", "terminated", " ".join(ids)))
            if delete:
                call(
                    "delete auto scaling group",
                    asg.delete_auto_scaling_group,
                    AutoScalingGroupName=self.name,
                    ForceDelete=True,
                )
                changes.append(Change(f"auto-scaling-group/{self.name}", "deleted"))
        if delete and self.launch_template() is not None:
            call(
                "delete launch template",
                self.aws.ec2.delete_launch_template,
                LaunchTemplateName=self.name,
            )
            changes.append(Change(f"launch-template/{self.name}", "deleted"))
        return changes

    def group_instances(self) -> list[dict[str, Any]]:
        """EC2's view of the fleet's live instances (pending, running, stopping, stopped)."""
        ids: set[str] = set()
        have = self.group()
        if have is not None:
            ids |= {i["InstanceId"] for i in have.get("Instances", [])}
        filters = [
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
        ]
        out: list[dict[str, Any]] = []
        pages = self.aws.ec2.get_paginator("describe_instances").paginate(
            Filters=[*filters, {"Name": f"tag:{FLEET_TAG}", "Values": [self.name]}]
        )
        try:
            for page in pages:
                for res in page["Reservations"]:
                    out.extend(res["Instances"])
        except Exception as e:
            raise FleetError(f"describe instances: {e}") from e
        seen = {i["InstanceId"] for i in out}
        missing = sorted(ids - seen)
        if missing:
            r = call(
                "describe instances",
                self.aws.ec2.describe_instances,
                InstanceIds=missing,
                Filters=filters,
            )
            for res in r["Reservations"]:
                out.extend(res["Instances"])
        return sorted(out, key=lambda i: i["InstanceId"])

    def running_instances(self) -> list[dict[str, Any]]:
        return [i for i in self.group_instances() if i["State"]["Name"] == "running"]

    def instance_address(self, instance_id: str, private: bool = False) -> str | None:
        """The address to reach an instance at (``private``: its private IP), from EC2."""
        r = call(
            f"describe instance {instance_id}",
            self.aws.ec2.describe_instances,
            InstanceIds=[instance_id],
        )
        insts = [i for res in r["Reservations"] for i in res["Instances"]]
        return address(insts[0], private) if insts else None


def address(inst: dict[str, Any], private: bool = False) -> str | None:
    """An EC2 instance's public address (else private), or its private one if asked."""
    if private:
        return inst.get("PrivateIpAddress")
    return inst.get("PublicIpAddress") or inst.get("PrivateIpAddress")


_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{3,100}$")
_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


def check_fleet_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise UsageError(f"--name {name!r}: 3-100 letters, digits, '.', '_' or '-'")
    return name


def csv_values(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def fleet_spec(
    *,
    name: str,
    types: str,
    instances: int,
    max_instances: int | None,
    zones: str = "",
    subnets: str = "",
    tags: list[str] | tuple[str, ...] = (),
    **rest: Any,
) -> FleetSpec:
    """A ``FleetSpec`` from ``fleet up``'s options (comma lists, KEY=VALUE tags), checked:
    instance types look like ``g4dn.2xlarge``, the maximum is not below the desired count,
    zones or subnets (not both). ``UsageError`` names the option."""
    check_fleet_name(name)
    type_list = csv_values(types)
    bad = [t for t in type_list if not _TYPE_RE.match(t)]
    if not type_list or bad:
        raise UsageError(
            f"--types: not an instance type: {(bad or [types])[0]!r} (e.g. g4dn.2xlarge)"
        )
    tag_map = {}
    for t in tags:
        k, sep, v = t.partition("=")
        if not sep or not k:
            raise UsageError(f"--tag {t!r}: expected KEY=VALUE")
        tag_map[k] = v
    top = max_instances or max(instances, 1) * 2
    if top < instances:
        raise UsageError(f"--max {top} is below --instances {instances}")
    if zones and subnets:
        raise UsageError("give --zones or --subnets, not both")
    return FleetSpec(
        name=name,
        instance_types=type_list,
        instances=instances,
        max_instances=top,
        zones=csv_values(zones),
        subnets=csv_values(subnets),
        tags=tag_map,
        security_groups=csv_values(rest.pop("security_groups", "") or ""),
        **rest,
    )
