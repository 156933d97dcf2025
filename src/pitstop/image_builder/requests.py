"""What ``pitstop image render | build`` are asked: the image options the command line
names, where the pitstop wheel comes from, and a build run to its outcome. The CLI parses
and prints; the rules live here.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitstop.config import Settings
from pitstop.errors import UsageError
from pitstop.image_builder import build as b
from pitstop.image_builder import options as o


@dataclass(frozen=True)
class ImageRequest:
    """The command line's image options (None: the default of :class:`ImageOptions`)."""

    name: str = "pitstop"
    parent: str = "ubuntu-22.04"
    instance_types: list[str] | None = None
    instance_profile: str = "pitstop-image-builder"
    ssm_parameter: str = "/pitstop/ami-id"
    volume_size: int = 100
    subnet_id: str | None = None
    security_group_ids: list[str] | None = None
    drfc_ref: str | None = None
    simapp_version: str | None = None
    drfc_home: str = "/opt/deepracer-for-cloud"
    pitstop_source: str | None = None


def image_options(
    req: ImageRequest, region: str, source: o.PitstopSource | None = None, version: str = "1.0.0"
) -> o.ImageOptions:
    """The image's options; a bad parent is refused here, before any call."""
    kwargs: dict[str, Any] = {
        "name": req.name,
        "parent": req.parent,
        "version": version,
        "instance_profile": req.instance_profile,
        "ssm_parameter": req.ssm_parameter,
        "volume_size_gib": req.volume_size,
        "subnet_id": req.subnet_id,
        "security_group_ids": tuple(req.security_group_ids or ()),
        "drfc_home": req.drfc_home,
    }
    if req.instance_types:
        kwargs["instance_types"] = tuple(req.instance_types)
    if req.drfc_ref:
        kwargs["drfc_ref"] = req.drfc_ref
    if req.simapp_version:
        kwargs["simapp_version"] = req.simapp_version
    if source is not None:
        kwargs["source"] = source
    elif req.pitstop_source:
        kwargs["source"] = o.PitstopSource.parse(req.pitstop_source)
    options = o.ImageOptions(**kwargs)
    o.resolve_parent(options.parent, region)  # reject a bad parent before any call
    return options


@dataclass
class Rendered:
    files: list[str]
    wheel: Path | None = None  # the wheel to upload before deploying (None: a given source)
    source: o.PitstopSource | None = None


def render_image(
    settings: Settings,
    req: ImageRequest,
    out: Path,
    wheel: Path | None,
    unit: Path | None,
    version: str,
) -> Rendered:
    """Write the components, configurations and cloudformation.yaml into ``out`` (and the
    wheel to install into ``out/wheels``, unless ``--pitstop-source`` names one)."""
    from pitstop.image_builder.render import render_all

    image_options(req, settings.region, version=version)  # bad input first
    source: o.PitstopSource | None = None
    copied: Path | None = None
    if wheel is not None and req.pitstop_source:
        raise UsageError("--wheel and --pitstop-source: choose one")
    if not req.pitstop_source:
        wheels = out / "wheels"
        if wheel is not None:
            source = b.wheel_location(settings, wheel)
            wheels.mkdir(parents=True, exist_ok=True)
            copied = Path(shutil.copy2(wheel, wheels / wheel.name))
        else:
            copied = b.own_wheel(wheels)
            source = b.wheel_location(settings, copied)
    options = image_options(req, settings.region, source=source, version=version)
    files = [str(p) for p in render_all(settings, options, out, unit)]
    if copied is not None:
        files.append(str(copied))
    return Rendered(files, copied, source)


def published_source(
    s3: Any, settings: Settings, req: ImageRequest, wheel: Path | None
) -> o.PitstopSource | None:
    """The wheel ``build`` installs: ``wheel`` uploaded, else (no ``--pitstop-source``) a
    wheel of this checkout built and uploaded, never a package index by default."""
    if wheel is not None:
        return b.publish_wheel(s3, settings, wheel)
    if req.pitstop_source:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return b.publish_wheel(s3, settings, b.own_wheel(Path(tmp)))


@dataclass
class BuildOutcome:
    """What a build run did: its document, the line that says so (None: nothing to add),
    and why the image failed (None: it did not)."""

    doc: dict[str, Any]
    line: str | None = None
    error: str | None = None


def run_build(
    pipeline: Any, unit_text: str, *, clock: Any, start: bool, wait: bool, poll_interval_s: float
) -> BuildOutcome:
    """Ensure the pipeline, start a build and (``wait``) wait for its image."""
    options = pipeline.options
    plan = pipeline.ensure(unit_text)
    doc: dict[str, Any] = {
        "pipeline_arn": plan.pipeline_arn,
        "recipe_arn": plan.recipe_arn,
        "components": plan.component_arns,
        "changes": plan.changes,
        "pitstop_source": options.source.location if options.source else None,
    }
    if not start:
        return BuildOutcome(doc)
    image_arn = pipeline.start(plan.pipeline_arn)
    doc["image_arn"] = image_arn
    pipeline.echo(f"started {image_arn}")
    if not wait:
        return BuildOutcome(doc, "follow it with: pitstop image status " + image_arn)
    result = pipeline.wait(image_arn, clock, poll_interval_s=poll_interval_s)
    doc.update(state=result.status, ami_id=result.ami_id, reason=result.reason, logs=result.logs)
    if not result.ok:
        return BuildOutcome(
            doc, error=f"image {result.status}: {result.reason}; logs: {result.logs}"
        )
    return BuildOutcome(
        doc, f"AMI {result.ami_id} (id stored in SSM parameter {options.ssm_parameter})"
    )
