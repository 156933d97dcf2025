"""The reward-function validator: static rules, then a sandboxed sweep over a track.

``validate_source`` / ``validate_file`` never raise for a bad reward function: they return
a ``ValidationReport`` whose ``reason`` is one line naming the file and the first rule
broken (with the params that broke it for dynamic failures). They raise ``InvalidInput``
only for a file that cannot be read. What the simulator accepts (simapp's
``float(reward_function(copy.deepcopy(params)))`` then NaN/inf/range checks):

- a ``float``, or an ``int`` (or ``bool``, NumPy scalar): ``float()`` of it is what counts;
- finite, within [-1e5, 1e5].
Anything else (``None``, a string, a list), an exception, or a call that does not return
within the time limit fails the check.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pitstop import tracks
from pitstop.files import read_user_file
from pitstop.reward_funcs import harness, sandbox, static
from pitstop.tracks import Track

DEFAULT_TRACK = "reInvent2019_track"
SLOW_CALL_SECONDS = 0.001  # warn above 1 ms per call: the simulator calls ~15x a second

# params shown in a one-line reason, in this order
_SHORT_KEYS = (
    "closest_waypoints",
    "x",
    "y",
    "heading",
    "distance_from_center",
    "is_left_of_center",
    "all_wheels_on_track",
    "is_offtrack",
    "is_crashed",
    "is_reversed",
    "progress",
    "speed",
    "steering_angle",
    "steps",
    "track_width",
)


@dataclass(frozen=True)
class Problem:
    """One broken rule. ``params`` is set for dynamic failures (waypoints summarised)."""

    rule: str
    message: str
    line: int | None = None
    params: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "line": self.line,
            "params": self.params,
        }


@dataclass
class ValidationReport:
    """The outcome of validating one reward function file."""

    filename: str
    track: str
    ok: bool = True
    reason: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    calls: int = 0
    cases_total: int = 0
    calls_per_second: float | None = None
    mean_call_ms: float | None = None
    max_call_ms: float | None = None
    dynamic_checked: bool = False
    elapsed_s: float = 0.0
    sandbox: dict[str, Any] | None = None  # how the dynamic check was confined (confine.py)

    def fail(self, problem: Problem, reason: str) -> None:
        self.problems.append(problem)
        if self.ok:
            self.ok = False
            self.reason = reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.filename,
            "track": self.track,
            "ok": self.ok,
            "reason": self.reason,
            "problems": [p.to_dict() for p in self.problems],
            "warnings": list(self.warnings),
            "calls": self.calls,
            "cases_total": self.cases_total,
            "calls_per_second": self.calls_per_second,
            "mean_call_ms": self.mean_call_ms,
            "max_call_ms": self.max_call_ms,
            "dynamic_checked": self.dynamic_checked,
            "elapsed_s": round(self.elapsed_s, 3),
            "sandbox": self.sandbox,
        }


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return repr(v) if isinstance(v, str) else str(v)


def short_params(params: dict[str, Any]) -> str:
    """A one-line summary of a params dict: position, state and action, no waypoints."""
    parts = []
    for k in _SHORT_KEYS:
        if k not in params:
            continue
        v = params[k]
        if k in ("is_offtrack", "is_crashed", "is_reversed") and not v:
            continue
        parts.append(f"{k}={_fmt(v)}")
    return "{" + ", ".join(parts) + "}"


def _public_params(params: dict[str, Any], track_name: str) -> dict[str, Any]:
    out = dict(params)
    wp = out.pop("waypoints", [])
    out["waypoints"] = f"<{len(wp)} waypoints of {track_name}>"
    return out


_SWEEPS: dict[tuple[str, str, int], harness.Sweep] = {}


def _sweep_for(track: Track, stride: int) -> harness.Sweep:
    """The sweep for a track, built once per process (the supervisor validates often)."""
    key = (track.name, hashlib.sha1(track.waypoints.tobytes()).hexdigest(), stride)
    sw = _SWEEPS.get(key)
    if sw is None:
        if len(_SWEEPS) >= 32:
            _SWEEPS.clear()
        sw = _SWEEPS[key] = harness.sweep(track, stride=stride)
    return sw


def _decode(source: str | bytes, filename: str) -> tuple[str | None, Problem | None]:
    if isinstance(source, str):
        return source, None
    try:
        return source.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        return None, Problem("encoding", f"not UTF-8 text (byte {e.start})")


def validate_many(
    items: list[tuple[str | bytes, str]],
    *,
    track: Track | None = None,
    dynamic: bool = True,
    stride: int = 1,
    limits: sandbox.Limits | None = None,
) -> list[ValidationReport]:
    """Validate several files against one track with a single sandbox child.

    Static failures skip the dynamic check for that file. ``stride`` > 1 sweeps every
    stride-th waypoint only (for quick tests); the default sweeps all of them.
    """
    import time

    t0 = time.monotonic()
    track = track or tracks.load(DEFAULT_TRACK)
    reports: list[ValidationReport] = []
    runnable: list[tuple[int, str]] = []
    for source, filename in items:
        report = ValidationReport(filename=filename, track=track.name)
        reports.append(report)
        text, problem = _decode(source, filename)
        if text is None:
            assert problem is not None
            report.fail(problem, f"{filename}: {problem.message}")
            continue
        for sp in static.check_source(text):
            report.fail(Problem(sp.rule, sp.message, sp.line), sp.describe(filename))
        if report.ok:
            missing = _missing_modules(text)
            if missing and dynamic:
                report.warnings.append(
                    f"{', '.join(missing)} not installed here: the dynamic check was not run"
                )
            elif dynamic:
                runnable.append((len(reports) - 1, text))
    if runnable:
        sw = _sweep_for(track, stride)
        results = sandbox.run(
            [(text, reports[i].filename) for i, text in runnable], sw.as_rows(), limits
        )
        for (i, _), res in zip(runnable, results, strict=True):
            _apply(reports[i], res, sw, track)
    elapsed = time.monotonic() - t0
    for r in reports:
        r.elapsed_s = elapsed
    return reports


def _missing_modules(text: str) -> list[str]:
    import ast
    import importlib.util

    roots: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    roots.discard("__future__")
    return sorted(r for r in roots if importlib.util.find_spec(r) is None)


def _apply(
    report: ValidationReport, res: sandbox.ChildResult, sw: harness.Sweep, track: Track
) -> None:
    report.dynamic_checked = True
    report.sandbox = res.isolation
    printed = ""
    if res.printed_bytes > sandbox.PRINT_WARNING:
        printed = (
            f"it printed {sandbox.size_text(res.printed_bytes)} during the check (only the last "
            f"{sandbox.STDERR_TAIL} bytes were kept); the simulator logs every print"
        )
        report.warnings.append(printed)
    report.calls = res.calls
    report.cases_total = res.cases_total or len(sw)
    if res.calls and res.call_seconds_total > 0:
        mean = res.call_seconds_total / res.calls
        report.calls_per_second = round(1.0 / mean, 1)
        report.mean_call_ms = round(mean * 1000.0, 4)
        report.max_call_ms = round(res.max_call_seconds * 1000.0, 3)
        if mean > SLOW_CALL_SECONDS:
            report.warnings.append(
                f"one call costs {mean * 1000:.2f} ms on average (more than 1 ms); the "
                "simulator calls it about 15 times a second per worker"
            )
    f = res.failure
    if f is None:
        if res.calls < report.cases_total:
            report.warnings.append(
                f"checked {res.calls} of {report.cases_total} states within the time budget "
                "(the function is slow); the rest were not called"
            )
        return
    case = f.get("case")
    params = sw.params(case) if isinstance(case, int) and 0 <= case < len(sw) else None
    where = f"line {f['line']}: " if f.get("line") else ""
    reason = f"{report.filename}: {where}{f['message']}"
    if params is not None:
        reason += f" for params {short_params(params)}"
    if printed:
        reason += f" ({printed})"
    report.fail(
        Problem(
            rule=str(f["rule"]),
            message=str(f["message"]),
            line=f.get("line"),
            params=_public_params(params, track.name) if params is not None else None,
        ),
        reason,
    )


def validate_source(
    source: str | bytes,
    filename: str,
    *,
    track: Track | None = None,
    dynamic: bool = True,
    stride: int = 1,
    limits: sandbox.Limits | None = None,
) -> ValidationReport:
    """Validate one reward function's source (see the module docstring for the rules)."""
    return validate_many(
        [(source, filename)], track=track, dynamic=dynamic, stride=stride, limits=limits
    )[0]


def validate_file(
    path: str | Path,
    *,
    track: Track | None = None,
    dynamic: bool = True,
    stride: int = 1,
    limits: sandbox.Limits | None = None,
) -> ValidationReport:
    """Validate a reward function file; ``InvalidInput`` if it cannot be read."""
    p = Path(path)
    data = read_user_file(p)
    return validate_source(data, p.name, track=track, dynamic=dynamic, stride=stride, limits=limits)
