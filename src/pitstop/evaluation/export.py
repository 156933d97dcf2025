"""A trained model out of the bucket: the car's archive, and an import folder for DeepRacer on
AWS (DRoA), DRfC's ``droa-import-model --model-dir`` and DRfC's ``dr-upload-model``.

The car loads a ``.tar.gz`` of SageMaker's ``/opt/ml/model`` (DRfC's ``upload-car.sh``):
``model.pb`` (the frozen graph of the chosen checkpoint), ``model_metadata.json`` and the
checkpoint files, with TensorFlow's ``checkpoint`` file naming it. The car names the model
after the archive's file name up to its first dot.

The import folder (``--droa``) holds what each importer reads (sources in
:mod:`pitstop.evaluation.import_rules`):

- ``model_metadata.json`` at the root (DRoA's import lambda) and in ``model/`` (its model
  validator; DRfC's layout);
- ``reward_function.py``; ``ip/hyperparameters.json`` (DRoA) and ``hyperparameters.json`` at
  the root (DRfC's ``--model-dir``);
- ``training_params.yaml`` with ``WORLD_NAME`` a DRoA track id and ``TRACK_DIRECTION_CLOCKWISE``
  a boolean (:mod:`pitstop.tracks.droa`);
- ``metrics/``: the model's metrics as the trainer wrote them (``TrainingMetrics.json``, where
  ``dr-upload-model`` and deepracer-utils look) and a copy as
  ``metrics/training/training-NAME.json``, the file DRoA's import shows as the training graph;
- ``model/``: the chosen checkpoint's files, ``model_N.pb``, ``.coach_checkpoint`` and
  ``deepracer_checkpoints.json`` with last = best = the chosen checkpoint.

No ``.gz`` or ``.zip`` file is written (both uploaders skip them). Every check runs before
anything is written, so a refusal leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pitstop.errors import InvalidInput, NotFound
from pitstop.evaluation.import_rules import (
    car_model_name,
    check_car_members,
    check_droa_model,
    check_model_name,
    parse_training_params,
    skipped_by_uploaders,
    training_params,
    training_params_yaml,
)
from pitstop.store.checkpoints import select_checkpoint
from pitstop.store.layout import ModelKeys, checkpoint_number
from pitstop.store.objects import ObjectStore
from pitstop.tracks import load as load_track
from pitstop.tracks.droa import droa_track_for, split_direction


@dataclass(frozen=True)
class Exported:
    """What an export wrote, for the command's output."""

    out: str
    checkpoint: str
    model_prefix: str
    files: list[str]
    notes: list[str] = field(default_factory=list)
    car_model_name: str | None = None  # the car's archive: the name the car shows
    world: str | None = None  # the import folder: the world, DRoA track and direction
    droa_track: str | None = None
    track_direction_clockwise: bool | None = None

    def doc(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _files(store: ObjectStore, prefix: str, which: str) -> tuple[str, dict[str, bytes]]:
    """(checkpoint name, {file name in model/: body}) for the chosen checkpoint."""
    name = select_checkpoint(store, prefix, which)
    keys = ModelKeys(prefix)
    files = {_name(keys, k): store.get(k).body for k in keys.checkpoint_files(name)}
    try:
        files[_name(keys, keys.metadata)] = store.get(keys.metadata).body
    except NotFound:
        raise NotFound(f"{prefix}: no model/model_metadata.json", key=keys.metadata) from None
    return name, files


def _name(keys: ModelKeys, key: str) -> str:
    name = keys.parse_model_file(key)
    assert name is not None  # checkpoint_files names files in model/
    return name


def _rel(keys: ModelKeys, key: str) -> str:
    rel = keys.relative(key)
    assert rel is not None  # a key of keys' own prefix
    return rel


def car_tarball(store: ObjectStore, prefix: str, which: str, out: Path) -> Exported:
    """Write the car's archive (``out`` must end ``.tar.gz``)."""
    shown = car_model_name(out.name)
    if out.is_dir():
        raise InvalidInput(f"{out}: is a directory; give the archive's file name")
    name, files = _files(store, prefix, which)
    n = checkpoint_number(name)
    members = {
        "model.pb": files[f"model_{n}.pb"],
        "model_metadata.json": files["model_metadata.json"],
        f"{name}.index": files[f"{name}.index"],
        f"{name}.meta": files[f"{name}.meta"],
        f"{name}.data-00000-of-00001": files[f"{name}.data-00000-of-00001"],
        "checkpoint": (
            f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'
        ).encode(),
    }
    check_car_members(members)
    _write_tar(out, members)
    note = f"the car will show this model as {shown!r} (the file name up to its first dot)"
    return Exported(str(out), name, prefix, list(members), [note], car_model_name=shown)


def _write_tar(out: Path, members: dict[str, bytes]) -> None:
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for member, body in members.items():
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(body), 0o644
            tar.addfile(info, io.BytesIO(body))
    os.replace(tmp, out)  # never a half-written archive under the name


def droa_layout(
    store: ObjectStore,
    prefix: str,
    which: str,
    out: Path,
    *,
    world: str | None = None,
    race_type: str | None = None,
    model_name: str | None = None,
) -> Exported:
    """Write the import folder into the new (or empty) directory ``out``.

    ``world`` overrides the ``WORLD_NAME`` of the model's ``training_params.yaml`` (the job's
    world, for a model whose trainer wrote none); ``race_type`` is the job's; ``model_name``,
    when given, is checked against DRoA's rule. ``InvalidInput``/``NotFound`` in one line, and
    nothing written, when a file is missing or DRoA would refuse the model."""
    if model_name is not None:
        check_model_name(model_name)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out}: not empty; export into a new directory")
    keys = ModelKeys(prefix)
    name, files = _files(store, prefix, which)
    reward = _required(store, keys.reward_function, prefix)
    hyper_body = _required(store, keys.ip("hyperparameters.json"), prefix)
    source = _optional(store, keys.training_params)
    params_in = parse_training_params(source or b"", _rel(keys, keys.training_params))
    world = world or _world_of(params_in)
    if not world:
        raise InvalidInput(
            f"{prefix}: its training_params.yaml names no WORLD_NAME; give the world with --world"
        )
    choice = droa_track_for(world, _waypoints_clockwise(world))
    metadata = _json(files["model_metadata.json"], _rel(keys, keys.metadata))
    check_droa_model(metadata, _json(hyper_body, "ip/hyperparameters.json"))

    written: dict[str, bytes] = {_rel(keys, keys.model_file(k)): v for k, v in files.items()}
    written[_rel(keys, keys.coach_checkpoint)] = f"{name}\n".encode()
    entry = _checkpoint_entry(store, keys, name)
    written[_rel(keys, keys.checkpoints_json)] = json.dumps(
        {"last_checkpoint": entry, "best_checkpoint": entry}
    ).encode()
    written["model_metadata.json"] = files["model_metadata.json"]
    written[_rel(keys, keys.reward_function)] = reward
    written[_rel(keys, keys.ip("hyperparameters.json"))] = hyper_body
    written["hyperparameters.json"] = hyper_body
    params = training_params(params_in, choice, race_type)
    written[_rel(keys, keys.training_params)] = training_params_yaml(params)
    notes = [
        f"WORLD_NAME {choice.track.track_id} (DRoA's {choice.track.name}), "
        f"TRACK_DIRECTION_CLOCKWISE {str(choice.clockwise).lower()} "
        f"({'clockwise' if choice.clockwise else 'counter-clockwise'}): {choice.how}"
    ]
    metrics = _metrics(store, keys)
    written.update(metrics)
    training = _rel(keys, keys.metrics)
    if training in metrics:
        label = re.sub(r"[^A-Za-z0-9-]+", "-", prefix).strip("-") or "model"
        graph = f"{_rel(keys, keys.metrics_dir)}training/training-{label}.json"
        written[graph] = metrics[training]
    else:
        notes.append(
            "no TrainingMetrics.json in the model: DRoA shows no training graph, and "
            "dr-upload-model refuses a folder with nothing in metrics/"
        )
    written = {k: v for k, v in written.items() if not skipped_by_uploaders(k)}
    _write_dir(out, written)
    return Exported(
        str(out),
        name,
        prefix,
        sorted(written),
        notes,
        world=world,
        droa_track=choice.track.track_id,
        track_direction_clockwise=choice.clockwise,
    )


def _required(store: ObjectStore, key: str, prefix: str) -> bytes:
    body = _optional(store, key)
    if body is None:
        raise NotFound(
            f"{prefix}: no {_rel(ModelKeys(prefix), key)}, which the import needs", key=key
        )
    return body


def _optional(store: ObjectStore, key: str) -> bytes | None:
    try:
        return store.get(key).body
    except NotFound:
        return None


def _world_of(params: dict[str, Any]) -> str | None:
    w = params.get("WORLD_NAME")
    return str(w) if w else None


def _waypoints_clockwise(world: str) -> bool | None:
    """The direction the bundled waypoints of an unsuffixed world run; None when the world
    has a suffix or pitstop does not bundle its waypoints."""
    if split_direction(world)[1] is not None:
        return None
    try:
        track = load_track(world)
    except InvalidInput:
        return None
    return track.clockwise if track.is_loop else None


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{what}: not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{what}: not a JSON object")
    return doc


def _checkpoint_entry(store: ObjectStore, keys: ModelKeys, name: str) -> dict[str, Any]:
    """The trainer's own ``deepracer_checkpoints.json`` entry for ``name`` when it has one
    (as DRfC's importer keeps it), else a plain one."""
    body = _optional(store, keys.checkpoints_json)
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {}
    for which in ("best_checkpoint", "last_checkpoint"):
        e = doc.get(which) if isinstance(doc, dict) else None
        if isinstance(e, dict) and e.get("name") == name:
            return e
    return {"name": name, "avg_eval_metric": 0.0, "time_stamp": 0.0}


def _metrics(store: ObjectStore, keys: ModelKeys) -> dict[str, bytes]:
    """Everything under the model's ``metrics/``, by path relative to the prefix."""
    out: dict[str, bytes] = {}
    for listed in store.list(keys.metrics_dir):
        rel = keys.relative(listed.key)
        if rel and not rel.endswith("/"):
            body = _optional(store, listed.key)
            if body is not None:
                out[rel] = body
    return out


def _write_dir(out: Path, written: dict[str, bytes]) -> None:
    """Write every file into a temporary sibling, then move it into place: a failure leaves
    no half-written folder under the name."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for rel, body in written.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
