"""Steering penalty: stay near the centre, and do not steer hard without a reason.

Idea: a car rewarded only for its position learns to wobble: it steers hard left and right
to stay on a line. Multiplying the position reward by a steering factor makes straight,
calm driving pay more, which gives faster and more stable laps.

Weights:
- base: 1.0 within 10 % of the track width from the centre, 0.5 within 25 %, 0.1 within
  50 % (the half width), 1e-3 beyond.
- steering factor: 1.0 up to STEERING_THRESHOLD (15 degrees) of steering, then falling
  linearly to 0.5 at 30 degrees (the simulator's limit).
- off track or crashed: 1e-3.

Runs unchanged in the DeepRacer simulator (Python 3.8, math only).
"""

STEERING_THRESHOLD = 15.0
MAX_STEERING = 30.0
MIN_REWARD = 1e-3


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return MIN_REWARD
    width = params["track_width"]
    distance = params["distance_from_center"]
    if distance <= 0.1 * width:
        reward = 1.0
    elif distance <= 0.25 * width:
        reward = 0.5
    elif distance <= 0.5 * width:
        reward = 0.1
    else:
        reward = MIN_REWARD
    steering = min(abs(params["steering_angle"]), MAX_STEERING)
    if steering > STEERING_THRESHOLD:
        excess = (steering - STEERING_THRESHOLD) / (MAX_STEERING - STEERING_THRESHOLD)
        reward *= 1.0 - 0.5 * excess
    return float(max(reward, MIN_REWARD))
