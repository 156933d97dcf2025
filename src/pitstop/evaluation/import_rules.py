"""What DeepRacer on AWS, DRfC's importer and the car accept: the rules pitstop can check offline.

Each rule names its source (research for issue 25):

- aws-solutions/deepracer-on-aws ``source/libs/lambda/src/api/handlers/importModel.ts``:
  the model name (``^[a-zA-Z0-9-]+$``, at most 64 characters); SAC needs a continuous action
  space and ``num_episodes_between_training == 1``; ``api/utils/validation.ts``
  ``validateContinuousActionSpace``: low < high for speed and steering angle.
- the same lambda's ``import-workflow/utils/ImportHelper.ts`` reads ``training_params.yaml``,
  root ``model_metadata.json``, root ``reward_function.py``, ``ip/hyperparameters.json`` and the
  first ``metrics/training/*training-*.json``; ``getTrackConfig`` takes ``WORLD_NAME`` as a
  track id and ``TRACK_DIRECTION_CLOCKWISE === true`` as clockwise.
- DRoA's browser upload (``source/apps/website/src/pages/ImportModel/constants.ts``) and DRfC
  v6.0.4 ``scripts/droa/import_model.py`` skip ``.gz`` and ``.zip`` files; the latter's
  ``--model-dir`` needs ``model_metadata.json``, ``reward_function.py``,
  ``training_params.yaml`` and ``hyperparameters.json`` at the folder's root, and its
  ``--model-prefix`` mode writes the ``training_params.yaml`` keys below.
- The car: aws-deepracer/aws-deepracer-webserver-pkg ``webserver_pkg/models.py`` takes only a
  ``.tar.gz``; aws-deepracer/aws-deepracer-systems-pkg
  ``model_loader_module/model_loader_node.py`` names the model after the archive up to its
  first dot and needs exactly one ``.pb`` in it.

Pure functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from pitstop.errors import InvalidInput
from pitstop.tracks.droa import DroaTrackChoice

MODEL_NAME = re.compile(r"\A[a-zA-Z0-9-]+\Z")
MODEL_NAME_MAX = 64
SKIPPED_SUFFIXES = (".gz", ".zip")  # both uploaders leave these out
# keys of DRfC's training_params.yaml that name S3 places of the training bucket: meaningless
# in an import folder (DRfC's importer rewrites them to the upload target; DRoA ignores them)
S3_KEYS = (
    "METRICS_S3_BUCKET",
    "METRICS_S3_OBJECT_KEY",
    "MODEL_METADATA_FILE_S3_KEY",
    "REWARD_FILE_S3_KEY",
    "SAGEMAKER_SHARED_S3_BUCKET",
    "SAGEMAKER_SHARED_S3_PREFIX",
)
CAR_SUFFIX = ".tar.gz"


def check_model_name(name: str) -> None:
    """DRoA's import rule for the model's name (``importModel.ts`` ``validateRequest``)."""
    if not MODEL_NAME.match(name) or len(name) > MODEL_NAME_MAX:
        raise InvalidInput(
            f"model name {name!r}: DeepRacer on AWS takes only letters, digits and hyphens, "
            f"at most {MODEL_NAME_MAX} characters"
        )


def check_droa_model(metadata: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> None:
    """The algorithm and action-space checks of DRoA's import lambda, with its messages."""
    algorithm = metadata.get("training_algorithm")
    space_type = metadata.get("action_space_type")
    if algorithm == "sac" and space_type == "discrete":
        raise InvalidInput(
            "DeepRacer on AWS refuses this model: SAC does not work with a discrete action space"
        )
    if algorithm == "sac" and hyperparameters.get("num_episodes_between_training") != 1:
        raise InvalidInput(
            "DeepRacer on AWS refuses this model: SAC needs num_episodes_between_training 1 "
            f"(ip/hyperparameters.json has {hyperparameters.get('num_episodes_between_training')!r})"
        )
    space = metadata.get("action_space")
    if space_type == "continuous" and isinstance(space, Mapping):
        for what in ("speed", "steering_angle"):
            r = space.get(what)
            if isinstance(r, Mapping) and not _lower(r.get("low"), r.get("high")):
                raise InvalidInput(
                    f"DeepRacer on AWS refuses this model: its continuous {what} needs low < "
                    f"high (model_metadata.json has low {r.get('low')!r}, high {r.get('high')!r})"
                )


def _lower(low: Any, high: Any) -> bool:
    try:
        return float(low) < float(high)
    except (TypeError, ValueError):
        return False


def training_params(
    source: Mapping[str, Any], choice: DroaTrackChoice, race_type: str | None = None
) -> dict[str, Any]:
    """``training_params.yaml`` for the import: the trainer's own keys (DRfC writes RACE_TYPE,
    CAR_COLOR, BODY_SHELL_TYPE, ...) without the training bucket's S3 places, ``WORLD_NAME``
    the DRoA track id and ``TRACK_DIRECTION_CLOCKWISE`` a boolean; RACE_TYPE defaults to the
    job's (TIME_TRIAL)."""
    out: dict[str, Any] = {k: v for k, v in source.items() if k not in S3_KEYS}
    out.setdefault("JOB_TYPE", "TRAINING")
    out["RACE_TYPE"] = str(out.get("RACE_TYPE") or race_type or "TIME_TRIAL")
    out["WORLD_NAME"] = choice.track.track_id
    out["TRACK_DIRECTION_CLOCKWISE"] = choice.clockwise
    return out


def training_params_yaml(params: Mapping[str, Any]) -> bytes:
    """The YAML text: a document start as DRfC writes it, booleans as YAML booleans."""
    return yaml.safe_dump(
        dict(params), default_flow_style=False, explicit_start=True, sort_keys=False
    ).encode()


def parse_training_params(body: bytes, where: str) -> dict[str, Any]:
    """A trainer's ``training_params.yaml`` as a mapping; ``InvalidInput`` naming ``where``."""
    try:
        doc = yaml.safe_load(body.decode("utf-8")) if body.strip() else {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{where}: not YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: not a YAML mapping")
    return {str(k): v for k, v in doc.items()}


def skipped_by_uploaders(path: str) -> bool:
    """Would DRoA's browser upload and DRfC's importer leave this file out?"""
    return path.lower().endswith(SKIPPED_SUFFIXES)


def car_model_name(file_name: str) -> str:
    """The name the car shows for an uploaded archive: the file name up to its first dot;
    ``InvalidInput`` unless it ends ``.tar.gz`` (the only kind the car's upload takes)."""
    base = file_name.rsplit("/", 1)[-1]
    if not base.endswith(CAR_SUFFIX):
        raise InvalidInput(
            f"{file_name}: the car accepts only .tar.gz archives; name the file NAME.tar.gz"
        )
    name = base.split(".", 1)[0]
    if not name:
        raise InvalidInput(
            f"{file_name}: the car names a model after the file name up to its first dot, "
            "and this one has none before it"
        )
    return name


def check_car_members(members: Iterable[str]) -> None:
    """The car's loader needs exactly one ``.pb`` in the archive."""
    graphs = sorted(m for m in members if m.endswith(".pb"))
    if len(graphs) != 1:
        found = ", ".join(graphs) if graphs else "none"
        raise InvalidInput(f"the car needs exactly one .pb in the archive; found {found}")
