"""The DRfC backend: drive a real deepracer-for-cloud checkout at ``drfc_home``.

Per attempt: clear whatever an earlier run left (a reboot or a supervisor restart leaves
swarm stack ``deepracer-0`` behind, with its tasks, and ``dr-start-training`` refuses to
start while it has any; a SageMaker container can outlive its stack), write the managed
keys of ``run.env`` / ``system.env`` (rendered from the templates in ``templates/drfc``;
every other line of the user's files is kept, the originals are backed up once), copy the
job's custom files into ``custom_files/`` and run ``dr-upload-custom-files``, then
``dr-start-training -q``: never ``-w``, because each attempt trains into a new model prefix
that loads the previous one as pretrained (DRfC's increment pattern), with
``DR_LOCAL_S3_PRETRAINED_CHECKPOINT`` set to the ``last``/``best`` that resolves to exactly
the checkpoint the supervisor recorded.

``bin/activate.sh`` is sourced without ``set -e``: DRfC v6.x ends it with a test that is
false in a non-interactive shell, so it "fails" after doing its work; what counts is that it
defined the ``dr-*`` commands, which is checked.

Whether training runs is read from Docker: the SageMaker container (``<tmp>-algo-1-<id>``,
started by rl_coach through the Docker socket, outside the stack) is the trainer; while it
runs, training runs, and when it exited its exit code is the attempt's. Before SageMaker is
up, the stack's containers and tasks (``docker stack ps``: a task swarm rejected, e.g. for a
missing bind source, shows there and nowhere else) say whether it is still starting.
Stopping runs ``dr-stop-training`` (which finds SageMaker through the host's
``/tmp/sagemaker``), then makes sure: a SageMaker container still running is stopped, a
stack still there is removed; containers still up after that count as a failed stop (the
supervisor escalates).

An evaluation job (``drfc_eval``) runs ``dr-start-evaluation -q`` instead, with the job's
``DR_EVAL_*`` keys in ``run.env`` and ``DR_LOCAL_S3_MODEL_PREFIX`` the attempt's prefix (the
supervisor staged the checkpoint there); its stack is ``deepracer-eval-0``, its robomaker
container the trainer (RUNNING while it runs, EXITED with its exit code when the laps are
done), and ``dr-stop-evaluation`` stops it (also before a start: swarm refuses to start while
the stack has any task).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from pitstop.config import Settings
from pitstop.core import hangs
from pitstop.core.failures import Leftovers
from pitstop.core.states import TrainerStatus
from pitstop.errors import ConfigError, TrainerError
from pitstop.store.checkpoints import resume_point
from pitstop.store.layout import Layout, custom_file_key, custom_file_name
from pitstop.store.objects import ObjectStore
from pitstop.templates import render
from pitstop.trainers import drfc_eval
from pitstop.trainers.base import LOG_TAIL_BYTES, AttemptPlan, tail
from pitstop.trainers.envfile import GRAMMAR, check_env_file, s3_path_problem
from pitstop.trainers.process import ProcessGroup

log = structlog.get_logger("pitstop.trainers.drfc")

# log events of this backend (noun.past_tense, like the supervisor's)
LEFTOVERS_FOUND = "drfc.leftovers_found"  # an earlier run's stack or SageMaker was still up
SAGEMAKER_STOPPED = "drfc.sagemaker_stopped"  # dr-stop-training left SageMaker running
STACK_REMOVED = "drfc.stack_removed"  # dr-stop-training left the stack in place

RUN_ID = "0"
STACK = f"deepracer-{RUN_ID}"
EVAL_STACK = drfc_eval.stack_name(RUN_ID)  # dr-start-evaluation's stack / compose project
_SAGEMAKER = re.compile(r"-algo-\d+-[a-z0-9]+$")  # <tmpname>-algo-1-xxxxx (SageMaker local)
_LIVE_TASK = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")
# ``status`` then ``containers`` in one poll share one ``docker ps``: a listing older than
# this is read again (a poll's two calls are milliseconds apart; a stop's are not)
LISTING_REUSE_S = 1.0
ACTIVATION_FAILED = 90  # exit code: bin/activate.sh did not define the dr-* commands
_KEY = re.compile(r"^\s*(?:export\s+)?([A-Z0-9_]+)=")
SAMPLE_JOB_ID = "job"  # any valid id: what a job's custom-files prefix looks like


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


def render_env_files(
    plan: AttemptPlan, workers: int | None = None, pretrained_selector: str = "last"
) -> dict[str, str]:
    ctx = {
        "job_id": plan.job_id,
        "attempt": plan.attempt,
        "run_id": RUN_ID,
        "world": plan.spec.world,
        "race_type": plan.spec.race_type,
        "model_prefix": plan.model_prefix,
        "pretrained_prefix": plan.pretrained_prefix,
        "pretrained_selector": pretrained_selector,
        "custom_files_prefix": plan.custom_files_prefix.rstrip("/"),
        "reward_key": custom_file_key(plan.custom_files_prefix, "reward_function.py"),
        "model_metadata_key": custom_file_key(plan.custom_files_prefix, "model_metadata.json"),
        "hyperparameters_key": custom_file_key(plan.custom_files_prefix, "hyperparameters.json"),
        "region": plan.region,
        "bucket": plan.bucket,
        "workers": workers or plan.spec.workers,
        "evaluation": drfc_eval.eval_keys(ev) if (ev := plan.spec.evaluation) else None,
    }
    files = {
        "run.env": render("drfc/run.env.j2", **ctx),
        "system.env": render("drfc/system.env.j2", **ctx),
    }
    for name, text in files.items():
        check_env_file(name, text)  # DRfC evaluates these files as shell: a strict grammar
    return files


def check_settings(settings: Settings) -> None:
    """The settings this backend writes into ``run.env``/``system.env`` (the key prefix in
    ``DR_LOCAL_S3_CUSTOM_FILES_PREFIX`` and its keys, the bucket, the region), checked
    against the env-file grammar before anything starts: ``supervise --check`` and the
    trainer's construction refuse a value there with one line naming the setting, instead
    of every attempt being refused when its files are rendered. Raises ``ConfigError``."""
    sample = Layout(settings.prefix).custom_files(SAMPLE_JOB_ID).rstrip("/")
    problem = s3_path_problem(sample)
    if problem is not None:
        raise ConfigError(
            f"prefix: {settings.prefix!r}: {problem}; the drfc trainer writes it into DRfC's "
            "run.env (DR_LOCAL_S3_CUSTOM_FILES_PREFIX=PREFIX/jobs/ID/custom_files), which "
            "DRfC evaluates as shell, so every attempt would be refused (use e.g. 'pitstop' "
            "or 'team-a/pitstop')"
        )
    for setting, key, value in (
        ("bucket", "DR_LOCAL_S3_BUCKET", settings.bucket),
        ("region", "DR_AWS_APP_REGION", settings.region),
    ):
        rule = GRAMMAR[key]
        if not rule.matches(value):
            raise ConfigError(
                f"{setting}: {value!r}: not {rule.what}; the drfc trainer writes it into "
                f"DRfC's system.env ({key}), which DRfC evaluates as shell, so every attempt "
                "would be refused"
            )


def env_value(text: str, key: str) -> str | None:
    """The last value of ``key`` in an env file (as DRfC's ``eval export`` leaves it)."""
    value = None
    for line in text.splitlines():
        m = _KEY.match(line)
        if m and m.group(1) == key:
            value = line.split("=", 1)[1].strip().strip("'\"")
    return value


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    state: str  # docker's: created, running, exited, ...

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "created")

    @property
    def sagemaker(self) -> bool:
        return bool(_SAGEMAKER.search(self.name))

    def in_stack(self, stack: str = STACK) -> bool:
        """A container of DRfC's training stack (swarm ``deepracer-0_``, compose
        ``deepracer-0-``), or of ``stack``."""
        return drfc_eval.in_stack(self.name, stack)


def _role(c: Container) -> str:
    if c.sagemaker:
        return "sagemaker"
    if "robomaker" in c.name:
        return "robomaker"
    return "rl_coach" if "rl_coach" in c.name else "other"


class Docker:
    """The few docker CLI calls this backend makes; ``None`` means docker did not answer."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def _run(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                ["docker", *args], capture_output=True, text=True, timeout=timeout, env=self.env
            )
        except (OSError, subprocess.TimeoutExpired):
            return None

    def containers(self) -> list[Container] | None:
        """Every container, exited ones too, newest first."""
        r = self._run("ps", "-a", "--no-trunc", "--format", "{{.ID}}\\t{{.Names}}\\t{{.State}}")
        if r is None or r.returncode != 0:
            return None
        out = []
        for line in r.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                out.append(Container(*parts))
        return out

    def states(self, ids: list[str]) -> dict[str, tuple[int | None, int, bool]]:
        """Each container's (exit code, RestartCount, OOMKilled), by id; {} when docker
        does not answer."""
        if not ids:
            return {}
        fmt = "{{.Id}}\t{{.State.ExitCode}}\t{{.RestartCount}}\t{{.State.OOMKilled}}"
        r = self._run("inspect", "--format", fmt, *ids)
        if r is None:
            return {}
        out: dict[str, tuple[int | None, int, bool]] = {}
        for line in r.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) != 4:
                continue
            cid, code, restarts, oom = parts
            out[cid] = (
                int(code) if code.lstrip("-").isdigit() else None,
                int(restarts) if restarts.isdigit() else 0,
                oom.strip().lower() == "true",
            )
        return out

    def exit_code(self, cid: str) -> int | None:
        r = self._run("inspect", "--format", "{{.State.ExitCode}}", cid)
        if r is None or r.returncode != 0:
            return None
        try:
            return int(r.stdout.strip())
        except ValueError:
            return None

    def stack_tasks(self, stack: str = STACK) -> list[tuple[str, str, str]] | None:
        """(task, current state, error) of the stack's tasks; [] when there is no stack."""
        r = self._run(
            "stack",
            "ps",
            stack,
            "--no-trunc",
            "--format",
            "{{.Name}}\\t{{.CurrentState}}\\t{{.Error}}",
        )
        if r is None:
            return None
        if r.returncode != 0:
            return [] if "nothing found in stack" in r.stderr.lower() else None
        tasks = []
        for line in r.stdout.splitlines():
            name, _, rest = line.partition("\t")
            state, _, error = rest.partition("\t")
            tasks.append((name, state.split(" ", 1)[0].lower(), error))
        return tasks

    def stop(self, ids: list[str], timeout_s: float) -> None:
        self._run("stop", "-t", str(max(1, int(timeout_s))), *ids, timeout=timeout_s + 30)

    def remove(self, ids: list[str]) -> None:
        self._run("rm", *ids)

    def remove_stack(self, stack: str = STACK) -> None:
        self._run("stack", "rm", stack)

    def logs(self, cid: str) -> bytes:
        try:
            r = subprocess.run(
                ["docker", "logs", "--tail", "5000", cid],
                capture_output=True,
                timeout=30,
                env=self.env,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"(could not read: {e})\n".encode()
        return r.stdout + r.stderr


class DrfcTrainer:
    def __init__(self, settings: Settings, store: ObjectStore, layout: Layout) -> None:
        check_settings(settings)  # a value run.env refuses stops the start, not each attempt
        self.home = Path(settings.drfc_home)
        self.store = store
        self.layout = layout
        self.stop_timeout_s = settings.stop_timeout_s
        self._start = ProcessGroup()
        self._plan: AttemptPlan | None = None
        self._active = False
        self._logs: list[Path] = []
        self._reported = False  # the stack's task errors went into the attempt log
        self._evaluating = False  # the attempt is an evaluation (dr-start-evaluation)
        # what the attempt left, kept when its containers are saved: each container's log
        # tail, and the containers as the stop found them (gone once it is torn down)
        self._tails: str | None = None
        self._seen: tuple[hangs.Container, ...] = ()
        # the ``docker ps`` that ``status`` just read, for the ``containers`` call that
        # follows it in the same poll (one listing per poll, not two): (when, what)
        self._listed: tuple[float, list[Container]] | None = None

    # -- helpers -----------------------------------------------------------------------
    def _check_home(self) -> None:
        if not (self.home / "bin" / "activate.sh").is_file():
            raise TrainerError(
                f"drfc_home {self.home}: no bin/activate.sh (not a deepracer-for-cloud checkout)"
            )

    def _env(self, plan: AttemptPlan | None) -> dict[str, str]:
        return {**os.environ, **(plan.env() if plan else {}), "DR_DIR": str(self.home)}

    def _docker(self) -> Docker:
        return Docker(self._env(self._plan))

    def _dr(self, commands: str) -> list[str]:
        """``bash -c`` running ``commands`` after sourcing ``bin/activate.sh``; the checkout's
        path is ``$1``, never shell text."""
        script = (
            # activate.sh reads $1 as a run.env to load: it gets none
            f'home="$1"; set --; cd "$home" || exit {ACTIVATION_FAILED}\n'
            # no set -e here: v6.x's activate.sh returns 1 in a non-interactive shell after
            # doing its work; what matters is that it defined the dr-* commands
            "source bin/activate.sh\n"
            "if ! declare -F dr-start-training >/dev/null; then\n"
            '  echo "pitstop: sourcing $home/bin/activate.sh did not define the dr-* commands'
            ' (its output is above)" >&2\n'
            f"  exit {ACTIVATION_FAILED}\n"
            "fi\n"
            "set -e\n"
            f"{commands}\n"
        )
        return ["bash", "-c", script, "pitstop-drfc", str(self.home)]

    def _swarm(self) -> bool:
        try:
            text = (self.home / "system.env").read_text()
        except OSError:
            return True
        return (env_value(text, "DR_DOCKER_STYLE") or "swarm").lower() == "swarm"

    def _selector(self, plan: AttemptPlan) -> str:
        """The DR_LOCAL_S3_PRETRAINED_CHECKPOINT that loads exactly the recorded checkpoint."""
        if not plan.pretrained_prefix:
            return "last"
        point = resume_point(self.store, plan.pretrained_prefix)
        if point is None or point.name != plan.pretrained_checkpoint:
            loads = point.name if point else "nothing"
            raise TrainerError(
                f"DRfC would load {loads} from {plan.pretrained_prefix}, not the recorded "
                f"{plan.pretrained_checkpoint} (DR_LOCAL_S3_PRETRAINED_CHECKPOINT is only best or last)"
            )
        return point.selector

    def _write_env_files(self, plan: AttemptPlan, selector: str) -> None:
        for name, rendered in render_env_files(plan, pretrained_selector=selector).items():
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
            name = custom_file_name(plan.custom_files_prefix, item.key)
            if name is not None:  # nothing nests there (JobStore writes CUSTOM_FILES only)
                (target / name).write_bytes(self.store.get(item.key).body)

    def _note(self, path: Path, text: str) -> None:
        """A line from pitstop in a log the job keeps (the attempt's or the stop log)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(f"pitstop: {text}\n")

    def _stop_log_of(self, command: str) -> Path:
        return (self._plan.work_dir if self._plan else self.home) / f"{command}.log"

    # -- the port ----------------------------------------------------------------------
    def start(self, plan: AttemptPlan) -> dict[str, Any]:
        self._check_home()
        evaluating = plan.spec.evaluation is not None
        selector = self._selector(plan)  # an evaluation loads nothing pretrained: "last"
        plan.work_dir.mkdir(parents=True, exist_ok=True)
        self._plan, self._logs, self._reported = plan, [plan.log_path], False
        self._evaluating = evaluating
        self._tails, self._seen = None, ()
        # an earlier run's stack blocks dr-start-training and dr-start-evaluation (swarm
        # refuses while the stack has any task): stop it with the run.env it used
        found = self._leftovers()
        if found:
            log.warning(LEFTOVERS_FOUND, job_id=plan.job_id, attempt=plan.attempt, found=found)
            self._note(
                plan.log_path, f"an earlier run was still up ({', '.join(found)}); stopping it"
            )
            if not self._teardown(self.stop_timeout_s):
                raise TrainerError(f"an earlier DRfC run could not be stopped: {', '.join(found)}")
        self._remove_exited_sagemaker()
        self._write_env_files(plan, selector)
        if evaluating:  # the model is in the attempt's prefix already (staged): no custom files
            commands = drfc_eval.START
        else:
            self._copy_custom_files(plan)
            commands = "dr-upload-custom-files\ndr-start-training -q"
        self._active = True
        handle = self._start.start(self._dr(commands), self._env(plan), self.home, plan.log_path)
        kind = "evaluation" if evaluating else "training"
        return {**handle, "run_id": RUN_ID, "kind": kind, "log": str(plan.log_path)}

    def _leftovers(self) -> list[str]:
        docker = self._docker()
        containers = docker.containers() or []
        found = [
            c.name
            for c in containers
            if (c.running and (c.sagemaker or c.in_stack())) or c.in_stack(EVAL_STACK)
        ]
        if self._swarm():
            found += [f"stack {s}" for s in (STACK, EVAL_STACK) if docker.stack_tasks(s)]
        return found

    def _remove_exited_sagemaker(self) -> None:
        """An earlier attempt's exited SageMaker container must not pass for this one's; its
        output is kept first (a supervisor that died with its instance could not)."""
        docker = self._docker()
        old = [c for c in docker.containers() or [] if c.sagemaker and not c.running]
        if not old or self._plan is None:
            return
        path = self._plan.work_dir / f"attempt-{self._plan.attempt}-earlier-containers.log"
        with path.open("ab") as out:
            for c in old:
                out.write(
                    f"===== docker logs {c.name} (exited, before this attempt) =====\n".encode()
                )
                out.write(docker.logs(c.id))
        self._logs.append(path)
        docker.remove([c.id for c in old])

    def adopt(self, handle: dict[str, Any]) -> bool:
        self._check_home()
        if handle.get("run_id") != RUN_ID:
            return False
        evaluating = handle.get("kind") == "evaluation"
        containers = self._docker().containers() or []
        if evaluating:  # the stack stays until stopped: an ended robomaker is still its result
            ours = any(c.in_stack(EVAL_STACK) for c in containers)
        else:
            ours = any(c.running and (c.sagemaker or c.in_stack()) for c in containers)
        if ours:
            self._active, self._evaluating = True, evaluating
            self._tails, self._seen = None, ()
            log_path = handle.get("log")
            self._logs = [Path(log_path)] if isinstance(log_path, str) else []
            return True
        return False

    def status(self) -> tuple[TrainerStatus, int | None]:
        if not self._active:
            return TrainerStatus.ABSENT, None
        state, code = self._start.status()
        if state is TrainerStatus.RUNNING:
            return TrainerStatus.RUNNING, None  # still starting the stack
        if state is TrainerStatus.EXITED and code not in (0, None):
            return TrainerStatus.EXITED, code  # activation or dr-start-* failed
        if self._evaluating:
            return self._evaluation_status()
        docker = self._docker()
        containers = docker.containers()
        if containers is None:
            return TrainerStatus.RUNNING, None  # docker did not answer: unknown, not a crash
        self._listed = (time.monotonic(), containers)
        sagemaker = [c for c in containers if c.sagemaker]
        if any(c.running for c in sagemaker):
            return TrainerStatus.RUNNING, None
        if sagemaker:  # the trainer ended: how it exited is the attempt's exit code
            return TrainerStatus.EXITED, docker.exit_code(sagemaker[0].id)
        # no SageMaker yet: rl_coach starts it, so training is starting while rl_coach is
        # (robomaker alone trains nothing)
        if any(c.running and c.in_stack() and "rl_coach" in c.name for c in containers):
            return TrainerStatus.RUNNING, None
        if self._swarm():
            tasks = docker.stack_tasks()
            coach = [t for t in tasks or [] if "_rl_coach." in t[0]]
            if tasks is None or any(state in _LIVE_TASK for _, state, _ in coach):
                return TrainerStatus.RUNNING, None  # scheduled, not yet running
            self._report_tasks(tasks, STACK)
        return TrainerStatus.EXITED, None

    def _evaluation_status(self) -> tuple[TrainerStatus, int | None]:
        """The evaluation worker (robomaker) is the trainer: its exit code is the attempt's."""
        docker = self._docker()
        containers = docker.containers()
        if containers is None:
            return TrainerStatus.RUNNING, None  # docker did not answer: unknown
        robomaker = [
            drfc_eval.Seen(c.name, c.running, None if c.running else docker.exit_code(c.id))
            for c in containers
            if drfc_eval.is_robomaker(c.name, EVAL_STACK)
        ]
        swarm = self._swarm()
        tasks = docker.stack_tasks(EVAL_STACK) if swarm and not robomaker else []
        state, code = drfc_eval.status(robomaker, tasks, swarm)
        if state is TrainerStatus.EXITED and not robomaker:
            self._report_tasks(tasks or [], EVAL_STACK)
        return state, code

    def _report_tasks(self, tasks: list[tuple[str, str, str]], stack: str) -> None:
        """Put why swarm's tasks ended (a rejected task shows nowhere else) in the attempt log."""
        if self._reported or self._plan is None:
            return
        self._reported = True
        if not tasks:
            what = "no robomaker" if stack == EVAL_STACK else "no SageMaker"
            self._note(self._plan.log_path, f"no container of stack {stack} ran, and {what}")
        for name, state, error in tasks:
            self._note(self._plan.log_path, f"task {name}: {state}{': ' + error if error else ''}")

    def stop(self, timeout_s: float) -> bool:
        if not self._active:
            return True
        self._start.stop(timeout_s)
        self._seen = self.containers()  # as the stop found them: a hang's evidence
        self._save_container_logs()
        if not self._teardown(timeout_s):
            return False
        self._active = False
        return True

    def _up(self, docker: Docker) -> tuple[bool, bool]:
        """(training, evaluation): whether anything of each is still up (None: assume so)."""
        containers = docker.containers()
        swarm = self._swarm()
        if containers is None:
            return True, True
        training = any(c.running and (c.sagemaker or c.in_stack()) for c in containers)
        evaluation = any(c.in_stack(EVAL_STACK) for c in containers)
        if swarm:
            training = training or docker.stack_tasks(STACK) != []
            evaluation = evaluation or docker.stack_tasks(EVAL_STACK) != []
        return training, evaluation

    def _run_stop(self, command: str, timeout_s: float) -> None:
        """``dr-stop-training`` / ``dr-stop-evaluation``, its output in ``<command>.log``."""
        stop_log = self._stop_log_of(command)
        stop_log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with stop_log.open("ab") as out:
                subprocess.run(
                    self._dr(command),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self._env(self._plan),
                    timeout=max(timeout_s, 60.0),
                    check=False,
                )
        except subprocess.TimeoutExpired:
            self._note(stop_log, f"{command} did not finish in time")
        if stop_log not in self._logs:
            self._logs.append(stop_log)

    def _teardown(self, timeout_s: float) -> bool:
        """dr-stop-training (dr-stop-evaluation for an evaluation, or when its stack is up),
        then make sure: SageMaker stopped, stacks removed, all gone."""
        docker = self._docker()
        training, evaluation = self._up(docker)
        # each stop script for what is up; with nothing up, the one of this attempt's kind
        if training or not (evaluation or self._evaluating):
            self._run_stop("dr-stop-training", timeout_s)
        if evaluation or (self._evaluating and not training):
            self._run_stop(drfc_eval.STOP, timeout_s)
        stop_log = self._stop_log_of(drfc_eval.STOP if self._evaluating else "dr-stop-training")
        deadline = time.monotonic() + timeout_s
        forced = False
        swarm = self._swarm()
        while True:
            containers = docker.containers()
            stacks = {s: docker.stack_tasks(s) if swarm else [] for s in (STACK, EVAL_STACK)}
            if containers is not None and all(t is not None for t in stacks.values()):
                sagemaker = [c for c in containers if c.sagemaker and c.running]
                up = [
                    c for c in containers if c.running and (c.in_stack() or c.in_stack(EVAL_STACK))
                ]
                left = [s for s, tasks in stacks.items() if tasks]
                if not sagemaker and not up and not left:
                    return True
                if not forced:
                    forced = True
                    if (
                        sagemaker
                    ):  # DRfC did not find it (e.g. another /tmp): its GPU memory stays taken
                        names = [c.name for c in sagemaker]
                        log.warning(SAGEMAKER_STOPPED, containers=names)
                        self._note(
                            stop_log,
                            f"SageMaker still running after dr-stop-training: stopping {names}",
                        )
                        docker.stop([c.id for c in sagemaker], timeout_s)
                    for stack in left:
                        log.warning(STACK_REMOVED, stack=stack)
                        self._note(
                            stop_log, f"stack {stack} still there after dr-stop-*: removing it"
                        )
                        docker.remove_stack(stack)
                    continue
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)

    def stop_strays(self, job_id: str, instance_id: str) -> int:
        """DRfC runs one stack per instance: one not adopted is a stray, whoever started it."""
        if self._active or not (self.home / "bin" / "activate.sh").is_file():
            return 0
        found = self._leftovers()
        if not found:
            return 0
        log.warning(LEFTOVERS_FOUND, job_id=job_id, instance_id=instance_id, found=found)
        self._teardown(self.stop_timeout_s)
        return 1

    def _ours(self, containers: list[Container]) -> list[Container]:
        """The attempt's containers: SageMaker and the stacks' (training, evaluation)."""
        return [c for c in containers if c.sagemaker or c.in_stack() or c.in_stack(EVAL_STACK)]

    def _save_container_logs(self) -> None:
        """Every container's log into ``attempt-N-containers.log`` (the job keeps it), and
        each one's tail for ``leftovers``: simapp's fatal lines come last in a container's
        own log, whichever container it is, however long the others' logs are."""
        if self._plan is None:
            return
        path = self._plan.work_dir / f"attempt-{self._plan.attempt}-containers.log"
        docker = self._docker()
        tails = []
        with path.open("wb") as out:
            for c in self._ours(docker.containers() or []):
                head = f"===== docker logs {c.name} ({c.state}) =====\n"
                body = docker.logs(c.id)
                out.write(head.encode())
                out.write(body)
                tails.append(head + body[-LOG_TAIL_BYTES:].decode("utf-8", "replace"))
        self._tails = "".join(tails)
        if path not in self._logs:
            self._logs.append(path)

    def log_files(self) -> list[Path]:
        return [p for p in self._logs if p.exists()]

    def containers(self) -> tuple[hangs.Container, ...]:
        """The attempt's containers, from one ``docker ps -a`` and one ``docker inspect``
        of them all (exit code, RestartCount, OOMKilled)."""
        if not self._active:
            return ()
        docker = self._docker()
        listed, self._listed = self._listed, None
        fresh = listed is not None and time.monotonic() - listed[0] < LISTING_REUSE_S
        ours = self._ours(listed[1] if listed is not None and fresh else docker.containers() or [])
        states = docker.states([c.id for c in ours])
        seen = []
        for c in ours:
            code, restarts, oom = states.get(c.id, (None, 0, False))
            seen.append(
                hangs.Container(
                    c.name, _role(c), c.state, None if c.running else code, restarts, oom
                )
            )
        return tuple(seen)

    def leftovers(self) -> Leftovers:
        """Exit code, the attempt's own logs (its start log and each container's log tail,
        saved before teardown; never an earlier attempt's containers) and the containers:
        as they are now, or, once stopped, as the stop found them."""
        if self._active:
            containers = self.containers()
            if containers:
                self._save_container_logs()
            _, code = self.status()
        else:
            containers, code = self._seen, None
        if self._plan is None or self._tails is None:  # adopted: what its logs hold
            logs = "\n".join(tail(p) for p in self.log_files())
        else:
            logs = f"{tail(self._plan.log_path)}\n{self._tails}"
        return Leftovers(exit_code=code, logs=logs, containers=containers)
