"""Reading and writing model_metadata.json: text -> checked model -> text.

Errors follow the CLI's contract: text that is not JSON, or a file that cannot be read,
is ``InvalidInput`` (exit 2); a readable document that breaks a rule is ``CheckFailed``
(exit 1). Messages are one line and start with the source (a path, or an S3 key).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from pitstop.action_space.check import Problem, metadata_problems
from pitstop.action_space.models import ModelMetadata
from pitstop.errors import CheckFailed, InvalidInput
from pitstop.files import read_user_file


def loads_json(text: str, source: str) -> Any:
    """Parse JSON text; ``InvalidInput("SOURCE: not JSON: ...")`` when it is not."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{source}: not JSON: {e}") from None
    except RecursionError:
        raise InvalidInput(f"{source}: not JSON: nested too deeply") from None


def read_text(path: str | os.PathLike[str]) -> str:
    """A file's text, with one-line errors (exit 2) for missing or unreadable files."""
    p = Path(path)
    data = read_user_file(p)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{p}: not JSON: not UTF-8 text") from None


def raise_problems(source: str, problems: list[Problem]) -> None:
    """``CheckFailed`` naming the first problem (and how many more), if there are any."""
    if not problems:
        return
    more = f" (and {len(problems) - 1} more; run 'pitstop action-space check')"
    raise CheckFailed(f"{source}: {problems[0]}" + (more if len(problems) > 1 else ""))


def metadata_from_doc(doc: object, source: str, strict: bool = True) -> ModelMetadata:
    """A model from a parsed document. ``strict=False`` lets rule problems through
    (the editor repairs them) but never shape problems."""
    problems = metadata_problems(doc)
    if not strict:
        problems = [p for p in problems if p.shape]
    raise_problems(source, problems)
    return ModelMetadata.model_validate(doc)


def parse_metadata(text: str, source: str, strict: bool = True) -> ModelMetadata:
    """Parse and check model_metadata.json text.

    Raises ``InvalidInput("SOURCE: not JSON: ...")`` or ``CheckFailed("SOURCE: PATH: problem")``.
    """
    return metadata_from_doc(loads_json(text, source), source, strict=strict)


def load_metadata(path: str | os.PathLike[str], strict: bool = True) -> ModelMetadata:
    """Read and check a model_metadata.json file."""
    return parse_metadata(read_text(path), str(path), strict=strict)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a file whole (temporary file + rename), with one-line errors."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InvalidInput(f"{p}: cannot write ({e.strerror or e})") from None


def write_metadata(path: str | os.PathLike[str], meta: ModelMetadata) -> None:
    write_text(path, meta.to_json())
