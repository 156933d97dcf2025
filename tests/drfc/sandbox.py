"""An emulated GPU instance for running deepracer-for-cloud's real scripts.

``Instance`` is one machine: a copy of a DRfC release (``../shared/drfc/vX``), its own
docker stand-in state (``standin/docker_standin.py``), its own "host" ``/tmp``, a home
directory and the instance role's credentials (an STS session from moto, so that DRfC's
``aws sts get-caller-identity`` sees an ``assumed-role`` exactly as on EC2). Everything lies
under the test's ``tmp_path``.

Commands run in a private mount namespace (``unshare --user --map-root-user --mount``)
whose ``/tmp`` is the instance's: the host's for ``bin/init.sh`` (boot), and for the
supervisor whatever ``systemd/pitstop-supervisor.service`` asks for: with
``PrivateTmp=true`` a separate directory, as systemd would give it, which the docker stand-in
(the daemon) does not see. The real ``/tmp/sagemaker`` of this machine is never touched.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.e2e.harness import SupervisorProc

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().parent / "standin"
UNIT = REPO / "systemd" / "pitstop-supervisor.service"
RELEASES = Path(os.environ.get("PITSTOP_DRFC_RELEASES", REPO.parent / "shared" / "drfc"))
VERSIONS = ("v5.3.3", "v6.0.4")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The namespace's /tmp: $1 becomes /tmp; the other arguments up to "--" (the test's directory,
# this checkout, the virtual environment) stay where they are when they lie under /tmp, so
# every path the test uses keeps working inside.
_ENTER = r"""
set -e
new="$1"; shift
while [ "$1" != "--" ]; do
  case "$1" in
    /tmp/*) mkdir -p "$new/${1#/tmp/}"; mount --bind "$1" "$new/${1#/tmp/}" ;;
  esac
  shift
done
shift
mount --rbind "$new" /tmp
exec "$@"
"""


def unit_private_tmp(unit: Path = UNIT) -> bool:
    """Does the unit give the supervisor a private /tmp (PrivateTmp=)?"""
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(unit)
    value = cp["Service"].get("PrivateTmp", "false").strip().lower()
    return value in ("1", "yes", "true", "on")


def namespaces_work() -> str | None:
    """None when ``unshare`` can give a process its own /tmp here, else why not."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    r = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"],
        capture_output=True,
        text=True,
    )
    return None if r.returncode == 0 else f"unshare failed: {r.stderr.strip()}"


def role_credentials(endpoint: str) -> dict[str, str]:
    """An STS session, standing in for the instance profile's credentials."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1")
    creds = sts.assume_role(
        RoleArn="arn:aws:iam::123456789012:role/pitstop-instance", RoleSessionName="i-standin"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


@dataclass
class Instance:
    root: Path
    version: str
    s3_endpoint: str
    private_tmp: bool = field(default_factory=unit_private_tmp)
    gpus: int = 1

    def __post_init__(self) -> None:
        self.host_tmp = self.root / "host-tmp"
        self.service_tmp = self.root / "private-tmp" if self.private_tmp else self.host_tmp
        self.docker_state = self.root / "docker"
        self.home = self.root / "home"
        self.drfc_home = self.root / "deepracer-for-cloud"
        for d in (self.host_tmp, self.service_tmp, self.docker_state, self.home):
            d.mkdir(parents=True, exist_ok=True)
        source = RELEASES / self.version
        if not (source / "bin" / "activate.sh").is_file():
            raise FileNotFoundError(f"no DRfC release at {source}")
        shutil.copytree(source, self.drfc_home, symlinks=True)
        self.credentials = role_credentials(self.s3_endpoint)

    # -- environment and namespaces ----------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """The instance's environment: stand-ins first on PATH, then this venv, then the OS."""
        path = [str(STANDIN / "bin"), str(Path(sys.executable).parent), SYSTEM_PATH]
        if self.gpus:
            path.insert(1, str(STANDIN / "gpu"))  # the host's nvidia-smi
        keep = {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("AWS_", "PITSTOP_", "PYTHON", "LANG", "LC_")) or k in ("TERM", "USER")
        }
        return {
            **keep,
            "PATH": os.pathsep.join(path),
            "HOME": str(self.home),
            "USER": os.environ.get("USER", "root"),
            "DOCKER_STANDIN_STATE": str(self.docker_state),
            "DOCKER_STANDIN_HOST_TMP": str(self.host_tmp),
            "STANDIN_GPUS": str(self.gpus),
            "STANDIN_KERNEL_LOG": str(self.root / "kernel.log"),  # journalctl -k: the instance's
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            **self.credentials,
            **extra,
        }

    def wrap(self, argv: list[str], *, service: bool = True) -> list[str]:
        """``argv`` in a mount namespace whose /tmp is the service's (or the host's)."""
        tmp = self.service_tmp if service else self.host_tmp
        keep = sorted({str(self.root.parent), str(REPO), sys.prefix})
        enter = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", _ENTER, "enter"]
        return [*enter, str(tmp), *keep, "--", *argv]

    def sh(
        self, script: str, *, service: bool = False, timeout: float = 120, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """A bash script on the instance (the host's view by default), in DRfC's folder."""
        return subprocess.run(
            self.wrap(["bash", "-c", script], service=service),
            cwd=self.drfc_home,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def init(self) -> None:
        """DRfC's own first boot: ``bin/init.sh`` (swarm, node labels, network, images)."""
        # v5.3.3 probes the GPU by building an image from the network: the stand-in does not
        # build images, so that release initialises as cpu (the image tag says -cpu)
        arch = "gpu" if self.version >= "v6" else "cpu"
        r = self.sh(f"bin/init.sh -c remote -a {arch} -s swarm")
        assert r.returncode == 0 and (self.drfc_home / "DONE").exists(), r.stdout + r.stderr
        self.assert_supported()

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(STANDIN / "bin" / "docker"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    # -- what the daemon knows -----------------------------------------------------------
    def state(self) -> dict[str, Any]:
        self.docker("ps")  # reconcile: notice the containers that ended
        path = self.docker_state / "state.json"
        return json.loads(path.read_text()) if path.exists() else {"containers": {}, "stacks": {}}

    def containers(self, running: bool | None = None) -> list[dict[str, Any]]:
        cs = list(self.state()["containers"].values())
        return [c for c in cs if running is None or (c["state"] == "running") == running]

    def sagemaker(self, running: bool | None = None) -> list[dict[str, Any]]:
        return [c for c in self.containers(running) if "-algo-1-" in c["name"]]

    def unsupported(self) -> list[str]:
        path = self.docker_state / "unsupported.log"
        return path.read_text().splitlines() if path.exists() else []

    def assert_supported(self) -> None:
        assert self.unsupported() == [], "the scripts made calls the stand-ins do not model"

    # -- events --------------------------------------------------------------------------
    def reboot(self) -> None:
        """Every container dies, swarm keeps its stack, /tmp is emptied (but for the mount
        points of what the namespaces keep: the test's directory, this checkout, the venv)."""
        r = self.docker("__reboot")
        assert r.returncode == 0, r.stderr
        keep = {
            p.relative_to("/tmp").parts[0]
            for p in (self.root.parent, REPO, Path(sys.prefix))
            if p.is_relative_to("/tmp")
        }
        for child in self.host_tmp.iterdir():
            if child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)

    def kill_all(self) -> None:
        """Teardown: no container process of this instance survives the test."""
        path = self.docker_state / "state.json"
        if not path.exists():
            return
        for c in json.loads(path.read_text())["containers"].values():
            if c.get("pid"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(c["pid"], signal.SIGKILL)


@dataclass
class NamespacedSupervisor(SupervisorProc):
    """``pitstop supervise`` as the unit runs it: in the instance's namespace."""

    instance: Instance | None = None

    def start(self) -> NamespacedSupervisor:
        assert self.instance is not None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        argv = [sys.executable, "-m", "pitstop.cli.main", "supervise", "--log-format", "json"]
        self.proc = subprocess.Popen(
            self.instance.wrap(argv),
            env={**self.instance.env(), **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self


def drive(inst: Instance, env: dict[str, str], job_id: str, steps: list[list[Any]]) -> list[Any]:
    """Run ``tests/drfc/drive.py`` in the instance's service namespace; each step's result."""
    script = inst.root / f"drive-{len(list(inst.root.glob('drive-*')))}.json"
    script.write_text(json.dumps({"job_id": job_id, "steps": steps}))
    full = {
        **env,
        "PITSTOP_DRFC_HOME": str(inst.drfc_home),
        "PITSTOP_STATE_DIR": str(inst.root / "state"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    r = inst.sh(f"{sys.executable} -m tests.drfc.drive {script}", service=True, timeout=300, **full)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert r.returncode == 0 and len(lines) == len(steps) + 1, r.stdout + r.stderr
    return [line["result"] for line in lines]
