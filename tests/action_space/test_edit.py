"""Editing keeps the file's other keys, clamps speeds and keeps indexes in list order."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from pitstop.action_space import (
    ModelMetadata,
    add_actions,
    check_metadata,
    drop_actions,
    parse_metadata,
    reindex,
    scale_speeds,
    set_version,
    shift_speeds,
    sort_actions,
)
from pitstop.errors import UsageError


def sample(name: str) -> ModelMetadata:
    text = resources.files("pitstop.action_space").joinpath("samples", name).read_text()
    return parse_metadata(text, name)


def speeds(meta: ModelMetadata) -> list[float]:
    return [a.speed for a in meta.actions]


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (0.5, [1.5, 2.5] * 5),
        (-0.95, [0.1, 1.05] * 5),  # 1.0 - 0.95 = 0.05, clamped to 0.1
        (2.5, [3.5, 4.0] * 5),  # 2.0 + 2.5 = 4.5, clamped to 4
    ],
)
def test_shift_speeds_clamps_to_the_simulator_limits(delta: float, expected: list[float]) -> None:
    meta, dropped = shift_speeds(sample("console-export.json"), delta)
    assert speeds(meta) == expected and dropped == 0
    assert check_metadata(meta.to_dict()) == []


def test_shift_that_makes_duplicates_drops_them_and_renumbers_the_index() -> None:
    meta, dropped = shift_speeds(sample("console-export.json"), 3.5)  # 1 and 2 both -> 4
    assert dropped == 5
    assert [(a.steering_angle, a.speed, a.index) for a in meta.actions] == [
        (-30, 4.0, 0),
        (-15, 4.0, 1),
        (0, 4.0, 2),
        (15, 4.0, 3),
        (30, 4.0, 4),
    ]
    assert check_metadata(meta.to_dict()) == []


def test_scale_speeds_and_continuous_ranges() -> None:
    meta, _ = scale_speeds(sample("drfc-discrete.json"), 1.5)
    assert speeds(meta) == [0.9] * 5
    cont, _ = scale_speeds(sample("drfc-continuous.json"), 3.0)
    assert cont.to_dict()["action_space"]["speed"] == {"low": 3.0, "high": 4.0}
    cont, _ = shift_speeds(sample("drfc-continuous.json"), -0.9)
    assert cont.to_dict()["action_space"]["speed"] == {"low": 0.5, "high": 1.1}
    with pytest.raises(UsageError):
        scale_speeds(sample("drfc-discrete.json"), 0)


def test_edits_keep_unknown_keys_and_version() -> None:
    meta, _ = shift_speeds(sample("console-export.json"), 0.1)
    doc = meta.to_dict()
    assert doc["preprocess_type"] is None and doc["regional_parameters"] is None
    assert doc["version"] == "4"


def test_add_drop_sort_reindex() -> None:
    meta = sample("drfc-discrete.json")
    meta = add_actions(meta, [(5, 2.0), (-5, 2.0)])
    assert [(a.steering_angle, a.speed) for a in meta.actions][-2:] == [(5, 2.0), (-5, 2.0)]
    meta = drop_actions(meta, [0, 4])
    assert [a.steering_angle for a in meta.actions] == [-15, 0, 15, 5, -5]
    meta = sort_actions(meta)
    assert [a.steering_angle for a in meta.actions] == [-15, -5, 0, 5, 15]
    assert all(a.index is None for a in meta.actions)
    meta = reindex(meta)
    assert [a.index for a in meta.actions] == [0, 1, 2, 3, 4]
    assert check_metadata(meta.to_dict()) == []
    assert "index" not in reindex(meta, with_index=False).to_dict()["action_space"][0]


def test_indexed_files_stay_consistent_after_drop() -> None:
    meta = drop_actions(sample("console-export.json"), [0, 1])
    assert [a.index for a in meta.actions] == list(range(8))
    assert meta.actions[0].steering_angle == -15


def test_drop_out_of_range_and_discrete_only_edits_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"--drop 7: no such action; positions run 0..4"):
        drop_actions(sample("drfc-discrete.json"), [7])
    with pytest.raises(UsageError, match="continuous"):
        sort_actions(sample("drfc-sac.json"))


def test_set_version_repairs_a_file_without_version() -> None:
    doc = json.loads(sample("drfc-discrete.json").to_json())
    del doc["version"]
    assert check_metadata(doc)[0].startswith("version: missing")
    meta = parse_metadata(json.dumps(doc), "old.json", strict=False)
    assert not meta.has_version
    fixed = set_version(meta, "4")
    assert fixed.has_version and fixed.to_dict()["version"] == "4"
    assert check_metadata(fixed.to_dict()) == []
