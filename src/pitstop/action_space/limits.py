"""The names and limits of model_metadata.json that the simulator and the console accept.

Facts from REFERENCE.md section 4 (simapp 5/6, the DeepRacer console). Kept apart so the
checker, the generators, the editor and the CLI help all quote the same numbers.
"""

from __future__ import annotations

CAMERAS = ("FRONT_FACING_CAMERA", "LEFT_CAMERA", "STEREO_CAMERAS")
LIDARS = ("LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")
SENSORS = CAMERAS + LIDARS
NETWORKS = (
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "DEEP_CONVOLUTIONAL_NETWORK",
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP",
)
ALGORITHMS = ("clipped_ppo", "sac")
ACTION_SPACE_TYPES = ("discrete", "continuous")

DEFAULT_NETWORK = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
DEFAULT_ALGORITHM = "clipped_ppo"
DEFAULT_SENSOR = "FRONT_FACING_CAMERA"
# DRfC writes the string "5"; a file without version (and sensor) gets version 1 physics.
DEFAULT_VERSION = "5"

# Discrete action spaces (console limits; the simulator clamps to the same box).
MIN_ACTIONS = 2
MAX_ACTIONS = 30
MAX_STEERING = 30.0
MIN_SPEED = 0.1
MAX_SPEED = 4.0

# Continuous action spaces (console limits).
MIN_CONTINUOUS_SPEED = 0.5

# lidar_config.num_sectors must divide the 64 lidar rays.
LIDAR_RAYS = 64
