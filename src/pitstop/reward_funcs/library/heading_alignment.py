"""Heading aligned with the track: point the car where the track goes.

Idea: the track direction at the car is the direction from the previous waypoint to the
next one (``closest_waypoints``). The smaller the angle between the car's heading and that
direction, the higher the reward, so the car learns to steer into the curves early instead
of correcting late.

Weights:
- reward = cos(heading error) mapped to [0, 1] for errors up to MAX_ERROR (30 degrees):
  1.0 when aligned, about 0.13 at 28 degrees; beyond MAX_ERROR: 1e-3.
- multiplied by 0.5 when the car is off the track.

Runs unchanged in the DeepRacer simulator (Python 3.8, math only).
"""

import math

MAX_ERROR = 30.0  # degrees
MIN_REWARD = 1e-3


def track_direction(params):
    """Direction of the track (degrees) from the previous to the next closest waypoint."""
    waypoints = params["waypoints"]
    prev_i, next_i = params["closest_waypoints"]
    x0, y0 = waypoints[prev_i][0], waypoints[prev_i][1]
    x1, y1 = waypoints[next_i][0], waypoints[next_i][1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def heading_error(params):
    """Absolute angle (degrees, 0..180) between the car's heading and the track."""
    diff = params["heading"] - track_direction(params)
    diff = (diff + 180.0) % 360.0 - 180.0
    return abs(diff)


def reward_function(params):
    if params["is_crashed"]:
        return MIN_REWARD
    error = heading_error(params)
    if error > MAX_ERROR:
        return MIN_REWARD
    # cos scaled so that 0 degrees -> 1.0 and MAX_ERROR -> 0.0
    cos_max = math.cos(math.radians(MAX_ERROR))
    reward = (math.cos(math.radians(error)) - cos_max) / (1.0 - cos_max)
    if params["is_offtrack"]:
        reward *= 0.5
    return float(max(reward, MIN_REWARD))
