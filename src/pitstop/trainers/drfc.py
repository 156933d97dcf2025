"""The DRfC backend: drive a real deepracer-for-cloud checkout at ``drfc_home``.

Per attempt: write the managed keys of ``run.env`` / ``system.env`` (rendered from the
templates in ``templates/drfc``; every other line of the user's files is kept, the
originals are backed up once), copy the job's custom files into ``custom_files/`` and run
``dr-upload-custom-files``, then ``dr-start-training -q``: never ``-w``, because each attempt
trains into a new model prefix that loads the previous one as pretrained (DRfC's increment
pattern). Stopping runs ``dr-stop-training``; containers still up after that count as a
failed stop (the supervisor escalates). Whether training runs is read from ``docker ps``
(containers named ``deepracer-<DR_RUN_ID>...``, in both compose and swarm styles).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from pitstop.config import Settings
from pitstop.errors import TrainerError
from pitstop.store.layout import Layout
from pitstop.store.objects import ObjectStore
from pitstop.store.states import TrainerStatus
from pitstop.templates import render
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.envfile import check_env_file
from pitstop.trainers.process import ProcessGroup

RUN_ID = "0"
_KEY = re.compile(r"^\s*(?:export\s+)?([A-Z0-9_]+)=")


def merge_env(existing: str, rendered: str) -> str:
    """Replace the values of ``rendered``'s keys in ``existing``; append the ones it lacks."""
    managed: dict[str, str] = {}
    for line in rendered.splitlines():
        m = _KEY.match(line)
        if m:
            managed[m.group(1)] = line.strip()
    out: list[str] = []
    seen: set[str] = set()
    for line in existing.splitlines():
        m = _KEY.match(line)
        if m and m.group(1) in managed:
            if m.group(1) not in seen:
                out.append(managed[m.group(1)])
                seen.add(m.group(1))
            continue
        out.append(line)
    missing = [v for k, v in managed.items() if k not in seen]
    if missing:
        out += ["# --- pitstop ---", *missing]
    return "\n".join(out) + "\n"


def render_env_files(plan: AttemptPlan, workers: int | None = None) -> dict[str, str]:
    ctx = {
        "job_id": plan.job_id,
        "attempt": plan.attempt,
        "run_id": RUN_ID,
        "world": plan.spec.world,
        "race_type": plan.spec.race_type,
        "model_prefix": plan.model_prefix,
        "pretrained_prefix": plan.pretrained_prefix,
        "custom_files_prefix": plan.custom_files_prefix.rstrip("/"),
        "region": plan.region,
        "bucket": plan.bucket,
        "workers": workers or plan.spec.workers,
    }
    files = {
        "run.env": render("drfc/run.env.j2", **ctx),
        "system.env": render("drfc/system.env.j2", **ctx),
    }
    for name, text in files.items():
        check_env_file(name, text)  # DRfC evaluates these files as shell: a strict grammar
    return files


class DrfcTrainer:
    def __init__(self, settings: Settings, store: ObjectStore, layout: Layout) -> None:
        self.home = Path(settings.drfc_home)
        self.store = store
        self.layout = layout
        self.stop_timeout_s = settings.stop_timeout_s
        self._start = ProcessGroup()
        self._plan: AttemptPlan | None = None
        self._active = False
        self._logs: list[Path] = []

    # -- helpers -----------------------------------------------------------------------
    def _check_home(self) -> None:
        if not (self.home / "bin" / "activate.sh").is_file():
            raise TrainerError(
                f"drfc_home {self.home}: no bin/activate.sh (not a deepracer-for-cloud checkout)"
            )

    def _env(self, plan: AttemptPlan | None) -> dict[str, str]:
        return {**os.environ, **(plan.env() if plan else {}), "DR_DIR": str(self.home)}

    def _dr(self, commands: str) -> list[str]:
        # ``commands`` are literals of this module; the checkout's path is an argument ($1),
        # never shell text
        script = 'set -e; cd "$1"; source bin/activate.sh >/dev/null; ' + commands
        return ["bash", "-c", script, "pitstop-drfc", str(self.home)]

    def _write_env_files(self, plan: AttemptPlan) -> None:
        for name, rendered in render_env_files(plan).items():
            path = self.home / name
            backup = self.home / f"{name}.pitstop-orig"
            existing = path.read_text() if path.exists() else ""
            if path.exists() and not backup.exists():
                shutil.copy2(path, backup)
            path.write_text(merge_env(existing, rendered))

    def _copy_custom_files(self, plan: AttemptPlan) -> None:
        target = self.home / "custom_files"
        target.mkdir(exist_ok=True)
        for item in self.store.list(plan.custom_files_prefix):
            name = item.key.rsplit("/", 1)[-1]
            (target / name).write_bytes(self.store.get(item.key).body)

    def _containers(self) -> list[str] | None:
        try:
            r = subprocess.run(
                ["docker", "ps", "-q", "--filter", f"name=deepracer-{RUN_ID}"],
                capture_output=True,
                text=True,
                timeout=30,
                env=self._env(self._plan),
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if r.returncode != 0:
            return None
        return r.stdout.split()

    # -- the port ----------------------------------------------------------------------
    def start(self, plan: AttemptPlan) -> dict[str, Any]:
        self._check_home()
        plan.work_dir.mkdir(parents=True, exist_ok=True)
        self._write_env_files(plan)
        self._copy_custom_files(plan)
        self._plan, self._active = plan, True
        self._logs = [plan.log_path]
        handle = self._start.start(
            self._dr("dr-upload-custom-files; dr-start-training -q"),
            self._env(plan),
            self.home,
            plan.log_path,
        )
        return {**handle, "run_id": RUN_ID, "log": str(plan.log_path)}

    def adopt(self, handle: dict[str, Any]) -> bool:
        self._check_home()
        if handle.get("run_id") != RUN_ID:
            return False
        if self._containers():
            self._active = True
            log = handle.get("log")
            self._logs = [Path(log)] if isinstance(log, str) else []
            return True
        return False

    def status(self) -> tuple[TrainerStatus, int | None]:
        if not self._active:
            return TrainerStatus.ABSENT, None
        state, code = self._start.status()
        if state is TrainerStatus.RUNNING:
            return TrainerStatus.RUNNING, None  # still starting the stack
        if state is TrainerStatus.EXITED and code not in (0, None):
            return TrainerStatus.EXITED, code  # dr-start-training failed
        containers = self._containers()
        if containers is None:
            return TrainerStatus.RUNNING, None  # docker did not answer: unknown, not a crash
        return (TrainerStatus.RUNNING, None) if containers else (TrainerStatus.EXITED, None)

    def stop(self, timeout_s: float) -> bool:
        if not self._active:
            return True
        self._start.stop(timeout_s)
        self._save_container_logs()
        stop_log = (self._plan.work_dir if self._plan else self.home) / "dr-stop-training.log"
        try:
            with stop_log.open("ab") as out:
                subprocess.run(
                    self._dr("dr-stop-training"),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self._env(self._plan),
                    timeout=max(timeout_s, 30.0),
                    check=False,
                )
        except subprocess.TimeoutExpired:
            pass
        self._logs.append(stop_log)
        deadline = time.monotonic() + timeout_s
        while True:
            containers = self._containers()
            if containers == []:
                self._active = False
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)

    def stop_strays(self, job_id: str, instance_id: str) -> int:
        """DRfC runs one stack per instance: one not adopted is a stray, whoever started it."""
        if self._active or not self.home.is_dir():
            return 0
        containers = self._containers()
        if not containers:
            return 0
        self._active = True
        self.stop(self.stop_timeout_s)
        return 1

    def _save_container_logs(self) -> None:
        if self._plan is None:
            return
        path = self._plan.work_dir / f"attempt-{self._plan.attempt}-containers.log"
        ids = self._containers() or []
        with path.open("wb") as out:
            for cid in ids:
                out.write(f"===== docker logs {cid} =====\n".encode())
                try:
                    r = subprocess.run(
                        ["docker", "logs", "--tail", "5000", cid],
                        capture_output=True,
                        timeout=30,
                        env=self._env(self._plan),
                    )
                    out.write(r.stdout + r.stderr)
                except (OSError, subprocess.TimeoutExpired) as e:
                    out.write(f"(could not read: {e})\n".encode())
        self._logs.append(path)

    def log_files(self) -> list[Path]:
        return [p for p in self._logs if p.exists()]
