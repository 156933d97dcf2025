"""A trained model out of the bucket: the car's tarball, and DeepRacer-on-AWS's import layout.

The car loads a ``tar.gz`` of SageMaker's ``/opt/ml/model`` (DRfC's ``upload-car.sh``):
``model.pb`` (the frozen graph of the chosen checkpoint), ``model_metadata.json`` and the
checkpoint files, with TensorFlow's ``checkpoint`` file naming it. The import layout is
what DRfC's ``dr-upload-model`` writes for the console and DRoA: ``model/`` (checkpoint
files, ``model_N.pb``, metadata, ``.coach_checkpoint`` and ``deepracer_checkpoints.json``
both naming the checkpoint), ``reward_function.py``, ``ip/hyperparameters.json``,
``training_params.yaml``.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from pitstop.errors import InvalidInput, NotFound
from pitstop.store.checkpoints import select_checkpoint
from pitstop.store.layout import ModelKeys, checkpoint_number
from pitstop.store.objects import ObjectStore


def _files(store: ObjectStore, prefix: str, which: str) -> tuple[str, dict[str, bytes]]:
    """(checkpoint name, {file name in model/: body}) for the chosen checkpoint."""
    name = select_checkpoint(store, prefix, which)
    keys = ModelKeys(prefix)
    files = {_name(keys, k): store.get(k).body for k in keys.checkpoint_files(name)}
    try:
        files["model_metadata.json"] = store.get(keys.metadata).body
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


def car_tarball(store: ObjectStore, prefix: str, which: str, out: Path) -> tuple[str, list[str]]:
    """Write the car's tarball; returns (checkpoint, member names)."""
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
    _write_tar(out, members)
    return name, list(members)


def _write_tar(out: Path, members: dict[str, bytes]) -> None:
    if out.is_dir():
        raise InvalidInput(f"{out}: is a directory; give the tarball's file name")
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for member, body in members.items():
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(body), 0o644
            tar.addfile(info, io.BytesIO(body))
    os.replace(tmp, out)  # never a half-written tarball under the name


def droa_layout(store: ObjectStore, prefix: str, which: str, out: Path) -> tuple[str, list[str]]:
    """Write the import layout into directory ``out``; returns (checkpoint, relative paths)."""
    name, files = _files(store, prefix, which)
    keys = ModelKeys(prefix)
    entry = {"name": name, "avg_eval_metric": 0.0, "time_stamp": 0.0}
    written = {_rel(keys, keys.model_file(k)): v for k, v in files.items()}
    written[_rel(keys, keys.coach_checkpoint)] = f"{name}\n".encode()
    written[_rel(keys, keys.checkpoints_json)] = json.dumps(
        {"last_checkpoint": entry, "best_checkpoint": entry}
    ).encode()
    for key in (keys.reward_function, keys.ip("hyperparameters.json"), keys.training_params):
        try:
            written[_rel(keys, key)] = store.get(key).body
        except NotFound:
            if key == keys.reward_function:
                raise NotFound(f"{prefix}: no reward_function.py", key=key) from None
    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"{out}: not empty; export into a new directory")
    for rel, body in written.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return name, sorted(written)
