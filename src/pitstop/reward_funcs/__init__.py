"""Reward functions: a library that runs unchanged in the simulator, a validator, a preview.

- ``validate_source`` / ``validate_file``: static rules (Python 3.8 grammar, allowed
  imports, no file/network/process access, ``reward_function(params)`` defined), then a
  sweep of synthetic simulator params over a track in a sandboxed child process.
- ``harness``: the params the simulator computes for a car pose on a track.
- ``catalog``: the bundled library (``library/*.py``).
- ``preview``: a heat map of a reward over a track.

The job queue calls ``validate_source`` before accepting a job; the CLI is
``pitstop reward ...``.
"""

from __future__ import annotations

from pitstop.reward_funcs.validator import (
    DEFAULT_TRACK,
    Problem,
    ValidationReport,
    validate_file,
    validate_many,
    validate_source,
)

__all__ = [
    "DEFAULT_TRACK",
    "Problem",
    "ValidationReport",
    "validate_file",
    "validate_many",
    "validate_source",
]
