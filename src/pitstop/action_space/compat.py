"""Can a trained model's weights start a job? The network shapes both must share.

A pretrained model is loaded into the job's network, so everything that shapes the
network must be the same: the algorithm, the network, the sensors (the input layers) and
the policy head (discrete with the same number of actions, or continuous). The actions'
speeds and angles may differ: that is how a model is tuned for speed without starting over.
"""

from __future__ import annotations

from pitstop.action_space.models import ModelMetadata

DEFAULT_NETWORK = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
DEFAULT_ALGORITHM = "clipped_ppo"
DEFAULT_SENSORS = ("FRONT_FACING_CAMERA",)


def _kind(meta: ModelMetadata) -> str:
    if meta.action_space_type:
        return meta.action_space_type
    return "discrete" if isinstance(meta.action_space, list) else "continuous"


def _sensors(meta: ModelMetadata) -> tuple[str, ...]:
    return tuple(sorted(meta.sensor or DEFAULT_SENSORS))


def load_problem(model: ModelMetadata, job: ModelMetadata) -> str | None:
    """Why ``model``'s weights cannot be loaded into ``job``'s network; None when they can."""
    pairs = [
        ("training algorithm", model.training_algorithm or DEFAULT_ALGORITHM,
         job.training_algorithm or DEFAULT_ALGORITHM),
        ("neural network", model.neural_network or DEFAULT_NETWORK,
         job.neural_network or DEFAULT_NETWORK),
        ("sensors", ", ".join(_sensors(model)), ", ".join(_sensors(job))),
        ("action space type", _kind(model), _kind(job)),
    ]  # fmt: skip
    for what, theirs, ours in pairs:
        if theirs != ours:
            return f"{what} {theirs} in the model, {ours} in the job"
    if isinstance(model.action_space, list) and isinstance(job.action_space, list):
        n, m = len(model.action_space), len(job.action_space)
        if n != m:
            return f"{n} actions in the model, {m} in the job (the policy's output layer)"
    if model.lidar_config != job.lidar_config and "LIDAR" in " ".join(_sensors(job)):
        return "lidar_config differs between the model and the job"
    return None
