"""Progress per step: reward the share of the lap covered per step, i.e. lap speed.

Idea: the lap time is what a race measures. ``progress / steps`` is the average progress
per step since the start of the episode; a car that covers the lap in fewer steps earns
more on every step. Unlike a plain speed reward it pays only for speed that moves the car
along the track, not for fast zig-zags.

Weights:
- reward = progress / steps, scaled so that a lap in TARGET_STEPS steps (about 15 s at 15
  steps per second) earns 1.0 per step; capped at 2.0 so early steps, where one lucky step
  gives a large ratio, do not dominate.
- a completed lap (progress 100) adds a bonus of 10.0 once reached.
- off track or crashed: 1e-3.

Runs unchanged in the DeepRacer simulator (Python 3.8, math only).
"""

TARGET_STEPS = 225.0  # steps for a lap that earns 1.0 per step (15 s at 15 steps/s)
MAX_STEP_REWARD = 2.0
LAP_BONUS = 10.0
MIN_REWARD = 1e-3


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return MIN_REWARD
    steps = max(int(params["steps"]), 1)
    progress = max(0.0, min(float(params["progress"]), 100.0))
    per_step = (progress / steps) * (TARGET_STEPS / 100.0)
    reward = max(MIN_REWARD, min(per_step, MAX_STEP_REWARD))
    if progress >= 100.0:
        reward += LAP_BONUS
    return float(reward)
