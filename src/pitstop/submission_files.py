"""A submission from the files a user names (``pitstop submit``): the reward function, an
optional model_metadata.json, hyperparameters.json and job fields, and the worlds to
evaluate the model on once it is trained. Each file is labelled with the path it came
from, so a problem names the user's own file. Checking it is ``intake``'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pitstop.errors import InvalidInput
from pitstop.files import read_user_file
from pitstop.intake import Submission
from pitstop.store.jobs import parse_user_fields


def _read(path: str, what: str) -> bytes:
    return read_user_file(path, f"{what} file")


def submission_from_files(
    reward: str,
    *,
    name: str | None = None,
    metadata: str | None = None,
    hyperparameters: str | None = None,
    job: str | None = None,
    evaluate: str | None = None,
) -> Submission:
    """The submission of these files (``evaluate``: worlds, comma-separated); not checked."""
    if not reward.endswith(".py"):
        raise InvalidInput(f"{reward}: a reward function must be a .py file")
    files = {"reward_function.py": _read(reward, "reward function")}
    labels = {"reward_function.py": reward}
    for key, path, what in [
        ("model_metadata.json", metadata, "metadata"),
        ("hyperparameters.json", hyperparameters, "hyperparameters"),
    ]:
        if path:
            files[key], labels[key] = _read(path, what), path
    fields: dict[str, Any] = {}
    if job:
        fields = parse_user_fields(_read(job, "job"), job)
        labels["job.json"] = job
    if evaluate:
        fields["evaluate_on"] = [w.strip() for w in evaluate.split(",") if w.strip()]
        labels.setdefault("job.json", "--evaluate")
    name = name or fields.get("name") or Path(reward).stem
    return Submission(name=name, files=files, fields=fields, source="cli", labels=labels)
