"""All wheels on the track, with speed: go fast, but only while all four wheels are on.

Idea: reward speed, but only when the car is fully on the track. A car that cuts a corner
with two wheels off gets almost nothing, so it learns to use the whole width without
leaving it. Speed is rewarded linearly, so the car prefers the faster actions of its
action space wherever it can hold them.

Weights:
- all wheels on track: 0.2 + 0.8 * (speed / MAX_SPEED), between 0.2 (crawling) and 1.0
  (MAX_SPEED = 4.0 m/s, the simulator's limit).
- any wheel off, off track or crashed: 1e-3.

Runs unchanged in the DeepRacer simulator (Python 3.8, math only).
"""

MAX_SPEED = 4.0
MIN_REWARD = 1e-3


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"] or not params["all_wheels_on_track"]:
        return MIN_REWARD
    speed = max(0.0, min(float(params["speed"]), MAX_SPEED))
    return float(0.2 + 0.8 * speed / MAX_SPEED)
