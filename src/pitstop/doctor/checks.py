"""The checks of ``pitstop doctor``, for a real GPU instance.

Each check looks at one thing the supervisor and deepracer-for-cloud need, and says ``ok``,
``warn`` (works, but watch it) or ``fail`` (training will not run), with what to do. They
run in order and never raise: a check that cannot look says so. What it owns: the list and
the verdicts. What it leaves to its caller: printing, and the exit code.

The commands run are the ones DRfC runs (``docker``, ``bash -c 'source bin/activate.sh'``,
``nvidia-smi`` in a container), through the caller's ``PATH``, so tests run the doctor
against the same stand-ins as the DRfC conformance harness.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pitstop.config import Settings
from pitstop.core.failures import Diagnosis, FailureKind, Leftovers, classify
from pitstop.errors import PitstopError
from pitstop.trainers.base import tail

Status = Literal["ok", "warn", "fail"]
SAGEMAKER_TMP = Path("/tmp/sagemaker")
UNIT = "pitstop-supervisor.service"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<5} {self.name:<16} {self.detail}"
        return f"{text} -> {self.fix}" if self.fix else text

    def doc(self) -> dict[str, Any]:
        return asdict(self)


def _run(argv: list[str], timeout: float = 60, **kw: Any) -> tuple[int, str]:
    """(exit code, stdout+stderr); 127 when the program is missing, 124 when it hangs."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: no answer in {timeout:.0f} s"
    except OSError as e:
        return 126, f"{argv[0]}: {e.strerror}"
    return r.returncode, (r.stdout + r.stderr).strip()


def _last(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


_ATTEMPT_LOG = re.compile(r"^attempt-(\d+)(?:-containers)?\.log$")
_ADVICE = {
    "driver_mismatch": "match the NVIDIA driver, the container toolkit and the simapp image "
    "(nvidia-smi; docker run --gpus all <image> nvidia-smi)",
    "certificate": "rebuild the image (pitstop image): an AMI older than ~3 months fails "
    "Docker's certificate checks",
    "sagemaker_not_running": "SageMaker did not start: check the GPU driver against the "
    "simapp image's CUDA, and docker logs of the SageMaker container",
    "gpu_xid": "a GPU Xid: reboot the instance; if it recurs, replace it (another instance type)",
    "cuda_oom": "GPU memory ran out: fewer DR_WORKERS or a smaller batch_size",
    "disk_full": "free disk space (docker system prune) or a larger root volume",
    "s3_unreachable": "check the instance's route to S3 and its role",
    "host_oom": "host memory ran out: fewer DR_WORKERS or a larger instance",
}


def _newest_attempt(jobs: Path) -> tuple[str, list[Path]] | None:
    """``(JOB attempt N, its log files)`` of the attempt whose log changed last."""
    newest: tuple[float, str, int] | None = None
    try:
        for path in jobs.glob("*/attempt-*.log"):
            m = _ATTEMPT_LOG.match(path.name)
            if m is None:
                continue
            mtime = path.stat().st_mtime
            if newest is None or mtime > newest[0]:
                newest = (mtime, path.parent.name, int(m.group(1)))
    except OSError:
        return None
    if newest is None:
        return None
    _, job, n = newest
    logs = [
        p for p in (jobs / job / f"attempt-{n}.log", jobs / job / f"attempt-{n}-containers.log")
    ]
    return f"{job} attempt {n}", [p for p in logs if p.is_file()]


def _advice(d: Diagnosis) -> str:
    if d.kind is FailureKind.USER_ERROR:
        at = f" at line {d.line}" if d.line is not None else ""
        return (
            f"fix reward_function.py{at} (or the file simapp names), then "
            "pitstop reward validate reward_function.py before submitting again"
        )
    return _ADVICE.get(d.signature or "", "")


def env_files(home: Path) -> dict[str, str]:
    """system.env then run.env, as DRfC reads them (later lines win); comments skipped."""
    values: dict[str, str] = {}
    for name in ("system.env", "run.env"):
        try:
            text = (home / name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip().removeprefix("export ").strip()] = value.strip()
    return values


class Doctor:
    """Runs the checks against one instance's settings (``settings`` None: they are broken)."""

    def __init__(
        self,
        settings: Settings | None,
        settings_error: str | None = None,
        settings_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.settings_error = settings_error
        self.settings_file = settings_file  # the file read (None: defaults and PITSTOP_*)
        self.env = env_files(Path(settings.drfc_home)) if settings else {}

    @property
    def drfc(self) -> bool:
        return self.settings is not None and self.settings.trainer == "drfc"

    def run(self) -> list[Check]:
        """Every check, in order; one whose prerequisite failed is left out (it would only
        repeat that failure)."""
        plan: list[tuple[Callable[[], Check], str | None]] = [(self.check_settings, None)]
        if self.drfc:
            plan += [
                (self.check_drfc, None),
                (self.check_activate, "drfc"),
                (self.check_sagemaker_tmp, None),
                (self.check_unit, None),
                (self.check_docker, None),
                (self.check_node, "docker"),
                (self.check_network, "docker"),
                (self.check_image, "activate"),
                (self.check_gpu, "image"),
                (self.check_leftovers, "docker"),
            ]
        plan += [
            (self.check_s3, "settings"),
            (self.check_imds, None),
            (self.check_last_attempt, "settings"),
        ]
        out: list[Check] = []
        failed: set[str] = set()
        for check, needs in plan:
            name = check.__name__.removeprefix("check_")
            if needs in failed:
                failed.add(name)
                if name == "gpu":  # say so: a missing GPU line reads as "no GPU problem"
                    why = "Docker" if "docker" in failed else "the simapp image"
                    out.append(Check("gpu", "warn", f"not checked: needs {why}"))
                continue
            try:
                result = check()
            except Exception as e:  # a check that breaks must not hide the others
                result = Check(name, "fail", f"check failed: {e}")
            if result.status == "fail":
                failed.add(name)
            out.append(result)
        return out

    # -- settings and the checkout -------------------------------------------------------
    def check_settings(self) -> Check:
        if self.settings is None:
            where = (
                f"fix {self.settings_file}"
                if self.settings_file
                else "fix the PITSTOP_* variables, or write /etc/pitstop/pitstop.toml "
                "(or pass --config FILE)"
            )
            return Check("settings", "fail", self.settings_error or "unreadable", where)
        s = self.settings
        return Check("settings", "ok", f"bucket={s.bucket} prefix={s.prefix} trainer={s.trainer}")

    def check_drfc(self) -> Check:
        assert self.settings is not None
        home = Path(self.settings.drfc_home)
        if not (home / "bin" / "activate.sh").is_file():
            return Check(
                "drfc",
                "fail",
                f"{home}: no bin/activate.sh",
                "set drfc_home to a deepracer-for-cloud checkout",
            )
        version = "unknown version"
        code, out = _run(["git", "-C", str(home), "describe", "--tags", "--always"], timeout=10)
        if code == 0 and out:
            version = out.splitlines()[0]
        else:
            try:
                deps = json.loads((home / "defaults" / "dependencies.json").read_text())
                version = f"DRfC {deps.get('master_version', '?')}.x"
            except (OSError, ValueError):
                pass
        missing = [n for n in ("run.env", "system.env") if not (home / n).is_file()]
        if missing:
            return Check(
                "drfc",
                "fail",
                f"{home} ({version}): no {' or '.join(missing)}",
                "run bin/init.sh -c aws -a gpu",
            )
        simapp = f"{self.env.get('DR_SIMAPP_SOURCE', '?')}:{self.env.get('DR_SIMAPP_VERSION', '?')}"
        return Check("drfc", "ok", f"{home} ({version}), simapp {simapp}")

    def check_activate(self) -> Check:
        assert self.settings is not None
        home = self.settings.drfc_home
        # as the backend does it: no set -e (v6.x's activate.sh ends false in a script)
        script = "source bin/activate.sh; declare -F dr-start-training >/dev/null || exit 90"
        code, out = _run(["bash", "-c", script], cwd=home, timeout=120)
        if code != 0:
            return Check(
                "activate",
                "fail",
                f"bin/activate.sh: {_last(out)}",
                f"run 'source {home}/bin/activate.sh' and fix what it says",
            )
        return Check("activate", "ok", "bin/activate.sh defines the dr-* commands")

    # -- the host ------------------------------------------------------------------------
    def check_sagemaker_tmp(self) -> Check:
        if SAGEMAKER_TMP.is_dir():
            return Check("/tmp/sagemaker", "ok", "present (rl_coach bind-mounts it)")
        assert self.settings is not None
        if _newest_attempt(Path(self.settings.state_dir) / "jobs") is None:
            # nothing has trained here yet: its absence says nothing about the unit's /tmp
            return Check(
                "/tmp/sagemaker",
                "ok",
                "not there yet: dr-start-training creates it at the first attempt",
            )
        return Check(
            "/tmp/sagemaker",
            "warn",
            "missing, though an attempt ran here: dr-start-training creates it, in the /tmp "
            "the supervisor sees",
            "make sure the supervisor's unit has no PrivateTmp=true",
        )

    def check_unit(self) -> Check:
        code, out = _run(
            ["systemctl", "show", UNIT, "-p", "PrivateTmp", "-p", "ActiveState"], timeout=15
        )
        if code != 0:
            return Check("unit", "warn", f"cannot ask systemd: {_last(out)}")
        props = dict(line.partition("=")[::2] for line in out.splitlines())
        if props.get("PrivateTmp") == "yes":
            return Check(
                "unit",
                "fail",
                f"{UNIT} has PrivateTmp=yes: Docker will not see its /tmp/sagemaker",
                "install the unit of this pitstop version (systemd/pitstop-supervisor.service)",
            )
        return Check(
            "unit", "ok", f"{UNIT} {props.get('ActiveState', '?')}, shares the host's /tmp"
        )

    def _docker(self, *args: str, timeout: float = 60) -> tuple[int, str]:
        return _run(["docker", *args], timeout=timeout)

    def check_docker(self) -> Check:
        code, out = self._docker("info", "--format", "{{.Swarm.LocalNodeState}}")
        if code != 0:
            return Check(
                "docker",
                "fail",
                f"docker does not answer: {_last(out)}",
                "start Docker (systemctl start docker)",
            )
        swarm = out.strip()
        style = self.env.get("DR_DOCKER_STYLE", "swarm").lower()
        if style == "swarm" and swarm != "active":
            return Check(
                "docker",
                "fail",
                f"swarm is {swarm or 'inactive'}",
                "run bin/init.sh (it runs docker swarm init)",
            )
        return Check("docker", "ok", f"answers; swarm {swarm}, DRfC style {style}")

    def check_node(self) -> Check:
        if self.env.get("DR_DOCKER_STYLE", "swarm").lower() != "swarm":
            return Check("node labels", "ok", "compose style: no swarm labels needed")
        code, out = self._docker("node", "inspect", "self", "--format", "{{json .Spec.Labels}}")
        if code != 0:
            return Check("node labels", "fail", _last(out), "run bin/init.sh")
        labels = json.loads(out or "{}") or {}
        missing = [k for k in ("Sagemaker", "Robomaker") if labels.get(k) != "true"]
        if missing:
            adds = " ".join(f"--label-add {k}=true" for k in missing)
            return Check(
                "node labels",
                "fail",
                f"missing {', '.join(missing)}",
                f"docker node update {adds} self",
            )
        return Check("node labels", "ok", "Sagemaker and Robomaker")

    def check_network(self) -> Check:
        code, out = self._docker("network", "inspect", "sagemaker-local", "--format", "{{.Driver}}")
        if code != 0:
            return Check("network", "fail", "no network sagemaker-local", "run bin/init.sh")
        return Check("network", "ok", f"sagemaker-local ({out.strip()})")

    @property
    def _image(self) -> str:
        return f"{self.env.get('DR_SIMAPP_SOURCE', '')}:{self.env.get('DR_SIMAPP_VERSION', '')}"

    def check_image(self) -> Check:
        code, _ = self._docker("image", "inspect", self._image, "--format", "{{.Id}}")
        if code != 0:
            return Check(
                "image", "fail", f"{self._image} is not pulled", f"docker pull {self._image}"
            )
        return Check("image", "ok", f"{self._image} pulled")

    def check_gpu(self) -> Check:
        code, out = self._docker(
            "run", "--rm", "--gpus", "all", self._image, "nvidia-smi", "-L", timeout=180
        )
        gpus = [line for line in out.splitlines() if line.startswith("GPU ")]
        if code != 0 or not gpus:
            return Check(
                "gpu",
                "fail",
                f"no GPU inside a container: {_last(out)}",
                "check the NVIDIA driver and the NVIDIA container toolkit (nvidia-smi, docker info)",
            )
        name = gpus[0].split(":", 1)[1].split("(")[0].strip()
        return Check("gpu", "ok", f"{len(gpus)} visible to Docker ({name})")

    def check_leftovers(self) -> Check:
        code, out = self._docker("ps", "--format", "{{.Names}}")
        if code != 0:
            return Check("containers", "warn", f"cannot list: {_last(out)}")
        names = out.split()
        sagemaker = [n for n in names if "-algo-" in n]
        stack = [n for n in names if n.startswith("deepracer-")]
        if sagemaker or stack:
            return Check(
                "containers",
                "warn",
                f"running: {', '.join(stack + sagemaker)}",
                "fine while the supervisor trains; otherwise it stops them before the next start",
            )
        return Check("containers", "ok", "no DeepRacer container running")

    # -- AWS -----------------------------------------------------------------------------
    def check_s3(self) -> Check:
        if self.settings is None:
            return Check("s3", "fail", "no settings")
        from pitstop.store.layout import Layout
        from pitstop.store.objects import S3Store

        s = self.settings
        store = S3Store.from_settings(s)
        layout = Layout(s.prefix)
        probe = layout.doctor_probe(os.uname().nodename)
        try:
            store.list_page(layout.root)
            store.put(probe, b"pitstop doctor")
            store.delete(probe)
        except PitstopError as e:
            return Check(
                "s3",
                "fail",
                str(e),
                f"check the bucket name and that the instance role may read and write s3://{s.bucket}/{s.prefix}/",
            )
        return Check("s3", "ok", f"s3://{s.bucket}/{s.prefix}/ readable and writable")

    def check_last_attempt(self) -> Check:
        """The newest attempt this instance ran: which class and signature its logs show
        (``core/failures.py``, as the supervisor decided), and what to do about it."""
        assert self.settings is not None
        found = _newest_attempt(Path(self.settings.state_dir) / "jobs")
        if found is None:
            return Check("last_attempt", "ok", "no attempt on this instance yet")
        where, logs = found
        d = classify(Leftovers(logs="\n".join(tail(p) for p in logs)))
        if d.kind is FailureKind.UNKNOWN and d.signature is None and d.fault_code is None:
            return Check("last_attempt", "ok", f"{where}: no known failure in its logs")
        sig = f" [{d.signature}]" if d.signature else ""
        status: Status = "ok" if d.kind is FailureKind.UNKNOWN else "warn"
        return Check("last_attempt", status, f"{where}: {d.describe()}{sig}", _advice(d))

    def check_imds(self) -> Check:
        from pitstop.errors import ImdsError
        from pitstop.supervisor.spot import Imds

        endpoint = self.settings.imds_endpoint if self.settings else "http://169.254.169.254"
        imds = Imds(endpoint)
        try:
            instance = (imds.get("instance-id") or "").strip()
            notice = imds.get("spot/instance-action")
        except ImdsError as e:
            configured = self.settings.instance_id if self.settings else None
            if configured:
                return Check(
                    "imds",
                    "warn",
                    f"{e}; instance_id set to {configured}",
                    "spot notices cannot be seen off EC2",
                )
            return Check(
                "imds", "fail", str(e), "run on EC2 with IMDSv2 reachable, or set instance_id"
            )
        if notice:
            return Check("imds", "warn", f"{instance}: spot interruption notice pending: {notice}")
        return Check("imds", "ok", f"{instance}, no interruption notice")
