"""Racing-line following: reward the distance to a racing line embedded as waypoints.

Idea: the fastest way round a track is not its centre line but a line that cuts the
corners (enter wide, touch the apex, exit wide). ``RACING_LINE`` holds such a line for
``reInvent2019_track`` (Smile Speedway, 154 points, 19.9 m against the centre
line's 23.1 m), made by smoothing the centre line while keeping within 70 % of the half
width. Replace it with the line of your own track (same format: a list of (x, y) in metres).

Weights:
- reward = max(1e-3, 1 - (distance to the racing line / (0.5 * track width))) ** 2: 1.0 on
  the line, 0.25 half way to the border.
- plus up to 0.5 for speed (speed / 4.0 * 0.5) while on the line (within 25 % of the
  half width), so the car learns to be fast where the line lets it.
- if the car is nowhere near the line (farther than the track width, e.g. on another
  track), it falls back to centre-line following, so the file never fails elsewhere.
- off track or crashed: 1e-3.

Runs unchanged in the DeepRacer simulator (Python 3.8, math only).
"""

import math

MIN_REWARD = 1e-3
MAX_SPEED = 4.0

RACING_LINE = [
    (0.680, 2.859),
    (0.694, 2.726),
    (0.713, 2.592),
    (0.738, 2.459),
    (0.769, 2.325),
    (0.804, 2.195),
    (0.843, 2.075),
    (0.889, 1.963),
    (0.943, 1.859),
    (1.002, 1.767),
    (1.063, 1.693),
    (1.126, 1.640),
    (1.195, 1.601),
    (1.269, 1.566),
    (1.360, 1.527),
    (1.478, 1.487),
    (1.616, 1.447),
    (1.764, 1.409),
    (1.921, 1.371),
    (2.080, 1.335),
    (2.239, 1.298),
    (2.396, 1.260),
    (2.542, 1.222),
    (2.677, 1.183),
    (2.800, 1.145),
    (2.916, 1.109),
    (3.035, 1.071),
    (3.167, 1.025),
    (3.311, 0.968),
    (3.466, 0.900),
    (3.621, 0.831),
    (3.766, 0.774),
    (3.900, 0.730),
    (4.024, 0.694),
    (4.142, 0.662),
    (4.257, 0.632),
    (4.368, 0.603),
    (4.478, 0.575),
    (4.608, 0.554),
    (4.571, 0.558),
    (4.705, 0.553),
    (4.822, 0.559),
    (4.940, 0.574),
    (5.052, 0.599),
    (5.156, 0.635),
    (5.262, 0.684),
    (5.374, 0.747),
    (5.486, 0.818),
    (5.597, 0.894),
    (5.704, 0.976),
    (5.810, 1.063),
    (5.914, 1.156),
    (6.016, 1.252),
    (6.116, 1.352),
    (6.214, 1.455),
    (6.310, 1.560),
    (6.404, 1.668),
    (6.495, 1.777),
    (6.584, 1.890),
    (6.672, 2.004),
    (6.757, 2.120),
    (6.840, 2.238),
    (6.921, 2.358),
    (7.000, 2.479),
    (7.078, 2.602),
    (7.153, 2.725),
    (7.226, 2.850),
    (7.296, 2.976),
    (7.364, 3.103),
    (7.430, 3.231),
    (7.493, 3.361),
    (7.554, 3.491),
    (7.612, 3.622),
    (7.667, 3.755),
    (7.719, 3.888),
    (7.768, 4.021),
    (7.813, 4.154),
    (7.853, 4.287),
    (7.889, 4.420),
    (7.919, 4.554),
    (7.944, 4.687),
    (7.962, 4.818),
    (7.973, 4.944),
    (7.973, 5.064),
    (7.964, 5.176),
    (7.945, 5.274),
    (7.915, 5.355),
    (7.874, 5.423),
    (7.818, 5.484),
    (7.742, 5.542),
    (7.650, 5.596),
    (7.546, 5.642),
    (7.431, 5.682),
    (7.309, 5.715),
    (7.183, 5.740),
    (7.053, 5.758),
    (6.919, 5.771),
    (6.783, 5.778),
    (6.646, 5.780),
    (6.509, 5.777),
    (6.371, 5.769),
    (6.236, 5.756),
    (6.106, 5.738),
    (5.979, 5.712),
    (5.849, 5.679),
    (5.720, 5.640),
    (5.595, 5.596),
    (5.479, 5.547),
    (5.380, 5.497),
    (5.291, 5.441),
    (5.194, 5.379),
    (5.091, 5.312),
    (4.984, 5.240),
    (4.872, 5.159),
    (4.753, 5.068),
    (4.629, 4.966),
    (4.501, 4.854),
    (4.372, 4.740),
    (4.245, 4.630),
    (4.124, 4.535),
    (4.014, 4.464),
    (3.921, 4.418),
    (3.843, 4.387),
    (3.762, 4.354),
    (3.659, 4.317),
    (3.536, 4.283),
    (3.407, 4.253),
    (3.280, 4.224),
    (3.158, 4.195),
    (3.040, 4.167),
    (2.921, 4.139),
    (2.793, 4.112),
    (2.650, 4.089),
    (2.489, 4.073),
    (2.316, 4.063),
    (2.144, 4.053),
    (1.984, 4.037),
    (1.841, 4.014),
    (1.710, 3.988),
    (1.586, 3.962),
    (1.464, 3.935),
    (1.345, 3.908),
    (1.233, 3.883),
    (1.132, 3.854),
    (1.042, 3.814),
    (0.963, 3.764),
    (0.894, 3.703),
    (0.835, 3.631),
    (0.785, 3.546),
    (0.744, 3.449),
    (0.712, 3.343),
    (0.690, 3.228),
    (0.678, 3.108),
    (0.674, 2.985),
]


def distance_to_line(x, y, line):
    """Distance from (x, y) to the closed polyline ``line``."""
    best = float("inf")
    n = len(line)
    for i in range(n):
        ax, ay = line[i]
        bx, by = line[(i + 1) % n]
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        if seg2 > 0:
            t = ((x - ax) * dx + (y - ay) * dy) / seg2
            t = max(0.0, min(1.0, t))
        else:
            t = 0.0
        px, py = ax + t * dx - x, ay + t * dy - y
        d2 = px * px + py * py
        if d2 < best:
            best = d2
    return math.sqrt(best)


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return MIN_REWARD
    half_width = 0.5 * params["track_width"]
    if half_width <= 0:
        return MIN_REWARD
    distance = distance_to_line(params["x"], params["y"], RACING_LINE)
    if distance > 2.0 * half_width:
        distance = params["distance_from_center"]  # not this line's track: follow the centre
    closeness = max(MIN_REWARD, 1.0 - distance / half_width)
    reward = closeness * closeness
    if distance <= 0.25 * half_width:
        reward += 0.5 * min(max(params["speed"], 0.0), MAX_SPEED) / MAX_SPEED
    return float(max(reward, MIN_REWARD))
