"""Pydantic models of model_metadata.json, for DRfC's files and the console's exports.

The models keep everything a file holds: unknown keys (the console writes
``"preprocess_type": null``), an action's ``index`` when present, and ``version`` as the
string or number it was. Keys that were absent stay absent when written, except
``version``, which is always written. The rules (limits, one camera, SAC needs
continuous, ...) live in ``check``; ``io`` checks a document before building a model.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pitstop.action_space import limits as L


class _Open(BaseModel):
    """Keeps keys it does not know, so that writing a file back loses nothing."""

    model_config = ConfigDict(extra="allow")


class Action(_Open):
    """One discrete action: steering in degrees (+ = left), speed in m/s."""

    steering_angle: float
    speed: float
    index: int | None = None  # console exports only; the simulator uses list order


class Range(_Open):
    low: float
    high: float


class ContinuousSpace(_Open):
    steering_angle: Range
    speed: Range


class LidarConfig(_Open):
    num_sectors: int | None = None
    num_values_per_sector: int | None = None
    clipping_dist: float | None = None


class ModelMetadata(_Open):
    """model_metadata.json. Build it with ``io.parse_metadata`` or the generators."""

    action_space: list[Action] | ContinuousSpace
    action_space_type: Literal["discrete", "continuous"] | None = None
    sensor: list[str] | None = None
    neural_network: str | None = None
    training_algorithm: str | None = None
    version: str | int | float | None = None
    lidar_config: LidarConfig | None = None

    @property
    def is_continuous(self) -> bool:
        return isinstance(self.action_space, ContinuousSpace)

    @property
    def actions(self) -> list[Action]:
        """The discrete actions (an empty list for a continuous space)."""
        return self.action_space if isinstance(self.action_space, list) else []

    @property
    def has_version(self) -> bool:
        """False for a file read without ``version`` (``to_dict`` then writes the default)."""
        return self.version is not None

    @property
    def algorithm(self) -> str:
        return self.training_algorithm or L.DEFAULT_ALGORITHM

    @property
    def sensors(self) -> list[str]:
        return list(self.sensor) if self.sensor is not None else [L.DEFAULT_SENSOR]

    @property
    def network(self) -> str:
        return self.neural_network or L.DEFAULT_NETWORK

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: keys that were read or set, plus ``version`` always."""
        doc = self.model_dump(mode="json", exclude_unset=True)
        if "version" not in doc or doc["version"] is None:
            doc["version"] = L.DEFAULT_VERSION
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=4) + "\n"

    def with_actions(self, actions: list[Action]) -> ModelMetadata:
        """A copy with a new discrete action list (everything else kept as it was)."""
        doc = self.to_dict()
        doc["action_space"] = [a.model_dump(mode="json", exclude_unset=True) for a in actions]
        return ModelMetadata.model_validate(doc)


def make_action(steering: float, speed: float, index: int | None = None) -> Action:
    """An action with only the keys given (``index`` left out when None)."""
    if index is None:
        return Action(steering_angle=steering, speed=speed)
    return Action(steering_angle=steering, speed=speed, index=index)
