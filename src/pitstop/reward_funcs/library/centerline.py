"""Centre-line following: the closer to the centre line, the higher the reward.

Idea: the classic first reward. The car is rewarded for staying near the centre line,
which keeps it on the track while it learns to drive at all. It is smooth (no steps
between bands), so small moves towards the centre always pay.

Weights:
- reward = 1 - (distance_from_center / half width) ** 2, so 1.0 on the centre line, 0.75
  at half the half-width and 0.0 at the border: a gentle slope near the centre, a steep
  one near the edge.
- off the track (or crashed) the reward is 1e-3: never 0, so the value stays informative.

Runs unchanged in the DeepRacer simulator (Python 3.8, math only).
"""

import math

MIN_REWARD = 1e-3


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return MIN_REWARD
    half_width = 0.5 * params["track_width"]
    if half_width <= 0:
        return MIN_REWARD
    ratio = min(params["distance_from_center"] / half_width, 1.0)
    reward = 1.0 - ratio * ratio
    if not math.isfinite(reward):
        return MIN_REWARD
    return float(max(reward, MIN_REWARD))
