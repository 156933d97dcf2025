"""``imagebuilder`` calls against botocore's Stubber (requests checked against the model)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from botocore.stub import Stubber

from pitstop.cli.image import build_and_report
from pitstop.config import Settings
from pitstop.image_builder.build import ImagePipeline, publish_wheel
from pitstop.image_builder.options import ImageOptions, PitstopSource, resolve_parent
from pitstop.image_builder.render import (
    DIGEST_TAG,
    distribution_request,
    find_unit,
    infrastructure_request,
    pipeline_request,
    recipe_request,
    render_components,
)

ACCOUNT = "123456789012"
ARN = f"arn:aws:imagebuilder:eu-west-1:{ACCOUNT}"
RECIPE = f"{ARN}:image-recipe/pitstop-gpu"
INFRA = f"{ARN}:infrastructure-configuration/pitstop-gpu"
DIST = f"{ARN}:distribution-configuration/pitstop-gpu"
PIPELINE = f"{ARN}:image-pipeline/pitstop-gpu"
IMAGE = f"{ARN}:image/pitstop-gpu/1.0.0/1"
UNIT = find_unit().read_text()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def client() -> Iterator[Any]:
    c = botocore.session.get_session().create_client(
        "imagebuilder",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield c


class Calls:
    """Records every API call's parameters (the Stubber has already validated them)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.imagebuilder", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((xform_name(model.name), dict(params)))

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [p for n, p in self.calls if n == name]


def _component_arn(name: str, version: str) -> str:
    return f"{ARN}:component/{name}/{version}"


def _stub_ensure(
    stub: Stubber,
    settings: Settings,
    options: ImageOptions,
    *,
    existing_components: dict[str, list[tuple[str, str]]],
    recipe: tuple[str, str] | None,
    recipe_needed: str | None,
    configs_digest: dict[str, str | None],
    updates: frozenset[str] = frozenset(),
) -> None:
    """Queue the responses of one ``ensure`` run.

    ``existing_components``: name -> [(version, digest)]; ``recipe``: (version, digest) of
    the existing recipe or None; ``recipe_needed``: version of a recipe to create, or None;
    ``configs_digest``: kind -> digest in its existing description (absent: created);
    ``updates``: the kinds whose update is expected.
    """
    for c in render_components(options, UNIT):
        versions = existing_components.get(c.name, [])
        stub.add_response(
            "list_components",
            {
                "componentVersionList": [
                    {
                        "arn": _component_arn(c.name, v),
                        "name": c.name,
                        "version": v,
                        "description": f"old [sha256:{d}]",
                        "platform": "Linux",
                    }
                    for v, d in versions
                ]
            },
        )
        if not any(d == c.digest for _, d in versions):
            new = _next(versions)
            stub.add_response(
                "create_component",
                {"componentBuildVersionArn": _component_arn(c.name, new) + "/1"},
            )
    stub.add_response(
        "list_image_recipes",
        {
            "imageRecipeSummaryList": (
                [
                    {
                        "arn": f"{RECIPE}/{recipe[0]}",
                        "name": "pitstop-gpu",
                        "tags": {DIGEST_TAG: recipe[1]},
                    }
                ]
                if recipe
                else []
            )
        },
    )
    if recipe_needed:
        stub.add_response("create_image_recipe", {"imageRecipeArn": f"{RECIPE}/{recipe_needed}"})
    for kind, key, arn, arn_key in (
        (
            "infrastructure_configuration",
            "infrastructureConfigurationSummaryList",
            INFRA,
            "infrastructureConfigurationArn",
        ),
        (
            "distribution_configuration",
            "distributionConfigurationSummaryList",
            DIST,
            "distributionConfigurationArn",
        ),
        ("image_pipeline", "imagePipelineList", PIPELINE, "imagePipelineArn"),
    ):
        digest = configs_digest.get(kind)
        existing = (
            []
            if digest is None
            else [{"arn": arn, "name": "pitstop-gpu", "description": f"x [sha256:{digest}]"}]
        )
        stub.add_response(f"list_{kind}s", {key: existing})
        if digest is None:
            stub.add_response(f"create_{kind}", {arn_key: arn})
        elif kind in updates:
            stub.add_response(f"update_{kind}", {arn_key: arn})


def _next(versions: list[tuple[str, str]]) -> str:
    if not versions:
        return "1.0.0"
    major, minor, patch = max(tuple(int(x) for x in v.split(".")) for v, _ in versions)
    return f"{major}.{minor}.{patch + 1}"


def _digests(
    settings: Settings, options: ImageOptions, component_versions: dict[str, str]
) -> dict[str, str]:
    """The digests the current documents have, given the component versions in the recipe."""
    comps = render_components(options, UNIT)
    arns = {c.doc: _component_arn(c.name, component_versions[c.name]) for c in comps}
    parent = resolve_parent(options.parent, settings.region)
    out = {c.name: c.digest for c in comps}
    out["recipe"] = recipe_request(settings, options, parent, arns, "1.0.0")["tags"][DIGEST_TAG]

    def d(req: dict[str, Any]) -> str:
        return req["description"].rsplit("[sha256:", 1)[1][:-1]

    out["infrastructure_configuration"] = d(infrastructure_request(settings, options))
    out["distribution_configuration"] = d(distribution_request(settings, options))
    return out


def _pipeline_digest(options: ImageOptions, recipe_version: str) -> str:
    req = pipeline_request(options, f"{RECIPE}/{recipe_version}", INFRA, DIST)
    return str(req["description"].rsplit("[sha256:", 1)[1][:-1])


def test_first_build_from_nothing_creates_everything_at_1_0_0(
    client: Any, settings: Settings, options: ImageOptions
) -> None:
    calls = Calls(client)
    with Stubber(client) as stub:
        _stub_ensure(
            stub,
            settings,
            options,
            existing_components={},
            recipe=None,
            recipe_needed="1.0.0",
            configs_digest={},
        )
        stub.add_response("start_image_pipeline_execution", {"imageBuildVersionArn": IMAGE})
        pipeline = ImagePipeline(client, settings, options)
        plan = pipeline.ensure(UNIT)
        image = pipeline.start(plan.pipeline_arn)
        stub.assert_no_pending_responses()
    assert image == IMAGE
    created = calls.of("create_component")
    assert [(c["name"], c["semanticVersion"]) for c in created] == [
        ("pitstop-deepracer-for-cloud", "1.0.0"),
        ("pitstop-supervisor", "1.0.0"),
    ]
    for c in created:
        digest = c["tags"][DIGEST_TAG]
        assert c["description"].endswith(f"[sha256:{digest}]")
    (recipe,) = calls.of("create_image_recipe")
    assert recipe["semanticVersion"] == "1.0.0"
    assert [c["componentArn"] for c in recipe["components"]][-2:] == [
        _component_arn("pitstop-deepracer-for-cloud", "1.0.0"),
        _component_arn("pitstop-supervisor", "1.0.0"),
    ]
    (dist,) = calls.of("create_distribution_configuration")
    ami = dist["distributions"][0]["amiDistributionConfiguration"]
    assert "launchPermission" not in ami
    assert (
        dist["distributions"][0]["ssmParameterConfigurations"][0]["parameterName"]
        == "/pitstop/ami-id"
    )
    (infra,) = calls.of("create_infrastructure_configuration")
    assert infra["instanceProfileName"] == "pitstop-image-builder"
    assert infra["logging"]["s3Logs"]["s3BucketName"] == "my-deepracer-bucket"
    assert calls.of("create_image_pipeline")[0]["imageRecipeArn"] == f"{RECIPE}/1.0.0"
    assert len(plan.changes) == 6


def test_rerun_with_no_change_creates_no_new_versions(
    client: Any, settings: Settings, options: ImageOptions
) -> None:
    versions = {"pitstop-deepracer-for-cloud": "1.0.0", "pitstop-supervisor": "1.0.0"}
    d = _digests(settings, options, versions)
    calls = Calls(client)
    with Stubber(client) as stub:
        _stub_ensure(
            stub,
            settings,
            options,
            existing_components={n: [(v, d[n])] for n, v in versions.items()},
            recipe=("1.0.0", d["recipe"]),
            recipe_needed=None,
            configs_digest={
                "infrastructure_configuration": d["infrastructure_configuration"],
                "distribution_configuration": d["distribution_configuration"],
                "image_pipeline": _pipeline_digest(options, "1.0.0"),
            },
        )
        plan = ImagePipeline(client, settings, options).ensure(UNIT)
        stub.assert_no_pending_responses()
    assert plan.changes == []
    assert not [n for n in calls.names() if n.startswith(("create_", "update_"))]
    assert plan.recipe_arn == f"{RECIPE}/1.0.0"


def test_changed_component_gets_a_bumped_version_and_a_new_recipe(
    client: Any, settings: Settings, options: ImageOptions
) -> None:
    old = _digests(
        settings, options, {"pitstop-deepracer-for-cloud": "1.0.1", "pitstop-supervisor": "1.0.0"}
    )
    changed = ImageOptions(source=options.source, drfc_ref="0123abcd")
    new = _digests(
        settings, changed, {"pitstop-deepracer-for-cloud": "1.0.2", "pitstop-supervisor": "1.0.0"}
    )
    assert new["pitstop-deepracer-for-cloud"] != old["pitstop-deepracer-for-cloud"]
    assert new["pitstop-supervisor"] == old["pitstop-supervisor"]
    calls = Calls(client)
    with Stubber(client) as stub:
        _stub_ensure(
            stub,
            settings,
            changed,
            existing_components={
                "pitstop-deepracer-for-cloud": [
                    ("1.0.0", "aaaa"),
                    ("1.0.1", old["pitstop-deepracer-for-cloud"]),
                ],
                "pitstop-supervisor": [("1.0.0", old["pitstop-supervisor"])],
            },
            recipe=("1.0.0", old["recipe"]),
            recipe_needed="1.0.1",
            configs_digest={
                "infrastructure_configuration": new["infrastructure_configuration"],
                "distribution_configuration": new["distribution_configuration"],
                "image_pipeline": _pipeline_digest(changed, "1.0.0"),
            },
            updates=frozenset({"image_pipeline"}),
        )
        plan = ImagePipeline(client, settings, changed).ensure(UNIT)
        stub.assert_no_pending_responses()
    (created,) = calls.of("create_component")
    assert (created["name"], created["semanticVersion"]) == ("pitstop-deepracer-for-cloud", "1.0.2")
    assert created["tags"][DIGEST_TAG] == new["pitstop-deepracer-for-cloud"]
    assert f"sha256:{new['pitstop-deepracer-for-cloud']}" in created["description"]
    (recipe,) = calls.of("create_image_recipe")
    assert recipe["semanticVersion"] == "1.0.1"
    (update,) = calls.of("update_image_pipeline")
    assert update["imagePipelineArn"] == PIPELINE and update["imageRecipeArn"] == f"{RECIPE}/1.0.1"
    assert plan.changes == [
        "component pitstop-deepracer-for-cloud 1.0.2: created",
        "recipe pitstop-gpu 1.0.1: created",
        "image pipeline pitstop-gpu: updated",
    ]


def _image(status: str, **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"status": status}
    if "reason" in extra:
        state["reason"] = extra.pop("reason")
    return {"image": {"arn": IMAGE, "version": "1.0.0", "state": state, **extra}}


def test_wait_shows_state_and_elapsed_until_available(
    client: Any, settings: Settings, options: ImageOptions
) -> None:
    lines: list[str] = []
    clock = FakeClock()
    with Stubber(client) as stub:
        for status in ("PENDING", "BUILDING", "BUILDING", "TESTING", "DISTRIBUTING"):
            stub.add_response("get_image", _image(status), {"imageBuildVersionArn": IMAGE})
        stub.add_response(
            "get_image",
            _image(
                "AVAILABLE",
                outputResources={
                    "amis": [{"region": "eu-west-1", "image": "ami-0123456789abcdef0"}]
                },
            ),
        )
        result = ImagePipeline(client, settings, options, echo=lines.append).wait(
            IMAGE, clock, poll_interval_s=60
        )
    assert result.ok and result.ami_id == "ami-0123456789abcdef0"
    assert lines == [
        "00:00:00  PENDING",
        "00:01:00  BUILDING",
        "00:02:00  BUILDING",
        "00:03:00  TESTING",
        "00:04:00  DISTRIBUTING",
        "00:05:00  AVAILABLE",
    ]
    assert clock.sleeps == [60] * 5


def test_build_wait_failure_prints_reason_and_logs_and_exits_1(
    client: Any,
    settings: Settings,
    options: ImageOptions,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Stubber(client) as stub:
        _stub_ensure(
            stub,
            settings,
            options,
            existing_components={},
            recipe=None,
            recipe_needed="1.0.0",
            configs_digest={},
        )
        stub.add_response("start_image_pipeline_execution", {"imageBuildVersionArn": IMAGE})
        stub.add_response("get_image", _image("BUILDING"))
        stub.add_response(
            "get_image", _image("FAILED", reason="Step PrepareAndReboot failed: exit status 1")
        )
        pipeline = ImagePipeline(client, settings, options, echo=print)
        rc = build_and_report(pipeline, UNIT, clock=FakeClock(), wait=True, poll_interval_s=30)
        stub.assert_no_pending_responses()
    out, err = capsys.readouterr()
    assert rc == 1
    assert "00:00:30  FAILED" in out
    (line,) = err.strip().splitlines()
    assert "image FAILED: Step PrepareAndReboot failed: exit status 1" in line
    assert "s3://my-deepracer-bucket/pitstop/image-builder/logs/pitstop-gpu/" in line
    assert "/aws/imagebuilder/pitstop-gpu" in line


def test_build_wait_success_prints_ami_and_ssm_parameter(
    client: Any, settings: Settings, options: ImageOptions, capsys: pytest.CaptureFixture[str]
) -> None:
    with Stubber(client) as stub:
        _stub_ensure(
            stub,
            settings,
            options,
            existing_components={},
            recipe=None,
            recipe_needed="1.0.0",
            configs_digest={},
        )
        stub.add_response("start_image_pipeline_execution", {"imageBuildVersionArn": IMAGE})
        stub.add_response(
            "get_image",
            _image(
                "AVAILABLE",
                outputResources={
                    "amis": [{"region": "eu-west-1", "image": "ami-0123456789abcdef0"}]
                },
            ),
        )
        rc = build_and_report(
            ImagePipeline(client, settings, options), UNIT, clock=FakeClock(), wait=True
        )
    assert rc == 0
    assert (
        "AMI ami-0123456789abcdef0 (id stored in SSM parameter /pitstop/ami-id)"
        in capsys.readouterr().out
    )


def test_status_and_list_read_the_pipeline_images(
    client: Any, settings: Settings, options: ImageOptions
) -> None:
    older = {
        "arn": IMAGE,
        "version": "1.0.0",
        "state": {"status": "AVAILABLE"},
        "dateCreated": "2024-05-01T10:00:00Z",
        "outputResources": {"amis": [{"region": "eu-west-1", "image": "ami-0aaaaaaaaaaaaaaaa"}]},
    }
    newer = {
        "arn": IMAGE[:-1] + "2",
        "version": "1.0.0",
        "state": {"status": "FAILED", "reason": "boom"},
        "dateCreated": "2024-05-02T10:00:00Z",
    }
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_response(
                "list_image_pipelines",
                {"imagePipelineList": [{"arn": PIPELINE, "name": "pitstop-gpu"}]},
            )
            stub.add_response(
                "list_image_pipeline_images",
                {"imageSummaryList": [older, newer]},
                {"imagePipelineArn": PIPELINE},
            )
        pipeline = ImagePipeline(client, settings, options)
        rows = pipeline.images()
        status = pipeline.status()
    assert [r["state"] for r in rows] == ["FAILED", "AVAILABLE"]
    assert rows[1]["ami_id"] == "ami-0aaaaaaaaaaaaaaaa"
    assert status["reason"] == "boom"
    assert isinstance(dt.datetime.fromisoformat(str(status["created"])), dt.datetime)


def test_api_errors_become_one_line(client: Any, settings: Settings, options: ImageOptions) -> None:
    from pitstop.errors import PitstopError

    with Stubber(client) as stub:
        stub.add_client_error("list_image_pipelines", "AccessDeniedException", "not allowed", 403)
        with pytest.raises(
            PitstopError, match="list_image_pipelines: AccessDeniedException: not allowed"
        ):
            ImagePipeline(client, settings, options).status()


def test_publish_wheel_uploads_once_under_its_content_hash(
    settings: Settings, tmp_path: Any
) -> None:
    wheel = tmp_path / "pitstop-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    s3 = botocore.session.get_session().create_client(
        "s3", region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(s3) as stub:
        stub.add_client_error("head_object", "404", "Not Found", 404)
        stub.add_response("put_object", {})
        stub.add_response("head_object", {})
        first = publish_wheel(s3, settings, wheel)
        second = publish_wheel(s3, settings, wheel)
        stub.assert_no_pending_responses()
    assert first == second
    assert first.kind == "s3"
    assert first.location.startswith("s3://my-deepracer-bucket/pitstop/image-builder/wheels/")
    assert first.location.endswith("/pitstop-0.1.0-py3-none-any.whl")
    assert PitstopSource.parse(first.location) == first
