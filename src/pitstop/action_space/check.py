"""The rules of model_metadata.json, checked on the raw JSON document.

Every problem is one line that names its JSON path (``action_space[3].speed: 5 m/s is
above the console's 4.0``) so that it can stand alone as the reason a job was rejected.
Problems come in two kinds: *shape* problems (wrong types, missing keys: the document
cannot be read as metadata at all) and *rule* problems (limits and the rules between
keys). The editor reads files with rule problems so that it can repair them; everything
else refuses both kinds.

This module checks and reports; reading files and raising errors is left to ``io``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pitstop.action_space import limits as L


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    shape: bool = False  # True: the document cannot be read as metadata at all

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def is_number(value: object) -> bool:
    """A JSON number that is finite (``true`` is not a number; NaN is refused)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def fmt(x: float) -> str:
    """A number as a person writes it: 30, 1.5, 0.333."""
    return f"{float(x):.4g}"


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def shape(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, shape=True))

    def rule(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def number(self, doc: dict[str, Any], key: str, path: str) -> float | None:
        if key not in doc:
            self.shape(path, "missing")
            return None
        value = doc[key]
        if not is_number(value):
            self.shape(path, f"expected a finite number, got {_kind(value)} ({value!r})")
            return None
        return float(value)


def metadata_problems(doc: object) -> list[Problem]:
    """All problems of a model_metadata.json document, in document order."""
    c = _Collector()
    if not isinstance(doc, dict):
        c.shape("(document)", f"expected a JSON object, got {_kind(doc)}")
        return c.problems

    space_type = doc.get("action_space_type", "discrete")
    if space_type not in L.ACTION_SPACE_TYPES:
        c.shape(
            "action_space_type",
            f"{space_type!r} is not one of {', '.join(L.ACTION_SPACE_TYPES)}",
        )
        space_type = None

    if "action_space" not in doc:
        c.shape("action_space", "missing")
    else:
        space = doc["action_space"]
        if isinstance(space, list):
            if space_type == "continuous":
                c.shape(
                    "action_space",
                    'a list of discrete actions, but action_space_type is "continuous" '
                    '(continuous needs {"steering_angle": {"low", "high"}, "speed": {"low", "high"}})',
                )
            else:
                _check_discrete(c, space)
        elif isinstance(space, dict):
            if space_type == "discrete":
                where = "is missing" if "action_space_type" not in doc else 'is "discrete"'
                c.shape(
                    "action_space",
                    f"continuous ranges, but action_space_type {where}; "
                    'set "action_space_type": "continuous"',
                )
            else:
                _check_continuous(c, space)
        else:
            c.shape(
                "action_space",
                f"expected a list of actions or an object of ranges, got {_kind(space)}",
            )

    _check_sensors(c, doc)

    if "neural_network" in doc and doc["neural_network"] not in L.NETWORKS:
        c.shape(
            "neural_network", f"{doc['neural_network']!r} is not one of {', '.join(L.NETWORKS)}"
        )

    algorithm = doc.get("training_algorithm", L.DEFAULT_ALGORITHM)
    if algorithm not in L.ALGORITHMS:
        c.shape("training_algorithm", f"{algorithm!r} is not one of {', '.join(L.ALGORITHMS)}")
    elif algorithm == "sac" and space_type == "discrete":
        c.rule(
            "training_algorithm",
            "sac needs a continuous action space, but action_space_type is discrete "
            "(use clipped_ppo, or continuous ranges)",
        )

    _check_version(c, doc)
    _check_lidar_config(c, doc)
    return c.problems


def _check_discrete(c: _Collector, space: list[Any]) -> None:
    n = len(space)
    if not L.MIN_ACTIONS <= n <= L.MAX_ACTIONS:
        c.rule(
            "action_space",
            f"{n} actions; the console allows {L.MIN_ACTIONS} to {L.MAX_ACTIONS}",
        )
    seen: dict[tuple[float, float], int] = {}
    indexed = [i for i, a in enumerate(space) if isinstance(a, dict) and "index" in a]
    for i, action in enumerate(space):
        path = f"action_space[{i}]"
        if not isinstance(action, dict):
            c.shape(path, f'expected {{"steering_angle", "speed"}}, got {_kind(action)}')
            continue
        steer = c.number(action, "steering_angle", f"{path}.steering_angle")
        speed = c.number(action, "speed", f"{path}.speed")
        if steer is not None and abs(steer) > L.MAX_STEERING:
            c.rule(
                f"{path}.steering_angle",
                f"{fmt(steer)} degrees is outside -{fmt(L.MAX_STEERING)}..{fmt(L.MAX_STEERING)}",
            )
        if speed is not None and not L.MIN_SPEED <= speed <= L.MAX_SPEED:
            side = "above" if speed > L.MAX_SPEED else "below"
            bound = L.MAX_SPEED if speed > L.MAX_SPEED else L.MIN_SPEED
            c.rule(
                f"{path}.speed",
                f"{fmt(speed)} m/s is {side} the console's {fmt(bound)} "
                f"(allowed {fmt(L.MIN_SPEED)}..{fmt(L.MAX_SPEED)})",
            )
        if "index" in action:
            index = action["index"]
            if not isinstance(index, int) or isinstance(index, bool):
                c.shape(f"{path}.index", f"expected an integer, got {_kind(index)}")
            elif index != i:
                c.rule(
                    f"{path}.index",
                    f"{index}, but the action is at position {i} and the simulator uses "
                    "list order (re-index with: pitstop action-space edit FILE --reindex)",
                )
        elif indexed:
            c.rule(f"{path}.index", "missing while other actions have one")
        if steer is not None and speed is not None:
            key = (steer, speed)
            if key in seen:
                c.rule(path, f"same action as action_space[{seen[key]}]")
            else:
                seen[key] = i


def _check_range(
    c: _Collector, space: dict[str, Any], key: str, low_ok: tuple[float, float], unit: str
) -> None:
    path = f"action_space.{key}"
    if key not in space:
        c.shape(path, 'missing (expected {"low": ..., "high": ...})')
        return
    r = space[key]
    if not isinstance(r, dict):
        c.shape(path, f'expected {{"low": ..., "high": ...}}, got {_kind(r)}')
        return
    low = c.number(r, "low", f"{path}.low")
    high = c.number(r, "high", f"{path}.high")
    lo_min, hi_max = low_ok
    if key == "steering_angle":
        if low is not None and not -L.MAX_STEERING <= low <= 0:
            c.rule(f"{path}.low", f"{fmt(low)} {unit} is outside the console's -30..0")
        if high is not None and not 0 <= high <= L.MAX_STEERING:
            c.rule(f"{path}.high", f"{fmt(high)} {unit} is outside the console's 0..30")
    else:
        for name, v in (("low", low), ("high", high)):
            if v is not None and not lo_min <= v <= hi_max:
                c.rule(
                    f"{path}.{name}",
                    f"{fmt(v)} {unit} is outside the console's {fmt(lo_min)}..{fmt(hi_max)}",
                )
    if low is not None and high is not None and not low < high:
        c.rule(path, f"low ({fmt(low)}) must be below high ({fmt(high)})")


def _check_continuous(c: _Collector, space: dict[str, Any]) -> None:
    _check_range(c, space, "steering_angle", (-L.MAX_STEERING, L.MAX_STEERING), "degrees")
    _check_range(c, space, "speed", (L.MIN_CONTINUOUS_SPEED, L.MAX_SPEED), "m/s")


def _check_sensors(c: _Collector, doc: dict[str, Any]) -> None:
    if "sensor" not in doc:
        return  # the simulator then uses the front camera
    sensors = doc["sensor"]
    if not isinstance(sensors, list):
        c.shape("sensor", f"expected a list of sensor names, got {_kind(sensors)}")
        return
    known = True
    for i, s in enumerate(sensors):
        if s not in L.SENSORS:
            c.shape(f"sensor[{i}]", f"{s!r} is not one of {', '.join(L.SENSORS)}")
            known = False
    if not known:
        return
    cameras = [s for s in sensors if s in L.CAMERAS]
    lidars = [s for s in sensors if s in L.LIDARS]
    if len(cameras) != 1:
        got = ", ".join(cameras) if cameras else "none"
        c.rule(
            "sensor",
            f"exactly one camera needed ({', '.join(L.CAMERAS)}), got {len(cameras)}: {got}",
        )
    if len(lidars) > 1:
        c.rule("sensor", f"at most one lidar allowed, got {len(lidars)}: {', '.join(lidars)}")


def _check_version(c: _Collector, doc: dict[str, Any]) -> None:
    if "version" not in doc:
        c.rule(
            "version",
            f'missing: the simulator then uses version 1 physics; write "{L.DEFAULT_VERSION}" '
            "(pitstop action-space edit FILE --set-version 5)",
        )
        return
    v = doc["version"]
    number: float | None = None
    if is_number(v):
        number = float(v)
    elif isinstance(v, str):
        try:
            number = float(v)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        c.shape("version", f'expected a version number such as "5", got {v!r}')
    elif number < 1 or not number.is_integer():
        c.rule("version", f"{v!r} is not a model version (1, 2, 3, 4, 5, ...)")


def _check_lidar_config(c: _Collector, doc: dict[str, Any]) -> None:
    if "lidar_config" not in doc:
        return
    cfg = doc["lidar_config"]
    if not isinstance(cfg, dict):
        c.shape("lidar_config", f"expected an object, got {_kind(cfg)}")
        return
    if "num_sectors" in cfg:
        n = cfg["num_sectors"]
        if not isinstance(n, int) or isinstance(n, bool):
            c.shape("lidar_config.num_sectors", f"expected an integer, got {_kind(n)}")
        elif n < 1 or L.LIDAR_RAYS % n:
            c.rule(
                "lidar_config.num_sectors",
                f"{n} does not divide the {L.LIDAR_RAYS} lidar rays (use 1, 2, 4, 8, 16, 32 or 64)",
            )
    if "num_values_per_sector" in cfg:
        n = cfg["num_values_per_sector"]
        if not isinstance(n, int) or isinstance(n, bool):
            c.shape("lidar_config.num_values_per_sector", f"expected an integer, got {_kind(n)}")
        elif n < 1:
            c.rule("lidar_config.num_values_per_sector", f"{n} must be at least 1")
    if "clipping_dist" in cfg:
        d = cfg["clipping_dist"]
        if not is_number(d):
            c.shape("lidar_config.clipping_dist", f"expected a number, got {_kind(d)}")
        elif float(d) <= 0:
            c.rule("lidar_config.clipping_dist", f"{fmt(float(d))} m must be above 0")
    has_lidar = isinstance(doc.get("sensor"), list) and any(s in L.LIDARS for s in doc["sensor"])
    if not has_lidar:
        c.rule("lidar_config", "given, but sensor lists no lidar")


def check_metadata(doc: object) -> list[str]:
    """One line per problem of a model_metadata.json document (parsed JSON), naming its path.

    An empty list means the document is valid for the simulator and the console.
    """
    return [str(p) for p in metadata_problems(doc)]
