"""``pitstop image``: render, build, status and list the private GPU AMI (EC2 Image Builder)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from pitstop.cli.common import add_settings_flags, settings_from
from pitstop.cli.output import add_json_flag, print_json, print_table
from pitstop.errors import UsageError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "image",
        help="bake the supervisor and deepracer-for-cloud into a private GPU AMI",
        description=(
            "Build the GPU image with EC2 Image Builder: AWSTOE components for the pitstop "
            "supervisor and deepracer-for-cloud, a recipe, infrastructure and distribution "
            "configurations, and a pipeline. The AMI stays private; its id goes to SSM."
        ),
    )
    p.set_defaults(group_parser=p)
    cmds = p.add_subparsers(dest="image_command", metavar="COMMAND")

    render = cmds.add_parser(
        "render",
        help="write the components, configurations and cloudformation.yaml to a folder",
        description="Write DIR/components/*.yaml, the recipe, infrastructure and distribution "
        "configurations as JSON, and DIR/cloudformation.yaml (the whole pipeline as one stack).",
    )
    render.add_argument("--out", required=True, metavar="DIR", help="output folder")
    render.add_argument(
        "--wheel",
        type=Path,
        metavar="FILE",
        help="the pitstop wheel to install (default: a wheel of this checkout, built into "
        "DIR/wheels); upload it to the s3:// key printed before deploying the stack",
    )
    render.add_argument(
        "--component-version",
        default="1.0.0",
        metavar="X.Y.Z",
        help="version of the components and recipe in cloudformation.yaml (default 1.0.0); "
        "bump it when a component changes",
    )
    _image_flags(render)
    add_json_flag(render)
    render.set_defaults(func=_render)

    build = cmds.add_parser(
        "build",
        help="create or update the pipeline and start a build",
        description="Create or update the components (a new version only when content changed), "
        "recipe, configurations and pipeline, then start a build. Without --wheel or "
        "--pitstop-source, a wheel of this checkout is built and uploaded to the bucket.",
    )
    _image_flags(build)
    build.add_argument("--wheel", type=Path, metavar="FILE", help="upload and install this wheel")
    build.add_argument(
        "--wait", action="store_true", help="wait for the image, showing state and elapsed time"
    )
    build.add_argument(
        "--poll-interval", type=float, default=30.0, metavar="S", help="seconds between polls"
    )
    build.add_argument("--no-start", action="store_true", help="only create or update the pipeline")
    add_json_flag(build)
    build.set_defaults(func=_build)

    status = cmds.add_parser(
        "status",
        help="state of the newest (or a given) image build",
        description="The state of an image build (the newest, or IMAGE_ARN): building, "
        "testing, available or failed with the reason, and the AMI ids once available.",
    )
    status.add_argument("image_arn", nargs="?", metavar="IMAGE_ARN", help="an image build ARN")
    add_settings_flags(status)
    status.add_argument("--name", default="pitstop", help="image name (default pitstop)")
    add_json_flag(status)
    status.set_defaults(func=_status)

    listing = cmds.add_parser(
        "list",
        help="the images the pipeline has built, newest first",
        description="Every image the pipeline has built, newest first, with its state and AMI.",
    )
    add_settings_flags(listing)
    listing.add_argument("--name", default="pitstop", help="image name (default pitstop)")
    add_json_flag(listing)
    listing.set_defaults(func=_list)


def _image_flags(p: argparse.ArgumentParser) -> None:
    add_settings_flags(p)
    p.add_argument("--region", help="AWS region (overrides the settings file)")
    p.add_argument("--name", default="pitstop", help="names every resource (default pitstop)")
    p.add_argument(
        "--parent",
        default="ubuntu-22.04",
        help="parent image: ubuntu-22.04 (default), ubuntu-24.04, dlami, dlami-ubuntu-22.04, "
        "an AMI id, an Image Builder image ARN, or ssm:/PARAMETER",
    )
    p.add_argument(
        "--instance-type",
        action="append",
        dest="instance_types",
        metavar="TYPE",
        help="build instance type (repeatable; default g4dn.xlarge)",
    )
    p.add_argument("--instance-profile", default="pitstop-image-builder", metavar="NAME")
    p.add_argument("--ssm-parameter", default="/pitstop/ami-id", metavar="NAME")
    p.add_argument("--volume-size", type=int, default=100, metavar="GIB")
    p.add_argument("--subnet-id")
    p.add_argument("--security-group-id", action="append", dest="security_group_ids")
    p.add_argument("--drfc-ref", help="deepracer-for-cloud commit or tag to pin")
    p.add_argument("--simapp-version", help="simapp image tag, e.g. 5.3.3-gpu")
    p.add_argument("--drfc-home", default="/opt/deepracer-for-cloud", metavar="PATH")
    p.add_argument(
        "--pitstop-source",
        metavar="SOURCE",
        help="s3://BUCKET/KEY.whl or /PATH/ON/INSTANCE.whl (pitstop==VERSION installs whatever a "
        "package index serves under that name, as root: only if you mean it)",
    )
    p.add_argument("--unit", type=Path, metavar="FILE", help="the systemd unit to install")


def _options(args: Any, settings: Any, source: Any = None, version: str = "1.0.0") -> Any:
    from pitstop.image_builder import options as o

    kwargs: dict[str, Any] = {
        "name": args.name,
        "parent": args.parent,
        "version": version,
        "instance_profile": args.instance_profile,
        "ssm_parameter": args.ssm_parameter,
        "volume_size_gib": args.volume_size,
        "subnet_id": args.subnet_id,
        "security_group_ids": tuple(args.security_group_ids or ()),
        "drfc_home": args.drfc_home,
    }
    if args.instance_types:
        kwargs["instance_types"] = tuple(args.instance_types)
    if args.drfc_ref:
        kwargs["drfc_ref"] = args.drfc_ref
    if args.simapp_version:
        kwargs["simapp_version"] = args.simapp_version
    if source is not None:
        kwargs["source"] = source
    elif args.pitstop_source:
        kwargs["source"] = o.PitstopSource.parse(args.pitstop_source)
    options = o.ImageOptions(**kwargs)
    o.resolve_parent(options.parent, settings.region)  # reject a bad parent before any call
    return options


def _render(args: Any) -> int:
    import shutil

    from pitstop.image_builder import build as b
    from pitstop.image_builder.options import PitstopSource
    from pitstop.image_builder.render import render_all

    settings = settings_from(args, region=args.region)
    _options(args, settings, version=args.component_version)  # bad input first
    out = Path(args.out)
    source: PitstopSource | None = None
    wheel: Path | None = None
    if args.wheel is not None and args.pitstop_source:
        raise UsageError("--wheel and --pitstop-source: choose one")
    if not args.pitstop_source:
        wheels = out / "wheels"
        if args.wheel is not None:
            source = b.wheel_location(settings, args.wheel)
            wheels.mkdir(parents=True, exist_ok=True)
            wheel = Path(shutil.copy2(args.wheel, wheels / args.wheel.name))
        else:
            wheel = b.build_wheel(b.checkout_root(), wheels)
            source = b.wheel_location(settings, wheel)
    options = _options(args, settings, source=source, version=args.component_version)
    paths = [str(p) for p in render_all(settings, options, out, args.unit)]
    if wheel is not None:
        paths.append(str(wheel))
    if args.json:
        print_json({"out": args.out, "files": paths})
    else:
        print("\n".join(paths))
    if wheel is not None and source is not None:
        print(f"upload {wheel} to {source.location} before deploying", file=sys.stderr)
    return 0


def _client(service: str, settings: Any) -> Any:
    import boto3

    return boto3.client(service, region_name=settings.region)


def _build(args: Any) -> int:
    from pitstop.image_builder import build as b
    from pitstop.image_builder.render import find_unit

    settings = settings_from(args, region=args.region)
    _options(args, settings)  # validate everything before touching S3 or building a wheel
    unit_text = find_unit(args.unit).read_text(encoding="utf-8")
    source = None
    if args.wheel is not None:
        source = b.publish_wheel(_client("s3", settings), settings, args.wheel)
    elif not args.pitstop_source:
        root = b.checkout_root()  # never a package index by default: a wheel of this code
        with tempfile.TemporaryDirectory() as tmp:
            wheel = b.build_wheel(root, Path(tmp))
            source = b.publish_wheel(_client("s3", settings), settings, wheel)
    options = _options(args, settings, source=source)
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    pipeline = b.ImagePipeline(_client("imagebuilder", settings), settings, options, echo=log)
    return build_and_report(
        pipeline,
        unit_text,
        clock=b.SystemClock(),
        start=not args.no_start,
        wait=args.wait,
        poll_interval_s=args.poll_interval,
        json_out=args.json,
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
        if json_out:
            print_json(doc)
        return 0
    image_arn = pipeline.start(plan.pipeline_arn)
    doc["image_arn"] = image_arn
    pipeline.echo(f"started {image_arn}")
    if not wait:
        if json_out:
            print_json(doc)
        else:
            print("follow it with: pitstop image status " + image_arn)
        return 0
    result = pipeline.wait(image_arn, clock, poll_interval_s=poll_interval_s)
    doc.update(state=result.status, ami_id=result.ami_id, reason=result.reason, logs=result.logs)
    if json_out:
        print_json(doc)
    elif result.ok:
        print(f"AMI {result.ami_id} (id stored in SSM parameter {options.ssm_parameter})")
    if not result.ok:
        print(
            f"pitstop: error: image {result.status}: {result.reason}; logs: {result.logs}",
            file=sys.stderr,
        )
        return 1
    return 0


def _pipeline(args: Any) -> Any:
    from pitstop.image_builder.build import ImagePipeline
    from pitstop.image_builder.options import ImageOptions

    settings = settings_from(args)
    return ImagePipeline(_client("imagebuilder", settings), settings, ImageOptions(name=args.name))


def _status(args: Any) -> int:
    row = _pipeline(args).status(args.image_arn)
    if args.json:
        print_json(row)
    else:
        for key in ("arn", "version", "state", "reason", "ami_id", "created"):
            print(f"{key:<8} {row[key] if row[key] is not None else '-'}")
    return 0


def _list(args: Any) -> int:
    rows = _pipeline(args).images()
    if args.json:
        print_json(rows)
    else:
        print_table(
            ["VERSION", "STATE", "AMI", "CREATED"],
            [(r["version"], r["state"], r["ami_id"], r["created"]) for r in rows],
        )
    return 0
