"""The job-id grammar: the one place that says what a job id may look like.

A job id names S3 keys (``jobs/JOB_ID/``, ``models/JOB_ID/attempt-N``) and ends up in files
other programs read as shell (DRfC's ``run.env``), so it is a short, lower-case slug:
``[a-z0-9][a-z0-9-]{0,62}``. Every id read from S3 (a ``jobs/`` listing, an index key, a
lease, a state or a spec) and every id pitstop creates is checked against it; callers decide
what to do with a bad one (skip and report it, or refuse).
"""

from __future__ import annotations

import re

from pitstop.errors import InvalidJobId

JOB_ID_GRAMMAR = "[a-z0-9][a-z0-9-]{0,62}"
JOB_ID_PATTERN = f"^{JOB_ID_GRAMMAR}$"  # for pydantic fields (Rust regex: $ is the very end)
_JOB_ID = re.compile(rf"\A{JOB_ID_GRAMMAR}\Z")  # \Z, not $: no trailing newline sneaks in
MAX_JOB_ID_LENGTH = 63


def valid_job_id(value: object) -> bool:
    """True when ``value`` is a string in the job-id grammar."""
    return isinstance(value, str) and _JOB_ID.match(value) is not None


def job_id_problem(value: object) -> str | None:
    """Why ``value`` is not a job id (one short phrase), or None when it is one."""
    if not isinstance(value, str):
        return f"not a string ({type(value).__name__})"
    if valid_job_id(value):
        return None
    if not value:
        return "empty"
    if len(value) > MAX_JOB_ID_LENGTH:
        return f"{len(value)} characters (at most {MAX_JOB_ID_LENGTH})"
    return f"not of the form {JOB_ID_GRAMMAR} (lower-case letters, digits, '-')"


def check_job_id(value: object, where: str = "job id") -> str:
    """Return ``value`` when it is a job id; else raise ``InvalidJobId`` naming ``where``."""
    problem = job_id_problem(value)
    if problem is not None:
        raise InvalidJobId(f"{where}: {value!r} is not a valid job id: {problem}")
    assert isinstance(value, str)
    return value
