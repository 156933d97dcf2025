"""Render the image's documents: AWSTOE components, API requests, and CloudFormation.

The request dictionaries built here are exactly what ``build`` sends to ``imagebuilder``
(less ARNs it only learns at run time), and what ``pitstop image render`` writes as JSON,
so the offline files and the API calls cannot drift apart. Content digests (sha256 of the
rendered content) are what decides, at build time, whether anything changed.

The systemd unit is read from ``systemd/pitstop-supervisor.service``, the source of truth,
and embedded in the supervisor component; nothing here writes outside the output folder.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

import pitstop
from pitstop import __version__
from pitstop.config import Settings
from pitstop.errors import PitstopError, UsageError
from pitstop.image_builder.options import ImageOptions, PitstopSource
from pitstop.store.layout import Layout

UNIT_NAME = "pitstop-supervisor.service"
SUPERVISOR_DOC = "pitstop-supervisor"
DRFC_DOC = "deepracer-for-cloud"
DIGEST_TAG = "pitstop:content-sha256"
# Managed components that run before ours: current packages, and the AWS CLI DRfC calls.
MANAGED_COMPONENTS = ("update-linux", "aws-cli-version-2-linux")
PLACEHOLDER_ACCOUNT = "ACCOUNT_ID"


def unit_candidates() -> list[Path]:
    """Where the unit may be: a source checkout (editable install), then the installed data."""
    repo = Path(pitstop.__file__).resolve().parents[2]
    return [
        repo / "systemd" / UNIT_NAME,
        Path(sys.prefix) / "share" / "pitstop" / "systemd" / UNIT_NAME,
    ]


def find_unit(explicit: Path | None = None) -> Path:
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"{explicit}: no such unit file")
        return explicit
    for candidate in unit_candidates():
        if candidate.is_file():
            return candidate
    raise PitstopError(
        f"cannot find {UNIT_NAME} (looked in {', '.join(str(c) for c in unit_candidates())}); "
        "pass --unit FILE"
    )


def content_digest(text: str) -> str:
    """The first 16 hex digits of the sha256 of ``text``: short, and collision-safe enough."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _request_digest(request: Mapping[str, Any]) -> str:
    body = {k: v for k, v in request.items() if k not in ("description", "tags", "semanticVersion")}
    return content_digest(json.dumps(body, sort_keys=True))


def with_digest(description: str, digest: str) -> str:
    return f"{description} [sha256:{digest}]"


def digest_of(description: str | None) -> str | None:
    """The digest a ``with_digest`` description carries, or None."""
    if not description or not description.endswith("]") or "[sha256:" not in description:
        return None
    return description.rsplit("[sha256:", 1)[1][:-1]


def _environment() -> jinja2.Environment:
    # [[ ]] / [% %] so that AWSTOE's own {{ Parameter }} references pass through untouched
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pitstop", "templates/image_builder"),
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


@dataclass(frozen=True)
class Component:
    """One rendered component document and the resource it becomes."""

    doc: str  # document name and file stem: pitstop-supervisor, deepracer-for-cloud
    name: str  # Image Builder resource name
    description: str
    data: str

    @property
    def digest(self) -> str:
        return content_digest(self.data)

    @property
    def api_description(self) -> str:
        return with_digest(self.description, self.digest)


def _source(options: ImageOptions) -> PitstopSource:
    if options.source is None:
        raise UsageError(
            "no pitstop to install: pass --wheel FILE or --pitstop-source s3://BUCKET/KEY.whl "
            "(from a source checkout, a wheel of it is built)"
        )
    return options.source


def render_components(options: ImageOptions, unit_text: str) -> list[Component]:
    source = _source(options)
    env = _environment()
    sup_desc = f"pitstop {__version__} supervisor: virtual environment, settings, systemd unit"
    drfc_desc = f"deepracer-for-cloud {options.drfc_ref} with GPU driver, Docker and simapp"
    sup = env.get_template("pitstop-supervisor.yaml.j2").render(
        description=sup_desc,
        source=source,
        requirement=source.requirement,
        unit_name=UNIT_NAME,
        unit_text=unit_text.rstrip("\n"),
    )
    drfc = env.get_template("deepracer-for-cloud.yaml.j2").render(
        description=drfc_desc,
        drfc_repository=options.drfc_repository,
        drfc_ref=options.drfc_ref,
        simapp_version=options.simapp_version,
    )
    components = [
        Component(DRFC_DOC, options.drfc_component, drfc_desc, drfc),
        Component(SUPERVISOR_DOC, options.supervisor_component, sup_desc, sup),
    ]
    for c in components:
        if len(c.data) > 16000:  # the API's inline limit
            raise PitstopError(
                f"component {c.name} is {len(c.data)} characters; the limit is 16000"
            )
    return components


def component_parameters(settings: Settings, options: ImageOptions) -> dict[str, dict[str, str]]:
    """Recipe-level parameter values per component document: the settings baked in."""
    return {
        DRFC_DOC: {"DrfcHome": options.drfc_home},
        SUPERVISOR_DOC: {
            "Bucket": settings.bucket,
            "Prefix": settings.prefix,
            "Region": settings.region,
            "Trainer": settings.trainer,
            "DrfcHome": options.drfc_home,
        },
    }


def managed_component_arn(region: str, name: str) -> str:
    return f"arn:aws:imagebuilder:{region}:aws:component/{name}/x.x.x"


def component_arn(region: str, account: str, name: str, version: str) -> str:
    return f"arn:aws:imagebuilder:{region}:{account}:component/{name}/{version}"


def recipe_request(
    settings: Settings,
    options: ImageOptions,
    parent_image: str,
    component_arns: Mapping[str, str],
    version: str,
) -> dict[str, Any]:
    """``create_image_recipe`` arguments (less ``clientToken``); ``component_arns`` by doc."""
    params = component_parameters(settings, options)
    components: list[dict[str, Any]] = [
        {"componentArn": managed_component_arn(settings.region, m)} for m in MANAGED_COMPONENTS
    ]
    for doc in (DRFC_DOC, SUPERVISOR_DOC):
        components.append(
            {
                "componentArn": component_arns[doc],
                "parameters": [{"name": k, "value": [v]} for k, v in params[doc].items()],
            }
        )
    request: dict[str, Any] = {
        "name": options.pipeline,
        "semanticVersion": version,
        "parentImage": parent_image,
        "components": components,
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/sda1",
                "ebs": {
                    "volumeSize": options.volume_size_gib,
                    "volumeType": "gp3",
                    "deleteOnTermination": True,
                    "encrypted": True,
                },
            }
        ],
        "workingDirectory": "/tmp",
    }
    digest = _request_digest(request)
    request["description"] = f"pitstop GPU image: DRfC {options.drfc_ref} and the supervisor"
    request["tags"] = {DIGEST_TAG: digest, "pitstop:image": options.name}
    return request


def logs_location(settings: Settings, options: ImageOptions) -> tuple[str, str]:
    """(bucket, key prefix) where build instances write their AWSTOE logs."""
    return settings.bucket, Layout(settings.prefix).image_logs(options.pipeline)


def infrastructure_request(settings: Settings, options: ImageOptions) -> dict[str, Any]:
    bucket, key_prefix = logs_location(settings, options)
    request: dict[str, Any] = {
        "name": options.pipeline,
        "instanceTypes": list(options.instance_types),
        "instanceProfileName": options.instance_profile,
        "logging": {"s3Logs": {"s3BucketName": bucket, "s3KeyPrefix": key_prefix}},
        "terminateInstanceOnFailure": True,
        "instanceMetadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2},
    }
    if options.subnet_id:
        request["subnetId"] = options.subnet_id
    if options.security_group_ids:
        request["securityGroupIds"] = list(options.security_group_ids)
    request["description"] = with_digest(
        "pitstop image build instances (GPU, IMDSv2)", _request_digest(request)
    )
    return request


def distribution_request(settings: Settings, options: ImageOptions) -> dict[str, Any]:
    """The AMI stays private: no launchPermission at all, so only this account can use it."""
    request: dict[str, Any] = {
        "name": options.pipeline,
        "distributions": [
            {
                "region": settings.region,
                "amiDistributionConfiguration": {
                    "name": f"{options.pipeline}-{{{{ imagebuilder:buildDate }}}}",
                    "description": "pitstop GPU image: supervisor and deepracer-for-cloud",
                    "amiTags": {"pitstop:image": options.name},
                },
                "ssmParameterConfigurations": [
                    {"parameterName": options.ssm_parameter, "dataType": "aws:ec2:image"}
                ],
            }
        ],
    }
    request["description"] = with_digest(
        f"pitstop private AMI; id in SSM {options.ssm_parameter}", _request_digest(request)
    )
    return request


def pipeline_request(
    options: ImageOptions, recipe_arn: str, infrastructure_arn: str, distribution_arn: str
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "name": options.pipeline,
        "imageRecipeArn": recipe_arn,
        "infrastructureConfigurationArn": infrastructure_arn,
        "distributionConfigurationArn": distribution_arn,
        "imageTestsConfiguration": {"imageTestsEnabled": True, "timeoutMinutes": 60},
        "enhancedImageMetadataEnabled": True,
        "status": "ENABLED",
    }
    request["description"] = with_digest(
        "pitstop GPU image, built on demand by pitstop image build", _request_digest(request)
    )
    return request


def render_cloudformation(
    settings: Settings, options: ImageOptions, parent_image: str, components: list[Component]
) -> str:
    by_doc = {c.doc: c for c in components}
    params = component_parameters(settings, options)
    logs_bucket, logs_prefix = logs_location(settings, options)
    wheel_object = None
    source = _source(options)
    if source.kind == "s3":
        wheel_object = source.location[len("s3://") :]
    return (
        _environment()
        .get_template("cloudformation.yaml.j2")
        .render(
            settings=settings,
            options=options,
            parent_image=parent_image,
            supervisor=by_doc[SUPERVISOR_DOC],
            drfc=by_doc[DRFC_DOC],
            params=params,
            managed=[managed_component_arn(settings.region, m) for m in MANAGED_COMPONENTS],
            infrastructure=infrastructure_request(settings, options),
            distribution=distribution_request(settings, options),
            logs_bucket=logs_bucket,
            logs_prefix=logs_prefix,
            wheel_object=wheel_object,
            version=__version__,
        )
    )


def render_all(
    settings: Settings, options: ImageOptions, out: Path, unit_path: Path | None = None
) -> list[Path]:
    """Write every document under ``out``; return the paths written, in a stable order."""
    from pitstop.image_builder.options import resolve_parent

    parent = resolve_parent(options.parent, settings.region)
    unit_text = find_unit(unit_path).read_text(encoding="utf-8")
    components = render_components(options, unit_text)
    arns = {
        c.doc: component_arn(settings.region, PLACEHOLDER_ACCOUNT, c.name, options.version)
        for c in components
    }
    docs: dict[str, str] = {}
    for c in components:
        docs[f"components/{c.doc}.yaml"] = c.data
    for name, request in (
        ("image-recipe.json", recipe_request(settings, options, parent, arns, options.version)),
        ("infrastructure-configuration.json", infrastructure_request(settings, options)),
        ("distribution-configuration.json", distribution_request(settings, options)),
    ):
        docs[name] = json.dumps(request, indent=2, sort_keys=True) + "\n"
    docs["cloudformation.yaml"] = render_cloudformation(settings, options, parent, components)
    written = []
    try:
        for rel, text in docs.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as e:
        raise UsageError(f"{out}: cannot write: {e.strerror}") from None
    return written
