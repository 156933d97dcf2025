"""Reading and writing model_metadata.json loses nothing (DRfC files, console exports)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from pitstop.action_space import ModelMetadata, check_metadata, default_metadata, parse_metadata

SAMPLES = ["drfc-discrete.json", "drfc-continuous.json", "drfc-sac.json", "console-export.json"]


def sample_text(name: str) -> str:
    return resources.files("pitstop.action_space").joinpath("samples", name).read_text()


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_round_trips_unchanged_in_meaning(name: str) -> None:
    original = json.loads(sample_text(name))
    written = json.loads(parse_metadata(sample_text(name), name).to_json())
    # -30 == -30.0 in Python, so this is equality of meaning; key sets and strings are exact
    assert written == original
    assert type(written["version"]) is type(original["version"])


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_are_valid(name: str) -> None:
    assert check_metadata(json.loads(sample_text(name))) == []


def test_console_export_keeps_index_and_unknown_null_keys() -> None:
    doc = parse_metadata(sample_text("console-export.json"), "x").to_dict()
    assert [a["index"] for a in doc["action_space"]] == list(range(10))
    assert doc["preprocess_type"] is None and doc["regional_parameters"] is None
    assert doc["version"] == "4"


def test_drfc_file_without_index_gets_none_written() -> None:
    doc = parse_metadata(sample_text("drfc-discrete.json"), "x").to_dict()
    assert all("index" not in a for a in doc["action_space"])


@pytest.mark.parametrize("version", ["5", 5, 4.0, "3"])
def test_version_kept_as_string_or_number(version: object) -> None:
    doc = default_metadata()
    doc["version"] = version
    out = parse_metadata(json.dumps(doc), "x").to_dict()
    assert out["version"] == version and type(out["version"]) is type(version)


def test_unknown_keys_in_actions_and_ranges_are_kept() -> None:
    doc = json.loads(sample_text("drfc-continuous.json"))
    doc["action_space"]["speed"]["note"] = "kept"
    doc["x_custom"] = {"a": [1, 2]}
    out = parse_metadata(json.dumps(doc), "x").to_dict()
    assert out["action_space"]["speed"]["note"] == "kept"
    assert out["x_custom"] == {"a": [1, 2]}


def test_absent_keys_stay_absent_but_version_is_always_written() -> None:
    meta = ModelMetadata.model_validate(
        {"action_space": [{"steering_angle": 0, "speed": 1}, {"steering_angle": 10, "speed": 1}]}
    )
    assert meta.to_dict() == {
        "action_space": [
            {"steering_angle": 0.0, "speed": 1.0},
            {"steering_angle": 10.0, "speed": 1.0},
        ],
        "version": "5",
    }


def test_default_metadata_is_drfc_default_discrete_version_5() -> None:
    doc = default_metadata()
    assert doc["version"] == "5"
    assert doc["action_space_type"] == "discrete"
    assert doc["training_algorithm"] == "clipped_ppo"
    assert doc["sensor"] == ["FRONT_FACING_CAMERA"]
    assert [(a["steering_angle"], a["speed"]) for a in doc["action_space"]] == [
        (-30, 0.6),
        (-15, 0.6),
        (0, 0.6),
        (15, 0.6),
        (30, 0.6),
    ]
    assert check_metadata(doc) == []
    doc["version"] = "1"
    assert default_metadata()["version"] == "5"  # a fresh dict each call
