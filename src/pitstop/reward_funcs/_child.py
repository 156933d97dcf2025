"""The sandbox child: runs untrusted reward functions over the sweep the parent sends.

Started by ``pitstop.reward_funcs.sandbox`` as ``python -m pitstop.reward_funcs._child
REQUEST_FILE PROGRESS_FILE``. It imports nothing heavy (no NumPy unless the reward does) so it
starts in a fraction of a second. Protocol:

- REQUEST_FILE: a pickle written by the parent (trusted) with the sources, the sweep as plain
  lists, the limits and the isolation to apply;
- this process confines itself before any reward code runs (``confine``: a network
  namespace, the file wall (a mount namespace holding only Python's library, and Landlock),
  no new privileges, an unprivileged user when started as root, not dumpable); it fails
  closed when a wall it was asked for cannot be had;
- it runs **no reward code itself**: each source runs in a forked worker that adds its own
  Landlock domain, its resource limits (address space, CPU seconds, no file writes, no new
  processes) and the guard (an audit hook that records every file, network or process
  attempt), execs the module and calls ``reward_function`` with a fresh params dict per
  state, as the simulator does (``float(reward_function(copy.deepcopy(params)))``). The
  worker reports on a pipe of its own; the result channel (this process's stdout) is
  closed in the worker, so reward code cannot find it by walking frames or descriptors;
- this process checks the worker's report (fields, types, sizes), and fails the source
  when the worker exits before reporting, reports garbage, or stops short of the sweep
  before its time budget; messages are cut to ``MAX_MESSAGE`` characters;
- before each call the worker writes (source index, state index) into PROGRESS_FILE (mmap),
  so the parent can name the params even when it has to kill the processes;
- one JSON line per source goes to the parent (with every value when the request asks to
  ``collect`` them, for the preview); reward code's own prints go to stderr, which the
  parent reads with a cap. A source that tried anything the sandbox does not allow fails
  with rule ``sandbox`` and a message naming the first attempt and the layer that stopped
  it, even when the reward caught the error and carried on.

The parent never unpickles anything this process writes.
"""

from __future__ import annotations

import contextlib
import encodings.ascii  # noqa: F401  (looked up lazily; the library may be unreadable later)
import json
import linecache
import math
import mmap
import numbers
import os
import pickle
import resource
import signal
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

MIN_REWARD = -1e5
MAX_REWARD = 1e5
MAX_MESSAGE = 300  # a failure message (an exception's first line) is cut to this many characters
MAX_REPORT_BYTES = 64 << 20  # what one worker may report (every value of a large sweep)


class CallTimeout(BaseException):
    """Raised by SIGALRM inside a reward call; BaseException so ``except Exception`` misses it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CallTimeout()


def _vm_size_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _set_limits(limits: dict[str, Any], vm_base: int) -> None:
    mem = int(limits["memory_bytes"])
    if mem > 0:
        cap = vm_base + mem
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    cpu = math.ceil(float(limits["cpu_seconds"]))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises OSError
    for name, value in (("RLIMIT_FSIZE", 0), ("RLIMIT_CORE", 0), ("RLIMIT_NPROC", 0)):
        res = getattr(resource, name, None)
        if res is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(res, (value, value))


def _user_line(tb: Any, filename: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):  # no source lookup: no file is opened
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


def _describe_exc(e: BaseException) -> str:
    try:
        text = str(e).strip().splitlines()
    except BaseException:  # a hostile __str__
        text = []
    msg = text[0][:MAX_MESSAGE] if text else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _params_factory(rows: dict[str, Any]) -> tuple[int, Any]:
    """A function i -> fresh params dict, built from the parent's plain-list columns."""
    blocks = rows["blocks"]
    speed, steering, steps, crashed = (
        rows["speed"],
        rows["steering"],
        rows["steps"],
        rows["crashed"],
    )
    override = rows["progress_override"]
    defaults = rows["object_defaults"]
    total = len(speed)

    def make(i: int) -> dict[str, Any]:
        for b in blocks:
            if b["lo"] <= i < b["hi"]:
                break
        j = i - b["lo"]
        c = b["cols"]
        prev, nxt = c["closest_waypoints"][j]
        p: dict[str, Any] = {
            "all_wheels_on_track": c["all_wheels_on_track"][j],
            "x": c["x"][j],
            "y": c["y"][j],
            "heading": c["heading"][j],
            "distance_from_center": c["distance_from_center"][j],
            "projection_distance": c["projection_distance"][j],
            "is_left_of_center": c["is_left_of_center"][j],
            "is_reversed": b["is_reversed"],
            "is_crashed": crashed[i],
            "is_offtrack": c["is_offtrack"][j],
            "progress": override.get(i, c["progress"][j]),
            "speed": speed[i],
            "steering_angle": steering[i],
            "steps": steps[i],
            "track_width": c["track_width"][j],
            "track_length": b["track_length"],
            # tuples are immutable, so a new list is as good as simapp's deepcopy
            "waypoints": list(b["waypoints"]),
            "closest_waypoints": [prev, nxt],
            "sim_time": steps[i] / 15.0,
        }
        for k, v in defaults.items():
            p[k] = list(v) if isinstance(v, list) else v
        return p

    return total, make


def _check_value(value: Any) -> tuple[str, str] | None:
    """None when the simulator accepts ``value``, else (rule, message)."""
    if value is None:
        return "type", "returned None, not a float"
    if isinstance(value, bool):
        return None  # float(True) works in the simulator
    if not isinstance(value, numbers.Real):
        return "type", f"returned {type(value).__name__}, not a float"
    f = float(value)
    if math.isnan(f):
        return "nan", "returned nan"
    if math.isinf(f):
        return "inf", f"returned {f}"
    if not MIN_REWARD <= f <= MAX_REWARD:
        return "range", f"returned {f:g}, outside [-1e5, 1e5]"
    return None


def _run_one(
    index: int,
    source: str,
    filename: str,
    total: int,
    make: Any,
    limits: dict[str, Any],
    progress: mmap.mmap,
    collect: bool = False,
) -> dict[str, Any]:
    result: dict[str, Any] = {"index": index, "calls": 0, "cases_total": total, "failure": None}
    values: list[float] = []
    if collect:
        result["values"] = values
    call_limit = float(limits["call_seconds"])
    budget = float(limits["budget_seconds"])
    namespace: dict[str, Any] = {"__name__": "reward_function_module", "__file__": filename}
    # tracebacks and warnings read the source from here, never from a file
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        code = compile(source, filename, "exec")
        signal.setitimer(signal.ITIMER_REAL, max(call_limit, 1.0) * 5)
        try:
            exec(code, namespace)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except CallTimeout:
        result["failure"] = {
            "rule": "timeout",
            "case": None,
            "message": "module code did not finish loading in time",
            "line": None,
        }
        return result
    except MemoryError:
        result["failure"] = {
            "rule": "memory",
            "case": None,
            "message": "ran out of memory while loading",
            "line": None,
        }
        return result
    except BaseException as e:  # the module itself raised: the simulator would not start
        result["failure"] = {
            "rule": "load",
            "case": None,
            "message": f"raised {_describe_exc(e)} when loaded",
            "line": _user_line(e.__traceback__, filename),
        }
        return result
    fn = namespace.get("reward_function")
    if not callable(fn):
        result["failure"] = {
            "rule": "signature",
            "case": None,
            "message": "defines no callable reward_function",
            "line": None,
        }
        return result

    spent = 0.0
    max_call = 0.0
    started = time.monotonic()
    setitimer = signal.setitimer
    itimer = signal.ITIMER_REAL
    clock = time.perf_counter
    for i in range(total):
        params = make(i)
        struct.pack_into("qq", progress, 0, index, i)
        t0 = clock()
        try:
            setitimer(itimer, call_limit)
            try:
                value = fn(params)
            finally:
                setitimer(itimer, 0)
        except CallTimeout:
            result["failure"] = {
                "rule": "timeout",
                "case": i,
                "message": f"did not return within {call_limit:g} s (infinite loop?)",
                "line": None,
            }
            break
        except MemoryError:
            result["failure"] = {
                "rule": "memory",
                "case": i,
                "message": "ran out of memory (MemoryError)",
                "line": None,
            }
            break
        except BaseException as e:
            result["failure"] = {
                "rule": "exception",
                "case": i,
                "message": f"raised {_describe_exc(e)}",
                "line": _user_line(e.__traceback__, filename),
            }
            break
        dt = clock() - t0
        spent += dt
        if dt > max_call:
            max_call = dt
        result["calls"] = i + 1
        bad = _check_value(value)
        if bad is not None:
            result["failure"] = {"rule": bad[0], "case": i, "message": bad[1], "line": None}
            break
        if collect:
            values.append(float(value))
        if i % 64 == 63 and time.monotonic() - started > budget:
            break
    result["call_seconds_total"] = spent
    result["max_call_seconds"] = max_call
    return result


def _confine(
    isolation: dict[str, Any], texts: list[str], workdir: str
) -> tuple[Any, list[str], int]:
    """Shut this process in (see ``confine``): returns (confinement, import roots, VM size).

    The VM size is measured before ``/proc`` disappears behind the file wall; the worker's
    memory limit is counted from it."""
    from pitstop.reward_funcs import confine
    from pitstop.reward_funcs.static import ALLOWED_MODULES

    conf = confine.Confinement()
    if isolation.get("network_namespace", True):
        confine.enter_network_namespace(conf)
    else:
        conf.network_note = "not asked for"
    # Imports first, while the library is surely readable: the sandbox user may not be able
    # to read it (a Python under /root, as pyenv installs it), and the file wall shows
    # nothing else. Only allowed modules from sys.path (never the working directory).
    confine.preimport(texts, ALLOWED_MODULES)
    vm_base = _vm_size_bytes()
    roots = confine.import_roots()
    if isolation.get("file_wall", True):
        confine.enter_mount_namespace(conf, roots, workdir)
        # a root may be a symbolic link's target: the paths on sys.path may not exist inside
        sys.path[:] = [os.path.realpath(p) for p in sys.path if p]
    else:
        conf.files_note = "not asked for"
    confine.no_new_privileges(conf)
    confine.drop_privileges(
        conf,
        int(isolation.get("uid", confine.NOBODY)),
        int(isolation.get("gid", confine.NOBODY)),
        str(isolation.get("user", "nobody")),
    )
    if conf.failure is not None:
        return conf, roots, vm_base
    confine.not_dumpable()
    if isolation.get("file_wall", True):
        confine.enter_landlock(conf, [*roots, *confine.DEVICES])
        if conf.files == confine.GUARD and isolation.get("require_file_wall", True):
            conf.failure = (
                f"no kernel wall around the file system ({conf.files_note}); "
                "refusing to run reward code behind the in-process guard alone"
            )
    return conf, roots, vm_base


@dataclass(frozen=True)
class Sweep:
    """What every source of one request shares: the states, the request, the confinement."""

    total: int
    make: Any  # i -> a fresh params dict
    request: dict[str, Any]
    progress: mmap.mmap
    conf: Any  # confine.Confinement
    roots: list[str]
    vm_base: int  # VM size before the walls: the worker's memory limit counts from it


def _worker(sw: Sweep, parent: int, index: int, source: str, filename: str, channel: int) -> None:
    """The forked process that runs one reward: confines itself further, reports on
    ``channel``, exits. Never returns."""
    from pitstop.reward_funcs import confine

    total, make, request, progress = sw.total, sw.make, sw.request, sw.progress
    conf, roots = sw.conf, sw.roots
    if not confine.die_with_parent(parent):
        os._exit(71)
    isolation = request.get("isolation", {})
    limits = request["limits"]
    if conf.landlock_abi:  # a nested domain: no signals to the parent either
        confine.enter_landlock(conf, [*roots, *confine.DEVICES])
    _set_limits(limits, sw.vm_base)
    guard = confine.Guard(conf, roots)

    def case() -> int | None:  # which state the reward was called with, if any
        c = int(struct.unpack_from("qq", progress, 0)[1])
        return c if c >= 0 else None

    guard.where = case
    guard.filename = filename
    if isolation.get("guard", True):
        guard.install()
    signal.signal(signal.SIGALRM, _on_alarm)
    result = _run_one(
        index, source, filename, total, make, limits, progress, bool(request.get("collect"))
    )
    if guard.attempts:
        _sandbox_failure(result, list(guard.attempts))
    data = json.dumps(result).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(channel, view) :]
    os._exit(0)


def _read_all(fd: int, cap: int) -> tuple[bytes, bool]:
    """What the worker reports, at most ``cap`` bytes; True when it wrote more."""
    chunks: list[bytes] = []
    size = 0
    over = False
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        if size + len(chunk) > cap:
            over = True
            continue  # drain, keep nothing more
        chunks.append(chunk)
        size += len(chunk)
    os.close(fd)
    return b"".join(chunks), over


_RULES = frozenset(
    {
        "timeout",
        "memory",
        "load",
        "signature",
        "exception",
        "type",
        "nan",
        "inf",
        "range",
        "sandbox",
    }
)


def _clip(value: Any, size: int = MAX_MESSAGE) -> str:
    text = str(value)
    return text if len(text) <= size else text[: size - 3] + "..."


def _checked(raw: Any, index: int, total: int, collect: bool) -> dict[str, Any] | None:
    """The worker's report with every field checked, or None when it is not one."""
    if not isinstance(raw, dict) or raw.get("index") != index:
        return None
    calls, failure, values = raw.get("calls"), raw.get("failure"), raw.get("values")
    if type(calls) is not int or not 0 <= calls <= total:
        return None
    out: dict[str, Any] = {"index": index, "calls": calls, "cases_total": total}
    for key in ("call_seconds_total", "max_call_seconds"):
        v = raw.get(key, 0.0)
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            return None
        out[key] = float(v)
    if failure is not None:
        if not isinstance(failure, dict) or failure.get("rule") not in _RULES:
            return None
        case, line = failure.get("case"), failure.get("line")
        if case is not None and (type(case) is not int or not 0 <= case < total):
            case = None
        if line is not None and (type(line) is not int or line < 0):
            line = None
        clean: dict[str, Any] = {
            "rule": failure["rule"],
            "case": case,
            "message": _clip(failure.get("message", "")),
            "line": line,
        }
        attempts = failure.get("attempts")
        if isinstance(attempts, list):
            clean["attempts"] = [
                {"what": _clip(a.get("what"), 200), "held_by": _clip(a.get("held_by"), 120)}
                for a in attempts[:20]
                if isinstance(a, dict)
            ]
        out["failure"] = clean
    else:
        out["failure"] = None
    if collect:
        # a value is kept only once it passed the checks: the failing call has none
        if not isinstance(values, list) or len(values) not in (calls, calls - 1):
            return None
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            return None
        out["values"] = [float(v) for v in values]
    return out


def _run_in_worker(
    sw: Sweep, index: int, source: str, filename: str, result_fd: int
) -> dict[str, Any]:
    """Run one reward in a forked worker; judge what it reports against what this process
    saw (its exit, the swept states, the time it took)."""
    total, request, progress = sw.total, sw.request, sw.progress
    limits = request["limits"]
    collect = bool(request.get("collect"))
    read_end, write_end = os.pipe()
    parent = os.getpid()
    struct.pack_into("qq", progress, 0, index, -1)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the worker: it never sees the result channel
        try:
            os.close(read_end)
            os.close(result_fd)
            _worker(sw, parent, index, source, filename, write_end)
        finally:
            os._exit(70)
    os.close(write_end)
    data, over = _read_all(read_end, MAX_REPORT_BYTES)
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - started
    last_source, last_case = struct.unpack_from("qq", progress, 0)
    case = last_case if last_source == index and last_case >= 0 else None
    base: dict[str, Any] = {"index": index, "calls": case or 0, "cases_total": total}
    if over:
        return {
            **base,
            "failure": {
                "rule": "killed",
                "case": case,
                "line": None,
                "message": f"reported more than {MAX_REPORT_BYTES >> 20} MiB; refused",
            },
        }
    if status != 0:
        from pitstop.reward_funcs.sandbox import describe_exit

        rule, message = describe_exit(os.waitstatus_to_exitcode(status))
        return {**base, "failure": {"rule": rule, "case": case, "message": message, "line": None}}
    try:
        raw = json.loads(data)
    except ValueError:
        raw = None
    result = _checked(raw, index, total, collect)
    if result is None:
        return {
            **base,
            "failure": {
                "rule": "killed",
                "case": case,
                "line": None,
                "message": "its process ended without a valid report of the swept states",
            },
        }
    budget = float(limits["budget_seconds"])
    if result["failure"] is None and result["calls"] < total and elapsed < budget:
        result["failure"] = {
            "rule": "killed",
            "case": case,
            "line": None,
            "message": (
                f"stopped after {result['calls']} of {total} swept states without a "
                f"failure, before its time budget ({elapsed:.1f} s of {budget:g} s)"
            ),
        }
    return result


def _sandbox_failure(result: dict[str, Any], attempts: list[Any]) -> None:
    """Turn what the reward tried into the source's failure (it outranks any other)."""
    first = attempts[0]
    message = first.describe()
    more = len(attempts) - 1
    if more:
        message += f" (and {more} more attempt{'s' if more > 1 else ''})"
    old = result.get("failure") or {}
    result["failure"] = {
        "rule": "sandbox",
        "case": first.case if first.case is not None else old.get("case"),
        "message": message,
        "line": first.line if first.line is not None else old.get("line"),
        "attempts": [{"what": a.what, "held_by": a.held_by, "line": a.line} for a in attempts[:20]],
    }


def main() -> int:
    request_path, progress_path = sys.argv[1], sys.argv[2]
    cwd = os.path.realpath(os.getcwd())
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != cwd]  # not from cwd
    with open(request_path, "rb") as f:
        request = pickle.load(f)
    result_fd = os.dup(1)  # the result channel: only this process writes it
    os.dup2(2, 1)  # reward prints go to stderr, never into the protocol
    sys.stdout = sys.stderr
    with open(progress_path, "r+b") as pf:
        progress = mmap.mmap(pf.fileno(), 16)
    total, make = _params_factory(request["rows"])
    sources = request["sources"]
    conf, roots, vm_base = _confine(request.get("isolation", {}), [s for s, _ in sources], cwd)
    sw = Sweep(total, make, request, progress, conf, roots, vm_base)
    for index, (source, filename) in enumerate(sources):
        if conf.failure is not None:  # fail closed: no reward code runs
            result: dict[str, Any] = {
                "index": index,
                "calls": 0,
                "cases_total": total,
                "failure": {
                    "rule": "sandbox",
                    "case": None,
                    "message": f"not run: {conf.failure}",
                    "line": None,
                },
            }
        else:
            result = _run_in_worker(sw, index, source, filename, result_fd)
        result["isolation"] = conf.as_dict()
        view = memoryview((json.dumps(result) + "\n").encode())
        while view:
            view = view[os.write(result_fd, view) :]
    return 0


if __name__ == "__main__":
    sys.exit(main())
