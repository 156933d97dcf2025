"""Why an attempt stopped: a pure classifier from what the attempt left to one of three classes.

- ``user_error``: the job's own input fails, and will fail the same way on every restart
  (a reward function that raises, a model that does not load). The job fails at once,
  with simapp's message and the reward function's line; no restart is spent.
- ``infrastructure``: the machine failed, not the job (a GPU Xid, CUDA out of memory, a
  driver/library mismatch, the host's OOM killer, a full disk, S3 unreachable). The
  attempt is restarted; it does not count against ``max_restarts`` but against its own
  budget (``max_infra_restarts``).
- ``unknown``: anything else; counts against ``max_restarts`` as every crash did before.

simapp says why it stops (REFERENCE.md, "How simapp says why it stopped"): one JSON line
``{"simapp_exception": {..., "eventType": "user_error" | "system_error", "errorCode": ...}}``
then ``ERROR: FAULT_CODE: N``; only the first fatal error is logged. That line outranks
everything else; without it, a Python traceback ending in ``reward_function.py`` is a user
error too, and the GPU/host patterns below are infrastructure.

The supervisor gathers the evidence (``Leftovers``: exit code, log tail, container states,
host messages); the lifecycle calls ``classify`` and acts on the class.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from enum import Enum

from pitstop.core.hangs import RESTART_LIMIT, Container, container_hang


class FailureKind(str, Enum):
    USER_ERROR = "user_error"
    INFRASTRUCTURE = "infrastructure"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Leftovers:
    """What an attempt left behind once its trainer is down."""

    exit_code: int | None = None
    logs: str = ""  # the tail of the attempt's logs (every container's), oldest first
    containers: tuple[Container, ...] = ()
    host: str = ""  # the instance's own messages (kernel: NVRM Xid, OOM killer)


@dataclass(frozen=True)
class Diagnosis:
    kind: FailureKind
    reason: str  # one line: simapp's message, the pattern seen, or the exit
    signature: str | None = None  # a known failure's name: reward_error, gpu_xid, ...
    fault_code: int | None = None  # simapp's FAULT_CODE
    line: int | None = None  # reward_function.py's line, for a reward error

    def describe(self) -> str:
        """``user_error: <reason>``: the class and reason in one line (job, dashboard, mail)."""
        return f"{self.kind.value}: {self.reason}"


UNKNOWN = Diagnosis(FailureKind.UNKNOWN, "no cause found in the attempt's logs")

_MAX_REASON = 300
_SIMAPP_JSON = re.compile(r'\{\s*"simapp_exception"\s*:')
_FAULT_CODE = re.compile(r"FAULT_CODE:\s*(\d+)")
_REWARD_FRAME = re.compile(r'File "[^"]*reward_function\.py", line (\d+)')
_TRACEBACK_END = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)\b.*)$", re.M)
_USER_CODES = ("400", "401")

# (signature, pattern, what it means): GPU, driver and host faults no job input causes
_INFRASTRUCTURE: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("gpu_xid", re.compile(r"NVRM: Xid \([^)]*\): (\d+)|\bXid\b[^\n]*?: (\d+)"), "GPU Xid error"),
    (
        "cuda_oom",
        re.compile(
            r"CUDA out of memory|CUDA_ERROR_OUT_OF_MEMORY|OOM when allocating|"
            r"ResourceExhaustedError|failed to allocate [^\n]* from device"
        ),
        "GPU out of memory",
    ),
    (
        "driver_mismatch",
        re.compile(
            r"Driver/library version mismatch|Failed to initialize NVML|NVIDIA-SMI has failed|"
            r"could not select device driver|no CUDA-capable device is detected|"
            r"CUDA driver version is insufficient|CUDA_ERROR_NO_DEVICE"
        ),
        "GPU driver or runtime mismatch",
    ),
    (
        "cuda_error",
        re.compile(
            r"CUDA error: an illegal memory access|CUDA_ERROR_ILLEGAL_ADDRESS|"
            r"GPU has fallen off the bus|CUBLAS_STATUS_EXECUTION_FAILED"
        ),
        "GPU fault",
    ),
    ("disk_full", re.compile(r"No space left on device"), "the instance's disk is full"),
    (
        "certificate",
        re.compile(r"x509: certificate (?:has expired|signed by unknown authority)"),
        "Docker certificate check failed (an old AMI)",
    ),
    (
        "sagemaker_not_running",
        re.compile(r"Sagemaker is not running", re.I),
        "SageMaker did not start (driver, runtime or image mismatch)",
    ),
    (
        "s3_unreachable",
        re.compile(
            r"Could not connect to the endpoint URL|Connect timeout on endpoint URL|"
            r"No Internet connection or s3 service unavailable"
        ),
        "S3 unreachable from the trainer",
    ),
    (
        "host_oom",
        re.compile(r"Out of memory: Killed process|oom-kill"),
        "the host ran out of memory",
    ),
)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def simapp_exception(logs: str) -> dict[str, str] | None:
    """The first ``simapp_exception`` JSON in the logs (simapp logs only the first), or None.
    A line that is not valid JSON is skipped, never guessed at."""
    for m in _SIMAPP_JSON.finditer(logs):
        start = m.start()
        end = logs.find("\n", start)
        line = logs[start : end if end >= 0 else len(logs)].strip()
        try:
            doc = json.JSONDecoder().raw_decode(line)[0]
        except ValueError:
            continue
        inner = doc.get("simapp_exception") if isinstance(doc, dict) else None
        if isinstance(inner, dict):
            return {str(k): str(v) for k, v in inner.items()}
    return None


def _fault_code(logs: str) -> int | None:
    m = _FAULT_CODE.search(logs)
    return int(m.group(1)) if m else None


def _reward_line(logs: str) -> int | None:
    lines = _REWARD_FRAME.findall(logs)
    return int(lines[-1]) if lines else None


def _reward_traceback(logs: str) -> tuple[int, str] | None:
    """A Python traceback whose innermost frame is reward_function.py: its line and error."""
    frames = list(_REWARD_FRAME.finditer(logs))
    if not frames:
        return None
    last = frames[-1]
    after = logs[last.end() :]
    # the innermost frame must be the reward file's: no other File "..." after it
    if re.search(r'^\s*File "', after, re.M):
        return None
    error = _TRACEBACK_END.search(after)
    return int(last.group(1)), (error.group(1).strip() if error else "the reward function raised")


def _with_line(reason: str, line: int | None) -> str:
    return f"{reason} (reward_function.py line {line})" if line is not None else reason


def _infrastructure(left: Leftovers) -> Diagnosis | None:
    text = f"{left.host}\n{left.logs}"
    for signature, pattern, meaning in _INFRASTRUCTURE:
        m = pattern.search(text)
        if m:
            seen = _clip(_line_at(text, m.start()))
            return Diagnosis(FailureKind.INFRASTRUCTURE, f"{meaning}: {seen}", signature)
    oom = [c for c in left.containers if c.oom_killed]
    if oom:
        why = f"the host's OOM killer stopped container {oom[0].name}"
        return Diagnosis(FailureKind.INFRASTRUCTURE, why, "host_oom")
    return None


def _line_at(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start : end if end >= 0 else len(text)].strip()


def classify(left: Leftovers) -> Diagnosis:
    """The class of a failed attempt, from what it left. Pure."""
    code = _fault_code(left.logs)
    exc = simapp_exception(left.logs)
    if exc is not None:
        message = exc.get("message", "") or "simapp stopped with no message"
        if exc.get("eventType") == "user_error" or exc.get("errorCode") in _USER_CODES:
            line = _reward_line(left.logs)
            reward = "reward" in message.lower() or line is not None
            at = line if reward else None
            reason = _clip(_with_line(f"simapp: {message}", at))
            named = "reward_error" if reward else "simapp_user_error"
            return Diagnosis(FailureKind.USER_ERROR, reason, named, code, at)
    elif (traceback := _reward_traceback(left.logs)) is not None:
        at, error = traceback
        reason = _clip(_with_line(f"the reward function raised {error}", at))
        return Diagnosis(FailureKind.USER_ERROR, reason, "reward_error", code, at)
    infra = _infrastructure(left)
    if infra is not None:
        return replace(infra, fault_code=code)
    hang = container_hang(left.containers, RESTART_LIMIT)
    sig = hang.signature if hang is not None else None
    if exc is not None:
        return Diagnosis(FailureKind.UNKNOWN, _clip(f"simapp system error: {message}"), sig, code)
    if hang is not None:
        return Diagnosis(FailureKind.UNKNOWN, _clip(hang.describe()), sig, code)
    exit_text = "unknown" if left.exit_code is None else str(left.exit_code)
    reason = f"exit code {exit_text}; no cause found in the attempt's logs"
    return Diagnosis(FailureKind.UNKNOWN, reason, None, code)
