"""What an image is made of, and the checks that reject bad input before any AWS call.

Everything here is pure: parent image forms, semantic versions, the pinned pitstop source.
Problems raise ``UsageError`` (exit 2) with one line that names the bad value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from pitstop.errors import UsageError

DEFAULT_PARENT = "ubuntu-22.04"
DEFAULT_DRFC_REPOSITORY = "https://github.com/aws-deepracer-community/deepracer-for-cloud.git"
# pinned: a new DRfC or simapp release is adopted on purpose, by changing these (or the flags).
# v6.0.4: the latest release; its bin/prepare.sh installs on Ubuntu 22.04 and 24.04, and
# tests/drfc runs pitstop through its real scripts (as through v5.3.3's)
DEFAULT_DRFC_REF = "v6.0.4"
DEFAULT_SIMAPP_VERSION = "6.0.4-gpu"
DEFAULT_SSM_PARAMETER = "/pitstop/ami-id"
DEFAULT_INSTANCE_PROFILE = "pitstop-image-builder"

_SEMVER = re.compile(r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$")
_AMI_ID = re.compile(r"^ami-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
_IMAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:(?:[0-9]{12}|aws):image/[a-z0-9-_]+/"
    r"(?:[0-9]+|x)\.(?:[0-9]+|x)\.(?:[0-9]+|x)(?:/[0-9]+)?$"
)
_SSM_NAME = re.compile(r"^/?[a-zA-Z0-9_.\-/]{1,1011}$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_REF = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")

# Managed Ubuntu parents (Image Builder resolves x.x.x to the newest build at each run).
_MANAGED_UBUNTU = {
    "ubuntu-22.04": "ubuntu-server-22-lts-x86",
    "ubuntu-24.04": "ubuntu-server-24-lts-x86",
}
# Deep Learning Base AMI (NVIDIA driver preinstalled), resolved at build time through SSM.
_DLAMI = {
    "dlami": "ubuntu-22.04",
    "dlami-ubuntu-22.04": "ubuntu-22.04",
    "dlami-ubuntu-24.04": "ubuntu-24.04",
}
# Ubuntu releases each DRfC major's bin/prepare.sh installs on (it exits "Unsupported
# distribution" / "not a supported version" on any other)
DRFC_UBUNTU = {5: ("20.04", "22.04"), 6: ("22.04", "24.04", "24.10", "25.04", "25.10")}
PARENT_FORMS = (
    "ubuntu-22.04 (default), ubuntu-24.04, dlami, dlami-ubuntu-22.04, dlami-ubuntu-24.04, "
    "an AMI id (ami-...), an Image Builder image ARN, or ssm:/PARAMETER"
)


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.2.3"`` -> ``(1, 2, 3)``; anything else is a ``UsageError``."""
    m = _SEMVER.match(text.strip())
    if not m:
        raise UsageError(f"bad semantic version {text!r}: expected MAJOR.MINOR.PATCH, e.g. 1.0.0")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def bump_patch(version: str) -> str:
    major, minor, patch = parse_version(version)
    return f"{major}.{minor}.{patch + 1}"


def resolve_parent(form: str, region: str) -> str:
    """The recipe's ``parentImage`` for a parent form the user typed."""
    form = form.strip()
    if form in _MANAGED_UBUNTU:
        return f"arn:aws:imagebuilder:{region}:aws:image/{_MANAGED_UBUNTU[form]}/x.x.x"
    if form in _DLAMI:
        os_name = _DLAMI[form]
        return (
            "ssm:/aws/service/deeplearning/ami/x86_64/"
            f"base-oss-nvidia-driver-gpu-{os_name}/latest/ami-id"
        )
    if _AMI_ID.match(form) or _IMAGE_ARN.match(form):
        return form
    if form.startswith("ssm:") and _SSM_NAME.match(form[4:]):
        return form
    raise UsageError(f"unknown parent image {form!r}: use {PARENT_FORMS}")


def parent_ubuntu(form: str) -> str | None:
    """The Ubuntu release of a parent form, when the form says it (AMI ids and ARNs do not)."""
    form = form.strip()
    if form in _MANAGED_UBUNTU:
        return form.split("-", 1)[1]
    if form in _DLAMI:
        return _DLAMI[form].split("-", 1)[1]
    return None


def drfc_major(ref: str) -> int | None:
    """5 for ``v5.3.3``; None for a commit or a branch (nothing to check against)."""
    m = re.match(r"^v?(\d+)\.\d+(?:\.\d+)?$", ref.strip())
    return int(m.group(1)) if m else None


def check_parent_drfc(parent: str, drfc_ref: str) -> None:
    """Refuse a parent image whose Ubuntu the pinned DRfC's bin/prepare.sh cannot install on."""
    ubuntu, major = parent_ubuntu(parent), drfc_major(drfc_ref)
    if ubuntu is None or major is None or major not in DRFC_UBUNTU:
        return
    supported = DRFC_UBUNTU[major]
    if ubuntu in supported:
        return
    hints = [f"--parent {f}" for f in _MANAGED_UBUNTU if f.split("-", 1)[1] in supported]
    if ubuntu in DRFC_UBUNTU.get(drfc_major(DEFAULT_DRFC_REF) or 0, ()):
        hints.append(f"--drfc-ref {DEFAULT_DRFC_REF}")
    raise UsageError(
        f"parent {parent} is Ubuntu {ubuntu}, but DRfC {drfc_ref}'s bin/prepare.sh installs on "
        f"Ubuntu {', '.join(supported)} only: use {' or '.join(hints)}"
    )


@dataclass(frozen=True)
class PitstopSource:
    """Where the build instance gets pitstop from: pinned, so a rebuild installs the same code.

    ``s3``: a wheel of this checkout that ``image build`` uploaded (the key holds its hash),
    the default; ``path``: a wheel already on the build instance (tests, custom parents);
    ``pypi``: a pinned requirement (``pitstop==VERSION``), only when asked for: it installs,
    as root, whatever a package index serves under that name.
    """

    kind: Literal["s3", "pypi", "path"]
    location: str

    @property
    def filename(self) -> str:
        return PurePosixPath(self.location.split("://", 1)[-1]).name

    @property
    def requirement(self) -> str:
        """The argument of ``pip install`` (AWSTOE parameters stay unquoted-safe)."""
        if self.kind == "s3":
            return f'"{{{{ InstallPrefix }}}}/wheels/{self.filename}"'
        return f"'{self.location}'"

    @classmethod
    def parse(cls, text: str) -> PitstopSource:
        text = text.strip()
        if text.startswith("s3://"):
            bucket_key = text[5:]
            if "/" not in bucket_key or not text.endswith(".whl"):
                raise UsageError(f"pitstop source {text!r}: an s3:// source must be a .whl object")
            return cls("s3", text)
        if text.startswith("/") and text.endswith(".whl"):
            return cls("path", text)
        if re.match(r"^pitstop==[0-9][0-9A-Za-z.+-]*$", text):
            return cls("pypi", text)
        raise UsageError(
            f"pitstop source {text!r}: use s3://BUCKET/KEY.whl, /ABSOLUTE/PATH.whl or pitstop==VERSION"
        )


@dataclass(frozen=True)
class ImageOptions:
    """Everything about the image that is not a pitstop setting."""

    name: str = "pitstop"
    parent: str = DEFAULT_PARENT
    version: str = "1.0.0"
    instance_types: tuple[str, ...] = ("g4dn.xlarge",)
    instance_profile: str = DEFAULT_INSTANCE_PROFILE
    ssm_parameter: str = DEFAULT_SSM_PARAMETER
    volume_size_gib: int = 100
    subnet_id: str | None = None
    security_group_ids: tuple[str, ...] = ()
    drfc_repository: str = DEFAULT_DRFC_REPOSITORY
    drfc_ref: str = DEFAULT_DRFC_REF
    simapp_version: str = DEFAULT_SIMAPP_VERSION
    drfc_home: str = "/opt/deepracer-for-cloud"
    source: PitstopSource | None = None  # None: not chosen yet (render/build choose it)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UsageError(
                f"image name {self.name!r}: lower-case letters, digits and '-', at most 40"
            )
        parse_version(self.version)
        if not self.instance_types or not all(
            re.match(r"^[a-z0-9]+[a-z0-9-]*\.[a-z0-9]+$", t) for t in self.instance_types
        ):
            raise UsageError(f"instance types {list(self.instance_types)!r}: e.g. g4dn.xlarge")
        if not _SSM_NAME.match(self.ssm_parameter) or not self.ssm_parameter.startswith("/"):
            raise UsageError(f"SSM parameter {self.ssm_parameter!r}: e.g. /pitstop/ami-id")
        if not 30 <= self.volume_size_gib <= 2000:
            raise UsageError(
                f"root volume {self.volume_size_gib} GiB: should be between 30 and 2000"
            )
        for label, ref in (("DRfC ref", self.drfc_ref), ("simapp version", self.simapp_version)):
            if not _REF.match(ref):
                raise UsageError(f"{label} {ref!r}: letters, digits, '.', '_', '-', '/' only")
        if not self.drfc_home.startswith("/") or " " in self.drfc_home:
            raise UsageError(f"DRfC home {self.drfc_home!r}: an absolute path without spaces")
        check_parent_drfc(self.parent, self.drfc_ref)

    @property
    def supervisor_component(self) -> str:
        return f"{self.name}-supervisor"

    @property
    def drfc_component(self) -> str:
        return f"{self.name}-deepracer-for-cloud"

    @property
    def pipeline(self) -> str:
        """The name of the recipe, the configurations and the pipeline alike."""
        return f"{self.name}-gpu"
