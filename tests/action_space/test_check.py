"""Each rule of model_metadata.json, with a failing example and its expected message."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from pitstop.action_space import check_metadata, default_metadata, parse_metadata
from pitstop.errors import CheckFailed, InvalidInput

Doc = dict[str, Any]


def discrete(n: int) -> list[dict[str, float]]:
    return [{"steering_angle": -30 + 60 * i / max(n - 1, 1), "speed": 1.0} for i in range(n)]


def continuous() -> Doc:
    return {
        "action_space": {
            "steering_angle": {"low": -30, "high": 30},
            "speed": {"low": 1, "high": 2},
        },
        "action_space_type": "continuous",
        "sensor": ["FRONT_FACING_CAMERA"],
        "training_algorithm": "sac",
        "version": "5",
    }


def set_(path: str, value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def delete(key: str) -> Callable[[Doc], None]:
    return lambda doc: doc.pop(key)


# (id, base document, change, expected first problem)
CASES: list[tuple[str, Callable[[], Doc], Callable[[Doc], None], str]] = [
    (
        "0 actions",
        default_metadata,
        set_("action_space", []),
        "action_space: 0 actions; the console allows 2 to 30",
    ),
    (
        "1 action",
        default_metadata,
        set_("action_space", discrete(1)),
        "action_space: 1 actions; the console allows 2 to 30",
    ),
    (
        "31 actions",
        default_metadata,
        set_("action_space", discrete(31)),
        "action_space: 31 actions; the console allows 2 to 30",
    ),
    (
        "speed 5",
        default_metadata,
        set_("action_space.2.speed", 5),
        "action_space[2].speed: 5 m/s is above the console's 4",
    ),
    (
        "speed 0.05",
        default_metadata,
        set_("action_space.0.speed", 0.05),
        "action_space[0].speed: 0.05 m/s is below the console's 0.1",
    ),
    (
        "steering 31",
        default_metadata,
        set_("action_space.4.steering_angle", 31),
        "action_space[4].steering_angle: 31 degrees is outside -30..30",
    ),
    (
        "speed is a string",
        default_metadata,
        set_("action_space.1.speed", "fast"),
        "action_space[1].speed: expected a finite number, got a string ('fast')",
    ),
    (
        "speed is true",
        default_metadata,
        set_("action_space.1.speed", True),
        "action_space[1].speed: expected a finite number, got a boolean",
    ),
    (
        "speed missing",
        default_metadata,
        lambda d: d["action_space"][3].pop("speed"),
        "action_space[3].speed: missing",
    ),
    (
        "action not an object",
        default_metadata,
        set_("action_space.0", [0, 1]),
        "action_space[0]: expected",
    ),
    (
        "duplicate action",
        default_metadata,
        set_("action_space.1", {"steering_angle": -30, "speed": 0.6}),
        "action_space[1]: same action as action_space[0]",
    ),
    (
        "stale index",
        default_metadata,
        lambda d: [a.update(index=4 - i) for i, a in enumerate(d["action_space"])],
        "action_space[0].index: 4, but the action is at position 0",
    ),
    (
        "index on some only",
        default_metadata,
        lambda d: d["action_space"][0].update(index=0),
        "action_space[1].index: missing while other actions have one",
    ),
    ("action_space missing", default_metadata, delete("action_space"), "action_space: missing"),
    (
        "action_space a string",
        default_metadata,
        set_("action_space", "grid"),
        "action_space: expected a list of actions or an object of ranges, got a string",
    ),
    (
        "SAC + discrete",
        default_metadata,
        set_("training_algorithm", "sac"),
        "training_algorithm: sac needs a continuous action space",
    ),
    (
        "unknown algorithm",
        default_metadata,
        set_("training_algorithm", "ppo"),
        "training_algorithm: 'ppo' is not one of clipped_ppo, sac",
    ),
    (
        "two cameras",
        default_metadata,
        set_("sensor", ["FRONT_FACING_CAMERA", "STEREO_CAMERAS"]),
        "sensor: exactly one camera needed",
    ),
    ("no camera", default_metadata, set_("sensor", ["LIDAR"]), "sensor: exactly one camera needed"),
    (
        "two lidars",
        default_metadata,
        set_("sensor", ["FRONT_FACING_CAMERA", "LIDAR", "SECTOR_LIDAR"]),
        "sensor: at most one lidar allowed, got 2",
    ),
    (
        "unknown sensor",
        default_metadata,
        set_("sensor", ["FRONT_FACING_CAMERA", "RADAR"]),
        "sensor[1]: 'RADAR' is not one of",
    ),
    (
        "sensor not a list",
        default_metadata,
        set_("sensor", "FRONT_FACING_CAMERA"),
        "sensor: expected a list of sensor names, got a string",
    ),
    (
        "unknown network",
        default_metadata,
        set_("neural_network", "RESNET"),
        "neural_network: 'RESNET' is not one of",
    ),
    (
        "missing version",
        default_metadata,
        delete("version"),
        "version: missing: the simulator then uses version 1 physics",
    ),
    (
        "version not a number",
        default_metadata,
        set_("version", "five"),
        "version: expected a version number",
    ),
    ("version 0", default_metadata, set_("version", 0), "version: 0 is not a model version"),
    (
        "unknown type",
        default_metadata,
        set_("action_space_type", "hybrid"),
        "action_space_type: 'hybrid' is not one of discrete, continuous",
    ),
    (
        "list but continuous",
        default_metadata,
        set_("action_space_type", "continuous"),
        'action_space: a list of discrete actions, but action_space_type is "continuous"',
    ),
    (
        "ranges but no type",
        continuous,
        delete("action_space_type"),
        "action_space: continuous ranges, but action_space_type is missing",
    ),
    (
        "continuous speed low 0.2",
        continuous,
        set_("action_space.speed.low", 0.2),
        "action_space.speed.low: 0.2 m/s is outside the console's 0.5..4",
    ),
    (
        "continuous low above high",
        continuous,
        set_("action_space.speed.low", 3),
        "action_space.speed: low (3) must be below high (2)",
    ),
    (
        "continuous steering low positive",
        continuous,
        set_("action_space.steering_angle.low", 5),
        "action_space.steering_angle.low: 5 degrees is outside the console's -30..0",
    ),
    (
        "continuous range missing",
        continuous,
        lambda d: d["action_space"].pop("speed"),
        "action_space.speed: missing",
    ),
    (
        "continuous high missing",
        continuous,
        lambda d: d["action_space"]["speed"].pop("high"),
        "action_space.speed.high: missing",
    ),
    (
        "lidar sectors",
        default_metadata,
        lambda d: d.update(
            sensor=["FRONT_FACING_CAMERA", "SECTOR_LIDAR"], lidar_config={"num_sectors": 6}
        ),
        "lidar_config.num_sectors: 6 does not divide the 64 lidar rays",
    ),
    (
        "lidar_config without lidar",
        default_metadata,
        set_("lidar_config", {"num_sectors": 8}),
        "lidar_config: given, but sensor lists no lidar",
    ),
]


@pytest.mark.parametrize(
    ("base", "change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_breaks_give_the_expected_first_problem(
    base: Callable[[], Doc], change: Callable[[Doc], None], expected: str
) -> None:
    doc = copy.deepcopy(base())
    assert check_metadata(doc) == []  # the base is valid, so the change is what breaks it
    change(doc)
    problems = check_metadata(doc)
    assert problems, "expected a problem"
    assert problems[0].startswith(expected), problems
    assert all("\n" not in p for p in problems)


@pytest.mark.parametrize(("doc", "kind"), [([1, 2], "a list"), ("x", "a string"), (None, "null")])
def test_a_document_that_is_not_an_object(doc: object, kind: str) -> None:
    assert check_metadata(doc) == [f"(document): expected a JSON object, got {kind}"]


def test_continuous_sac_and_ppo_are_valid() -> None:
    doc = continuous()
    assert check_metadata(doc) == []
    doc["training_algorithm"] = "clipped_ppo"
    assert check_metadata(doc) == []


def test_sensor_may_be_absent_and_lidar_with_config_is_valid() -> None:
    doc = default_metadata()
    del doc["sensor"]
    assert check_metadata(doc) == []
    doc["sensor"] = ["STEREO_CAMERAS", "SECTOR_LIDAR"]
    doc["lidar_config"] = {"num_sectors": 8, "num_values_per_sector": 8, "clipping_dist": 2.0}
    assert check_metadata(doc) == []


def test_every_problem_is_reported_not_just_the_first() -> None:
    doc = default_metadata()
    doc["action_space"][0]["speed"] = 5
    doc["sensor"] = []
    del doc["version"]
    paths = [p.split(":")[0] for p in check_metadata(doc)]
    assert paths == ["action_space[0].speed", "sensor", "version"]


def test_parse_metadata_raises_one_line_errors() -> None:
    with pytest.raises(InvalidInput, match=r"^inbox/a/model_metadata.json: not JSON: "):
        parse_metadata("{nope", "inbox/a/model_metadata.json")
    bad = default_metadata()
    bad["action_space"] = discrete(40)
    with pytest.raises(CheckFailed) as e:
        parse_metadata(json.dumps(bad), "m.json")
    assert str(e.value) == "m.json: action_space: 40 actions; the console allows 2 to 30"
    assert e.value.exit_code == 1
    bad["training_algorithm"] = "sac"
    with pytest.raises(CheckFailed, match=r"\(and 1 more"):
        parse_metadata(json.dumps(bad), "m.json")


def test_nan_is_not_a_number() -> None:
    doc = json.loads(json.dumps(default_metadata()).replace("0.6", "NaN", 1))
    assert check_metadata(doc)[0].startswith("action_space[0].speed: expected a finite number")
