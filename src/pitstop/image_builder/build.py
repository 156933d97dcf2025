"""Drive EC2 Image Builder: create-or-update everything idempotently, start, wait, report.

A component or recipe gets a new semantic version only when its content changed: the
content digest travels in the component's description and in the recipe's tags, and a
version whose digest matches is reused. Unversioned resources (infrastructure and
distribution configurations, the pipeline) carry the digest of their request in their
description and are updated only when it differs.

Every side effect comes in through arguments: the ``imagebuilder`` (and ``s3``) clients, a
``Clock`` for the wait loop, and ``echo`` for progress lines, so tests run against
botocore's Stubber without sleeping. Library errors become ``PitstopError`` here.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pitstop.config import Settings
from pitstop.errors import PitstopError, UsageError
from pitstop.image_builder.options import (
    ImageOptions,
    PitstopSource,
    bump_patch,
    parse_version,
    resolve_parent,
)
from pitstop.image_builder.render import (
    DIGEST_TAG,
    Component,
    digest_of,
    distribution_request,
    infrastructure_request,
    logs_location,
    pipeline_request,
    recipe_request,
    render_components,
)
from pitstop.store.layout import Layout

# Image states (get_image state.status) after which nothing more will happen.
SUCCEEDED = "AVAILABLE"
FAILED_STATES = frozenset({"FAILED", "CANCELLED", "DELETED", "DISABLED", "DEPRECATED"})


class Clock(Protocol):
    """Monotonic time and sleeping: the wait loop's only contact with real time."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _call(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    """One API call; botocore's errors become one-line ``PitstopError``s."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response: dict[str, Any] = getattr(client, operation)(**kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        raise PitstopError(
            f"{operation}: {err.get('Code', 'error')}: {err.get('Message', e)}"
        ) from e
    except BotoCoreError as e:
        raise PitstopError(f"{operation}: {e}") from e
    return response


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        response = _call(client, operation, **kwargs, **({"nextToken": token} if token else {}))
        yield from response.get(key, [])
        token = response.get("nextToken")
        if not token:
            return


def _by_name(name: str) -> list[dict[str, Any]]:
    return [{"name": "name", "values": [name]}]


def _version_of(arn: str) -> str:
    """``.../component/NAME/1.2.3[/BUILD]`` -> ``1.2.3``."""
    parts = arn.split("/")
    return parts[2] if len(parts) > 2 else "0.0.0"


def _version_arn(arn: str) -> str:
    """A build version ARN (``.../1.2.3/1``) -> its version ARN (``.../1.2.3``)."""
    parts = arn.split("/")
    return "/".join(parts[:3]) if len(parts) > 3 else arn


def _token(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


def _next_version(existing: list[str], first: str) -> str:
    if not existing:
        return first
    return bump_patch(max(existing, key=parse_version))


@dataclass
class Plan:
    """What ``ensure`` found or made: ARNs, and a line per change (empty when nothing changed)."""

    component_arns: dict[str, str] = field(default_factory=dict)
    recipe_arn: str = ""
    infrastructure_arn: str = ""
    distribution_arn: str = ""
    pipeline_arn: str = ""
    changes: list[str] = field(default_factory=list)


class ImagePipeline:
    """The pitstop image pipeline in one account and region, through an ``imagebuilder`` client."""

    def __init__(
        self,
        client: Any,
        settings: Settings,
        options: ImageOptions,
        *,
        echo: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.options = options
        self.echo = echo

    # -- create or update -------------------------------------------------------------

    def ensure(self, unit_text: str) -> Plan:
        """Make the account's resources match the rendered documents; return what changed."""
        parent = resolve_parent(self.options.parent, self.settings.region)
        plan = Plan()
        for component in render_components(self.options, unit_text):
            plan.component_arns[component.doc] = self._ensure_component(component, plan)
        plan.recipe_arn = self._ensure_recipe(parent, plan)
        plan.infrastructure_arn = self._ensure_config(
            "infrastructure_configuration",
            "infrastructureConfigurationSummaryList",
            infrastructure_request(self.settings, self.options),
            plan,
        )
        plan.distribution_arn = self._ensure_config(
            "distribution_configuration",
            "distributionConfigurationSummaryList",
            distribution_request(self.settings, self.options),
            plan,
        )
        plan.pipeline_arn = self._ensure_config(
            "image_pipeline",
            "imagePipelineList",
            pipeline_request(
                self.options, plan.recipe_arn, plan.infrastructure_arn, plan.distribution_arn
            ),
            plan,
        )
        return plan

    def _ensure_component(self, component: Component, plan: Plan) -> str:
        versions = list(
            _pages(
                self.client,
                "list_components",
                "componentVersionList",
                owner="Self",
                filters=_by_name(component.name),
                byName=True,
            )
        )
        for v in versions:
            if digest_of(v.get("description")) == component.digest:
                self.echo(f"component {component.name} {v['version']}: unchanged")
                return _version_arn(str(v["arn"]))
        version = _next_version([str(v["version"]) for v in versions], self.options.version)
        response = _call(
            self.client,
            "create_component",
            name=component.name,
            semanticVersion=version,
            description=component.api_description,
            changeDescription=f"content sha256:{component.digest}",
            platform="Linux",
            data=component.data,
            tags={DIGEST_TAG: component.digest},
            clientToken=_token(component.name, version, component.digest),
        )
        plan.changes.append(f"component {component.name} {version}: created")
        self.echo(plan.changes[-1])
        return _version_arn(str(response["componentBuildVersionArn"]))

    def _ensure_recipe(self, parent: str, plan: Plan) -> str:
        request = recipe_request(
            self.settings, self.options, parent, plan.component_arns, self.options.version
        )
        digest = request["tags"][DIGEST_TAG]
        recipes = list(
            _pages(
                self.client,
                "list_image_recipes",
                "imageRecipeSummaryList",
                owner="Self",
                filters=_by_name(self.options.pipeline),
            )
        )
        for r in recipes:
            if (r.get("tags") or {}).get(DIGEST_TAG) == digest:
                self.echo(f"recipe {self.options.pipeline} {_version_of(r['arn'])}: unchanged")
                return str(r["arn"])
        version = _next_version([_version_of(str(r["arn"])) for r in recipes], self.options.version)
        request["semanticVersion"] = version
        response = _call(
            self.client,
            "create_image_recipe",
            **request,
            clientToken=_token(self.options.pipeline, version, digest),
        )
        plan.changes.append(f"recipe {self.options.pipeline} {version}: created")
        self.echo(plan.changes[-1])
        return str(response["imageRecipeArn"])

    def _ensure_config(self, kind: str, list_key: str, request: dict[str, Any], plan: Plan) -> str:
        """Create, update or keep one unversioned resource (configurations, the pipeline)."""
        label = kind.replace("_", " ")
        arn_key = "".join(w.capitalize() for w in kind.split("_"))
        arn_key = arn_key[0].lower() + arn_key[1:] + "Arn"
        digest = digest_of(request["description"]) or ""
        existing = list(
            _pages(self.client, f"list_{kind}s", list_key, filters=_by_name(request["name"]))
        )
        if not existing:
            response = _call(
                self.client, f"create_{kind}", **request, clientToken=_token(kind, digest)
            )
            plan.changes.append(f"{label} {request['name']}: created")
            self.echo(plan.changes[-1])
            return str(response[arn_key])
        arn = str(existing[0]["arn"])
        if digest_of(existing[0].get("description")) == digest:
            self.echo(f"{label} {request['name']}: unchanged")
            return arn
        update = {k: v for k, v in request.items() if k not in ("name", "tags")}
        _call(
            self.client,
            f"update_{kind}",
            **{arn_key: arn},
            **update,
            clientToken=_token(kind, arn, digest),
        )
        plan.changes.append(f"{label} {request['name']}: updated")
        self.echo(plan.changes[-1])
        return arn

    # -- run and watch ----------------------------------------------------------------

    def start(self, pipeline_arn: str, client_token: str | None = None) -> str:
        response = _call(
            self.client,
            "start_image_pipeline_execution",
            imagePipelineArn=pipeline_arn,
            clientToken=client_token or uuid.uuid4().hex,
        )
        return str(response["imageBuildVersionArn"])

    def wait(
        self,
        image_arn: str,
        clock: Clock,
        *,
        poll_interval_s: float = 30.0,
        timeout_s: float = 4 * 3600.0,
    ) -> WaitResult:
        """Poll ``get_image`` until the image is AVAILABLE or failed; echo state and elapsed."""
        started = clock.monotonic()
        while True:
            image = _call(self.client, "get_image", imageBuildVersionArn=image_arn)["image"]
            state = image.get("state") or {}
            status = str(state.get("status", "UNKNOWN"))
            elapsed = clock.monotonic() - started
            self.echo(f"{format_elapsed(elapsed)}  {status}")
            if status == SUCCEEDED:
                return WaitResult(
                    image_arn, status, elapsed, ami_id=_ami_of(image, self.settings.region)
                )
            if status in FAILED_STATES:
                return WaitResult(
                    image_arn,
                    status,
                    elapsed,
                    reason=str(state.get("reason") or "no reason given"),
                    logs=self.logs_hint(),
                )
            if elapsed >= timeout_s:
                raise PitstopError(
                    f"image {image_arn} still {status} after {format_elapsed(elapsed)}; "
                    "check later with pitstop image status"
                )
            clock.sleep(poll_interval_s)

    def logs_hint(self) -> str:
        bucket, prefix = logs_location(self.settings, self.options)
        return (
            f"s3://{bucket}/{prefix}/ and CloudWatch Logs group "
            f"/aws/imagebuilder/{self.options.pipeline}"
        )

    # -- status and list --------------------------------------------------------------

    def pipeline_arn(self) -> str:
        pipelines = list(
            _pages(
                self.client,
                "list_image_pipelines",
                "imagePipelineList",
                filters=_by_name(self.options.pipeline),
            )
        )
        if not pipelines:
            raise PitstopError(
                f"no image pipeline {self.options.pipeline!r} in {self.settings.region}; "
                "run pitstop image build first"
            )
        return str(pipelines[0]["arn"])

    def images(self) -> list[dict[str, Any]]:
        """The pipeline's images, newest first, as plain rows."""
        summaries = _pages(
            self.client,
            "list_image_pipeline_images",
            "imageSummaryList",
            imagePipelineArn=self.pipeline_arn(),
        )
        rows = [self._row(s) for s in summaries]
        return sorted(rows, key=lambda r: str(r["created"] or ""), reverse=True)

    def status(self, image_arn: str | None = None) -> dict[str, Any]:
        if image_arn:
            image = _call(self.client, "get_image", imageBuildVersionArn=image_arn)["image"]
            return self._row(image)
        images = self.images()
        if not images:
            raise PitstopError(f"pipeline {self.options.pipeline!r} has not built an image yet")
        return images[0]

    def _row(self, image: dict[str, Any]) -> dict[str, Any]:
        state = image.get("state") or {}
        created = image.get("dateCreated")
        return {
            "arn": image.get("arn"),
            "version": image.get("version"),
            "state": state.get("status"),
            "reason": state.get("reason"),
            "ami_id": _ami_of(image, self.settings.region),
            "created": str(created.isoformat())
            if created is not None and hasattr(created, "isoformat")
            else created,
        }


@dataclass(frozen=True)
class WaitResult:
    image_arn: str
    status: str
    elapsed_s: float
    ami_id: str | None = None
    reason: str | None = None
    logs: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED


def _ami_of(image: dict[str, Any], region: str) -> str | None:
    amis = (image.get("outputResources") or {}).get("amis") or []
    for ami in amis:
        if ami.get("region") == region:
            return str(ami.get("image"))
    return str(amis[0].get("image")) if amis else None


def format_elapsed(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


# -- the pinned pitstop source -----------------------------------------------------------


def wheel_key(settings: Settings, wheel: Path) -> str:
    """Where a wheel goes in S3: its content hash in the key, so the component pins it."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()[:16]
    return Layout(settings.prefix).wheel(digest, wheel.name)


def wheel_location(settings: Settings, wheel: Path) -> PitstopSource:
    """Where ``publish_wheel`` puts ``wheel`` (its content hash in the key); nothing is sent."""
    if not wheel.is_file() or wheel.suffix != ".whl":
        raise UsageError(f"{wheel}: not a wheel file")
    return PitstopSource("s3", f"s3://{settings.bucket}/{wheel_key(settings, wheel)}")


def installed_from() -> Path | None:
    """Where a non-editable install came from, if it is still there: the checkout (``pip
    install .``) or the wheel file pip recorded (its ``direct_url.json``, PEP 610)."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        text = metadata.distribution("pitstop").read_text("direct_url.json")
        doc = json.loads(text) if text else {}
    except (metadata.PackageNotFoundError, ValueError):
        return None
    url = urlparse(str(doc.get("url", "")))
    if url.scheme != "file":
        return None
    path = Path(unquote(url.path))
    if "dir_info" in doc and (path / "pyproject.toml").is_file():
        return path
    if path.suffix == ".whl" and path.is_file():
        return path
    return None


def checkout_root() -> Path:
    """The source checkout to build a wheel of; a ``UsageError`` when pitstop runs from none."""
    root = repo_root()
    if root is None:
        origin = installed_from()
        root = origin if origin is not None and origin.is_dir() else None
    if root is None:
        raise UsageError(
            "pitstop is not running from a source checkout, so there is no wheel to build: "
            "pass --wheel FILE (a pitstop wheel) or --pitstop-source s3://BUCKET/KEY.whl"
        )
    return root


def own_wheel(out: Path) -> Path:
    """A wheel of the pitstop that runs, in ``out``: built from its checkout (an editable
    install, or the clone ``pip install .`` read), else a copy of the wheel it was installed
    from; a ``UsageError`` naming --wheel when neither is there."""
    origin = installed_from() if repo_root() is None else None
    if origin is not None and origin.is_file():
        out.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(origin, out / origin.name))
    return build_wheel(checkout_root(), out)


def publish_wheel(s3: Any, settings: Settings, wheel: Path) -> PitstopSource:
    """Upload ``wheel`` unless the same content is already there; return the S3 source."""
    if not wheel.is_file() or wheel.suffix != ".whl":
        raise UsageError(f"{wheel}: not a wheel file")
    key = wheel_key(settings, wheel)
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=settings.bucket, Key=key)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise PitstopError(f"s3://{settings.bucket}/{key}: {e}") from e
        _call(s3, "put_object", Bucket=settings.bucket, Key=key, Body=wheel.read_bytes())
    return PitstopSource("s3", f"s3://{settings.bucket}/{key}")


def repo_root() -> Path | None:
    """The source checkout pitstop runs from, if any (an editable install)."""
    import pitstop

    root = Path(pitstop.__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def build_wheel(root: Path, out: Path) -> Path:
    """``pip wheel`` the checkout at ``root`` into ``out``; return the wheel."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(root)],
        capture_output=True,
        text=True,
    )
    wheels = sorted(out.glob("pitstop-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no wheel produced"])[-1]
        raise PitstopError(f"building a wheel of {root} failed: {last}")
    return wheels[-1]
