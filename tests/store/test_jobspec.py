"""Job spec fields that DeepRacer itself constrains."""

from __future__ import annotations

import pytest

from pitstop.errors import InvalidInput
from pitstop.store.jobs import parse_user_fields


@pytest.mark.parametrize("race_type", ["TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT"])
def test_simapps_training_race_types_are_accepted(race_type: str) -> None:
    assert parse_user_fields(f'{{"race_type": "{race_type}"}}', "job.json") == {
        "race_type": race_type
    }


def test_head_to_head_is_refused_in_one_line() -> None:
    # HEAD_TO_HEAD races two trained models against each other: it is not a training job
    with pytest.raises(InvalidInput) as e:
        parse_user_fields('{"race_type": "HEAD_TO_HEAD"}', "job.json")
    assert str(e.value).startswith("job.json: race_type:") and "\n" not in str(e.value)
    assert "HEAD_TO_BOT" in str(e.value)
