"""Rendered documents: golden files, AWSTOE shape, cfn-lint, least privilege, private AMI."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pitstop.config import Settings
from pitstop.image_builder.awstoe import ACTIONS, check_component
from pitstop.image_builder.options import ImageOptions
from pitstop.image_builder.render import find_unit, render_all

DOCUMENTS = [
    "components/pitstop-supervisor.yaml",
    "components/deepracer-for-cloud.yaml",
    "image-recipe.json",
    "infrastructure-configuration.json",
    "distribution-configuration.json",
    "cloudformation.yaml",
]


@pytest.fixture
def rendered(settings: Settings, options: ImageOptions, tmp_path: Path) -> Path:
    written = render_all(settings, options, tmp_path / "out")
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in written) == sorted(DOCUMENTS)
    return tmp_path / "out"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_rendered_document_matches_its_golden_file(
    rendered: Path, name: str, golden: Callable[[str, str], None]
) -> None:
    golden(name, (rendered / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["pitstop-supervisor", "deepracer-for-cloud"])
def test_component_parses_has_build_and_validate_and_uses_real_actions(
    rendered: Path, name: str
) -> None:
    text = (rendered / "components" / f"{name}.yaml").read_text()
    assert check_component(text) == []
    doc = yaml.safe_load(text)
    assert doc["name"] == name and str(doc["schemaVersion"]) == "1.0"
    phases = {p["name"]: p["steps"] for p in doc["phases"]}
    assert {"build", "validate"} <= set(phases)
    for steps in phases.values():
        for step in steps:
            assert step["action"] in ACTIONS
    assert len(text) <= 16000


def test_supervisor_component_validates_version_unit_and_settings(rendered: Path) -> None:
    doc = yaml.safe_load((rendered / "components/pitstop-supervisor.yaml").read_text())
    validate = json.dumps(next(p for p in doc["phases"] if p["name"] == "validate"))
    assert "--version" in validate
    assert "systemd-analyze verify" in validate
    assert "supervise --check --config" in validate
    build = next(p for p in doc["phases"] if p["name"] == "build")["steps"]
    fetch = next(s for s in build if s["action"] == "S3Download")
    assert fetch["inputs"][0]["source"].startswith("s3://my-deepracer-bucket/")
    # the unit embedded is the one in systemd/
    assert find_unit().read_text().strip().splitlines()[0] in json.dumps(build)


def test_drfc_component_reboots_after_prepare_and_validates_gpu_docker_and_image(
    rendered: Path,
) -> None:
    doc = yaml.safe_load((rendered / "components/deepracer-for-cloud.yaml").read_text())
    steps = {s["name"]: s for p in doc["phases"] for s in p["steps"]}
    prepare = "\n".join(steps["PrepareAndReboot"]["inputs"]["commands"])
    assert "bin/prepare.sh" in prepare and "exit 194" in prepare
    assert "init.sh -c aws -a gpu" in "\n".join(steps["InitDrfc"]["inputs"]["commands"])
    validate = next(p for p in doc["phases"] if p["name"] == "validate")
    cmds = json.dumps(validate)
    assert "nvidia-smi" in cmds and "docker info" in cmds and "docker image inspect" in cmds
    assert any((p.get("DrfcRef") or {}).get("default") == "v6.0.4" for p in doc["parameters"])


def _cfn(rendered: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((rendered / "cloudformation.yaml").read_text())
    return doc


@pytest.mark.skipif(shutil.which("cfn-lint") is None, reason="needs cfn-lint")
def test_cfn_lint_reports_no_errors(rendered: Path) -> None:
    proc = subprocess.run(
        ["cfn-lint", str(rendered / "cloudformation.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational
    assert proc.returncode & 2 == 0, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cloudformation_has_the_whole_pipeline(rendered: Path) -> None:
    types = sorted(r["Type"] for r in _cfn(rendered)["Resources"].values())
    assert types == sorted(
        [
            "AWS::ImageBuilder::Component",
            "AWS::ImageBuilder::Component",
            "AWS::ImageBuilder::ImageRecipe",
            "AWS::ImageBuilder::InfrastructureConfiguration",
            "AWS::ImageBuilder::DistributionConfiguration",
            "AWS::ImageBuilder::ImagePipeline",
            "AWS::IAM::Role",
            "AWS::IAM::InstanceProfile",
        ]
    )


def test_build_instance_role_is_least_privilege(rendered: Path) -> None:
    role = _cfn(rendered)["Resources"]["BuildInstanceRole"]["Properties"]
    principals = [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [{"Service": "ec2.amazonaws.com"}]
    managed = sorted(p["Fn::Sub"].rsplit("/", 1)[1] for p in role["ManagedPolicyArns"])
    assert managed == ["AmazonSSMManagedInstanceCore", "EC2InstanceProfileForImageBuilder"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = sorted(s["Action"] for s in statements)
    assert actions == ["s3:GetObject", "s3:PutObject"]
    for s in statements:
        resource = s["Resource"]["Fn::Sub"]
        assert resource.startswith("arn:${AWS::Partition}:s3:::my-deepracer-bucket/pitstop/")
        assert "*" not in resource.split("/", 1)[1].rstrip("*")
    get = next(s for s in statements if s["Action"] == "s3:GetObject")
    assert get["Resource"]["Fn::Sub"].endswith("pitstop-0.1.0-py3-none-any.whl")


def test_ami_is_private_and_its_id_goes_to_ssm(rendered: Path) -> None:
    text = (rendered / "cloudformation.yaml").read_text()
    assert "LaunchPermission" not in text
    dist = _cfn(rendered)["Resources"]["DistributionConfiguration"]["Properties"]
    (d,) = dist["Distributions"]
    assert d["SsmParameterConfigurations"] == [
        {"ParameterName": "/pitstop/ami-id", "DataType": "aws:ec2:image"}
    ]
    api = json.loads((rendered / "distribution-configuration.json").read_text())
    (d,) = api["distributions"]
    assert "launchPermission" not in d["amiDistributionConfiguration"]
    assert d["ssmParameterConfigurations"][0]["parameterName"] == "/pitstop/ami-id"


def test_recipe_passes_settings_to_the_supervisor_component(rendered: Path) -> None:
    recipe = json.loads((rendered / "image-recipe.json").read_text())
    assert recipe["parentImage"] == (
        "arn:aws:imagebuilder:eu-west-1:aws:image/ubuntu-server-22-lts-x86/x.x.x"
    )
    sup = next(c for c in recipe["components"] if "pitstop-supervisor" in c["componentArn"])
    params = {p["name"]: p["value"] for p in sup["parameters"]}
    assert params["Bucket"] == ["my-deepracer-bucket"]
    assert params["Trainer"] == ["drfc"]
    assert params["DrfcHome"] == ["/opt/deepracer-for-cloud"]
