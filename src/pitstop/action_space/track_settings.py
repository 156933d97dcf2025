"""The settings of ``from_track`` (kept free of numpy so ``--help`` can show defaults)."""

from __future__ import annotations

from dataclasses import dataclass

WHEELBASE_M = 0.164  # simapp deepracer URDF: front hinge x = +0.0823, rear axle x = -0.0817


@dataclass(frozen=True)
class Settings:
    """The knobs of ``from-track``; defaults are the CLI's defaults."""

    a_lat: float = 3.0  # m/s^2, lateral acceleration the car holds in a steady turn
    max_speed: float = 4.0
    min_speed: float = 1.0
    wheelbase: float = WHEELBASE_M
    spacing: float = 0.05  # m between resampled points
    span: float = 1.0  # m between the outer points of the curvature triple
    smooth: float = 0.5  # m of moving average on the curvature
    straight_deg: float = 1.0  # |steering| below this counts as straight
    mirror: bool = True
    method: str = "kmeans"  # or "quantiles"
