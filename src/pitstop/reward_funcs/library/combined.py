"""Combined example: position, heading, steering, speed and progress in one reward.

Idea: each single-idea reward has a blind spot (centre-line following is slow, speed alone
cuts corners, progress alone learns slowly). This one multiplies a position term by a
heading term (a car far from the centre *or* pointing the wrong way gets little), then adds
speed and progress terms that only pay while all wheels are on the track.

Weights (each term is in [0, 1] before its weight):
- position: 1 - (distance_from_center / half width) ** 2            (x heading, weight 1.0)
- heading:  1 - heading error / 45 degrees, floor 0                  (multiplies position)
- steering: 1.0 up to 15 degrees, down to 0.7 at 30 degrees          (multiplies both)
- speed:    speed / 4.0 m/s, only with all wheels on track           (weight 0.5)
- progress: (progress / steps) per step scaled to a 15 s lap, max 1  (weight 1.0)
- lap completed (progress 100): +10 once.
- off track or crashed: 1e-3.
So a typical good step earns about 1.5 to 2.5, a poor one under 0.5.

Runs unchanged in the DeepRacer simulator (Python 3.8, math only).
"""

import math

MIN_REWARD = 1e-3
MAX_SPEED = 4.0
MAX_HEADING_ERROR = 45.0
TARGET_STEPS = 225.0


def heading_error(params):
    waypoints = params["waypoints"]
    prev_i, next_i = params["closest_waypoints"]
    dx = waypoints[next_i][0] - waypoints[prev_i][0]
    dy = waypoints[next_i][1] - waypoints[prev_i][1]
    direction = math.degrees(math.atan2(dy, dx))
    diff = (params["heading"] - direction + 180.0) % 360.0 - 180.0
    return abs(diff)


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return MIN_REWARD
    half_width = 0.5 * params["track_width"]
    if half_width <= 0:
        return MIN_REWARD
    ratio = min(params["distance_from_center"] / half_width, 1.0)
    position = 1.0 - ratio * ratio
    heading = max(0.0, 1.0 - heading_error(params) / MAX_HEADING_ERROR)
    steering = abs(params["steering_angle"])
    steer_factor = 1.0 if steering <= 15.0 else 1.0 - 0.3 * min((steering - 15.0) / 15.0, 1.0)
    reward = position * heading * steer_factor
    if params["all_wheels_on_track"]:
        reward += 0.5 * min(max(params["speed"], 0.0), MAX_SPEED) / MAX_SPEED
    steps = max(int(params["steps"]), 1)
    progress = max(0.0, min(float(params["progress"]), 100.0))
    reward += min(progress / steps * TARGET_STEPS / 100.0, 1.0)
    if progress >= 100.0:
        reward += 10.0
    return float(max(reward, MIN_REWARD))
