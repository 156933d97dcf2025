"""``pitstop image``: render, build, status and list the private GPU AMI (EC2 Image Builder).
The options' rules and the build's run live in ``pitstop.image_builder.requests``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pitstop.cli.common import (
    AS_LISTED,
    FLAG,
    JSON,
    SETTINGS,
    Sub,
    command,
    from_args,
    group,
    opt,
    out_dir,
    settings_from,
)
from pitstop.cli.output import Table, show, wants_json

IMAGE_OPTIONS = [
    opt("--region", help="AWS region (overrides the settings file)"),
    opt("--name", default="pitstop", help="names every resource (default pitstop)"),
    opt("--parent", default="ubuntu-22.04", help="parent image: ubuntu-22.04 (default), ubuntu-24.04, dlami, dlami-ubuntu-22.04, an AMI id, an Image Builder image ARN, or ssm:/PARAMETER"),
    opt("--instance-type", action="append", dest="instance_types", metavar="TYPE", help="build instance type (repeatable; default g4dn.xlarge)"),
    opt("--instance-profile", default="pitstop-image-builder", metavar="NAME"),
    opt("--ssm-parameter", default="/pitstop/ami-id", metavar="NAME"),
    opt("--volume-size", type=int, default=100, metavar="GIB"),
    opt("--subnet-id"),
    opt("--security-group-id", action="append", dest="security_group_ids"),
    opt("--drfc-ref", help="deepracer-for-cloud commit or tag to pin"),
    opt("--simapp-version", help="simapp image tag, e.g. 5.3.3-gpu"),
    opt("--drfc-home", default="/opt/deepracer-for-cloud", metavar="PATH"),
    opt("--pitstop-source", metavar="SOURCE", help="s3://BUCKET/KEY.whl or /PATH/ON/INSTANCE.whl (pitstop==VERSION installs whatever a package index serves under that name, as root: only if you mean it)"),
    opt("--unit", type=Path, metavar="FILE", help="the systemd unit to install"),
]  # fmt: skip
RENDER_OPTIONS = [
    opt("--out", required=True, metavar="DIR", help="output folder"),
    opt("--wheel", type=Path, metavar="FILE", help="the pitstop wheel to install (default: a wheel of this checkout, built into DIR/wheels); upload it to the s3:// key printed before deploying the stack"),
    opt("--component-version", default="1.0.0", metavar="X.Y.Z", help="version of the components and recipe in cloudformation.yaml (default 1.0.0); bump it when a component changes"),
]  # fmt: skip
BUILD_OPTIONS = [
    opt("--wheel", type=Path, metavar="FILE", help="upload and install this wheel"),
    opt("--wait", **FLAG, help="wait for the image, showing state and elapsed time"),
    opt("--poll-interval", type=float, default=30.0, metavar="S", help="seconds between polls"),
    opt("--no-start", **FLAG, help="only create or update the pipeline"),
]
NAME = opt("--name", default="pitstop", help="image name (default pitstop)")


def register(sub: Sub) -> None:
    cmds = group(
        sub, "image", "bake the supervisor and deepracer-for-cloud into a private GPU AMI",
        "Build the GPU image with EC2 Image Builder: AWSTOE components for the pitstop "
        "supervisor and deepracer-for-cloud, a recipe, infrastructure and distribution "
        "configurations, and a pipeline. The AMI stays private; its id goes to SSM.",
        dest="image_command",
    )  # fmt: skip
    command(
        cmds, "render", _render,
        "write the components, configurations and cloudformation.yaml to a folder",
        "Write DIR/components/*.yaml, the recipe, infrastructure and distribution "
        "configurations as JSON, and DIR/cloudformation.yaml (the whole pipeline as one stack).",
        [*RENDER_OPTIONS, *SETTINGS, *IMAGE_OPTIONS, JSON], **AS_LISTED,
    )  # fmt: skip
    command(
        cmds, "build", _build, "create or update the pipeline and start a build",
        "Create or update the components (a new version only when content changed), recipe, "
        "configurations and pipeline, then start a build. Without --wheel or --pitstop-source, "
        "a wheel of this checkout is built and uploaded to the bucket.",
        [*SETTINGS, *IMAGE_OPTIONS, *BUILD_OPTIONS, JSON], **AS_LISTED,
    )  # fmt: skip
    command(
        cmds, "status", _status, "state of the newest (or a given) image build",
        "The state of an image build (the newest, or IMAGE_ARN): building, testing, available "
        "or failed with the reason, and the AMI ids once available.",
        [opt("image_arn", nargs="?", metavar="IMAGE_ARN", help="an image build ARN"), *SETTINGS, NAME, JSON],
        **AS_LISTED,
    )  # fmt: skip
    command(
        cmds, "list", _list, "the images the pipeline has built, newest first",
        "Every image the pipeline has built, newest first, with its state and AMI.",
        [*SETTINGS, NAME, JSON], **AS_LISTED,
    )  # fmt: skip


def _request(args: Any) -> Any:
    from pitstop.image_builder.requests import ImageRequest

    return from_args(ImageRequest, args)


def _client(service: str, settings: Any) -> Any:
    import boto3

    return boto3.client(service, region_name=settings.region)


def _render(args: Any) -> int:
    from pitstop.image_builder.requests import render_image

    out_dir(args.out)
    settings = settings_from(args, region=args.region)
    out = render_image(
        settings, _request(args), Path(args.out), args.wheel, args.unit, args.component_version
    )
    show(args, {"out": args.out, "files": out.files}, "\n".join(out.files))
    if out.wheel is not None and out.source is not None:
        print(f"upload {out.wheel} to {out.source.location} before deploying", file=sys.stderr)
    return 0


def _build(args: Any) -> int:
    from pitstop.image_builder import build as b
    from pitstop.image_builder.render import find_unit
    from pitstop.image_builder.requests import image_options, published_source

    settings = settings_from(args, region=args.region)
    req = _request(args)
    image_options(
        req, settings.region
    )  # validate everything before touching S3 or building a wheel
    unit_text = find_unit(args.unit).read_text(encoding="utf-8")
    source = published_source(_client("s3", settings), settings, req, args.wheel)
    options = image_options(req, settings.region, source=source)
    # with --json the progress goes to stderr: stdout holds the one document
    log = (lambda line: print(line, file=sys.stderr)) if wants_json(args) else print
    pipeline = b.ImagePipeline(_client("imagebuilder", settings), settings, options, echo=log)
    return build_and_report(
        pipeline,
        unit_text,
        clock=b.SystemClock(),
        start=not args.no_start,
        wait=args.wait,
        poll_interval_s=args.poll_interval,
        json_out=wants_json(args),
    )


def build_and_report(
    pipeline: Any,
    unit_text: str,
    *,
    clock: Any,
    start: bool = True,
    wait: bool = False,
    poll_interval_s: float = 30.0,
    json_out: bool = False,
) -> int:
    """Ensure, start and (optionally) wait; print the outcome; return the exit code.

    The pipeline (its clients) and the clock come in as arguments, so tests drive this with
    botocore's Stubber and a fake clock.
    """
    from pitstop.image_builder.requests import run_build

    run = run_build(
        pipeline, unit_text, clock=clock, start=start, wait=wait, poll_interval_s=poll_interval_s
    )
    show(json_out, run.doc, run.line)
    if run.error is not None:
        print(f"pitstop: error: {run.error}", file=sys.stderr)
        return 1
    return 0


def _pipeline(args: Any) -> Any:
    from pitstop.image_builder.build import ImagePipeline
    from pitstop.image_builder.options import ImageOptions

    settings = settings_from(args)
    return ImagePipeline(_client("imagebuilder", settings), settings, ImageOptions(name=args.name))


def _status(args: Any) -> int:
    row = _pipeline(args).status(args.image_arn)
    keys = ("arn", "version", "state", "reason", "ami_id", "created")
    show(args, row, *(f"{k:<8} {row[k] if row[k] is not None else '-'}" for k in keys))
    return 0


def _list(args: Any) -> int:
    rows = _pipeline(args).images()
    table = [(r["version"], r["state"], r["ami_id"], r["created"]) for r in rows]
    show(args, rows, Table(["VERSION", "STATE", "AMI", "CREATED"], table))
    return 0
