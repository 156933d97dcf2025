"""model_metadata.json and hyperparameters.json: generate, check, edit, derive from a track.

Library use (the CLI ``pitstop action-space`` / ``pitstop hyperparameters`` is a thin
layer over these)::

    from pitstop.action_space import build_metadata, check_metadata, console_grid

    meta = build_metadata(console_grid(30, 5, 3.0, 3))
    assert check_metadata(meta.to_dict()) == []
    open("model_metadata.json", "w").write(meta.to_json())

Modules: ``limits`` (names and console limits), ``models`` (pydantic models), ``check``
(the rules, one line per problem), ``io`` (read/parse/write with pitstop's errors),
``generate``, ``edit``, ``from_track`` (curvature -> bicycle model -> N actions),
``plot`` (PNG), ``hyperparameters``. Names load on first use: importing the package
is cheap, and numpy and matplotlib load only when from-track or a plot is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pitstop.action_space.check import check_metadata
    from pitstop.action_space.edit import (
        add_actions,
        drop_actions,
        reindex,
        scale_speeds,
        set_version,
        shift_speeds,
        sort_actions,
    )
    from pitstop.action_space.generate import (
        SpeedBand,
        banded_falloff,
        build_metadata,
        console_grid,
        continuous_space,
        default_metadata,
        explicit_actions,
        falloff_grid,
        linear_falloff,
        product_actions,
        speed_values,
        steering_values,
    )
    from pitstop.action_space.hyperparameters import (
        Hyperparameters,
        check_hyperparameters,
        default_hyperparameters,
        load_hyperparameters,
        parse_hyperparameters,
    )
    from pitstop.action_space.io import load_metadata, parse_metadata, write_metadata
    from pitstop.action_space.models import (
        Action,
        ContinuousSpace,
        LidarConfig,
        ModelMetadata,
        Range,
    )
    from pitstop.action_space.track_settings import Settings as TrackSettings

# Names load on first use (PEP 562), so ``import pitstop.action_space.limits`` (the CLI's
# --help) does not import pydantic.
_LAZY = {
    "check_metadata": "check",
    **dict.fromkeys(
        [
            "add_actions",
            "drop_actions",
            "reindex",
            "scale_speeds",
            "set_version",
            "shift_speeds",
            "sort_actions",
        ],
        "edit",
    ),
    **dict.fromkeys(
        [
            "SpeedBand",
            "banded_falloff",
            "build_metadata",
            "console_grid",
            "continuous_space",
            "default_metadata",
            "explicit_actions",
            "falloff_grid",
            "linear_falloff",
            "product_actions",
            "speed_values",
            "steering_values",
        ],
        "generate",
    ),
    **dict.fromkeys(
        [
            "Hyperparameters",
            "check_hyperparameters",
            "default_hyperparameters",
            "load_hyperparameters",
            "parse_hyperparameters",
        ],
        "hyperparameters",
    ),
    **dict.fromkeys(["load_metadata", "parse_metadata", "write_metadata"], "io"),
    **dict.fromkeys(
        ["Action", "ContinuousSpace", "LidarConfig", "ModelMetadata", "Range"], "models"
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def metadata_from_track(
    track: str,
    actions: int,
    *,
    racing_line: str | None = None,
    settings: TrackSettings | None = None,
    **build: Any,
) -> ModelMetadata:
    """An action space of ``actions`` actions for a bundled track (or a ``.npy`` waypoint
    file path), optionally following a racing line (``.npy`` or ``.csv`` of x, y).
    ``build`` goes to ``build_metadata`` (algorithm, sensors, network)."""
    from pitstop import tracks
    from pitstop.action_space.from_track import actions_from_line, read_line

    if racing_line is not None:
        line = read_line(racing_line)
    elif track.endswith(".npy"):
        line = tracks.load_file(track).centre
    else:
        line = tracks.load(track).centre
    from pitstop.action_space.generate import build_metadata

    found, _profile = actions_from_line(line, actions, settings)
    return build_metadata(found, **build)


def plot_metadata(meta: ModelMetadata, path: str, title: str = "") -> None:
    """Write a PNG of the actions in steering x speed space (see ``plot``)."""
    from pitstop.action_space.plot import plot_metadata as _plot

    _plot(meta, path, title)


__all__ = [
    "Action",
    "ContinuousSpace",
    "Hyperparameters",
    "LidarConfig",
    "ModelMetadata",
    "Range",
    "SpeedBand",
    "add_actions",
    "banded_falloff",
    "build_metadata",
    "check_hyperparameters",
    "check_metadata",
    "console_grid",
    "continuous_space",
    "default_hyperparameters",
    "default_metadata",
    "drop_actions",
    "explicit_actions",
    "falloff_grid",
    "linear_falloff",
    "load_hyperparameters",
    "load_metadata",
    "metadata_from_track",
    "parse_hyperparameters",
    "parse_metadata",
    "plot_metadata",
    "product_actions",
    "reindex",
    "scale_speeds",
    "set_version",
    "shift_speeds",
    "sort_actions",
    "speed_values",
    "steering_values",
    "write_metadata",
]
