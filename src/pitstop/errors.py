"""Every error pitstop raises on purpose.

Errors are caught in two places only: the daemon's tick (log, map to a state, carry on)
and the CLI entry point (one-line message, exit code). Adapters wrap library errors
(``raise StoreError(...) from e``) so callers never see botocore or OS exceptions.

Exceptions private to one module's implementation stay there: ``serve/server.py``'s
``HttpError`` (a status code on its way to the response), ``reward_funcs/_child.py``'s
``CallTimeout`` (a ``BaseException``, so a reward function cannot catch it) and
``store/parse.py``'s ``_NonFinite``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def validation_message(err: Mapping[str, Any]) -> str:
    """The message of one of pydantic's ``errors()`` rows, without the "Value error, " (or
    "Assertion failed, ") prefix pydantic puts before a validator's own words."""
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


class PitstopError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with when this reaches it."""

    exit_code = 1


class IllegalTransition(PitstopError):
    """The core asked for a state change its edge table does not hold (a bug, never input)."""


class UsageError(PitstopError):
    """Bad command-line usage or bad input named by the user (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A settings file or ``PITSTOP_*`` variable is missing, malformed or out of bounds."""


class InvalidInput(UsageError):
    """A user's file (job spec, metadata, hyperparameters, track) is malformed."""


class MissingExtra(PitstopError):
    """A command needs an optional dependency that is not installed; the message names the
    ``pip install`` line that adds it (exit 1)."""


class CheckFailed(PitstopError):
    """A check ran and found problems (exit 1): the input was readable but not valid."""


class InvalidRewardFunction(CheckFailed):
    """A reward function fails validation; the message names the rule and the params."""


class StoreError(PitstopError):
    """The object store could not be reached or answered with an unexpected error."""


class BucketUnavailable(StoreError):
    """The bucket does not exist, or these credentials may not use it (``NoSuchBucket``,
    403): not a passing outage. Waiting does not help; a person must act."""


class PreconditionFailed(StoreError):
    """A conditional write lost: the object changed (If-Match) or exists (If-None-Match)."""


class NotFound(StoreError):
    """The object or job does not exist; ``key`` names the object where known."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class CorruptObject(StoreError):
    """An object exists but cannot be read as what it should be (not JSON, wrong shape).

    Unlike a plain ``StoreError`` this does not go away by retrying: the caller must set the
    object aside and decide, never crash-loop on it. ``key`` names the object.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InvalidJob(CorruptObject):
    """A job in the store breaks pitstop's rules (its spec's id is not its directory...).

    Such a job is never claimed or run; listings skip it and say why.
    """


class InvalidJobId(InvalidJob):
    """A job id (from an S3 key, a document or a caller) is outside the job-id grammar."""


class TrainerError(PitstopError):
    """A trainer backend could not start, stop or inspect its training run."""


class EnvValueRefused(TrainerError):
    """A value for DRfC's shell-read run.env/system.env breaks its key's grammar."""


class RunScriptRefused(TrainerError):
    """A run script named by a job lies outside ``PREFIX/scripts/``: it is never run."""


class LeaseLost(PitstopError):
    """This instance no longer holds the job's lease: it must stop training at once."""


class JobFailed(PitstopError):
    """A job the client waited for ended ``failed`` or ``rejected``; ``doc`` is its document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__(f"job {doc['id']} {doc['state']}: {doc.get('reason') or 'no reason'}")
        self.doc = doc
        self.reason = doc.get("reason")


class FleetError(PitstopError):
    """An AWS call for the fleet failed (exit 1)."""


class SshError(PitstopError):
    """Connecting or authenticating failed, or the host key was refused (exit 1)."""


class NoLiveOwner(PitstopError):
    """The job has no instance running an attempt now: nothing to read live (exit 1)."""


class ImdsError(PitstopError):
    """The instance metadata service (IMDSv2) could not be read or answered nonsense."""
