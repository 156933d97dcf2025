"""The one line for an error that reaches ``pitstop``'s entry point from outside pitstop's
own errors: what a newcomer's setup causes before any adapter can wrap it (AWS credentials
or profile, a file that cannot be written), and where a bucket error's bucket came from.

``one_line`` answers ``(line, exit code)`` or None for an error that is a bug (re-raised:
a traceback is the right report for that)."""

from __future__ import annotations

import os
import sys
from typing import Any

from pitstop.errors import BucketUnavailable, PitstopError

CREDENTIALS_HELP = "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither"


def one_line(e: BaseException) -> tuple[str, int] | None:
    """``(message, exit code)`` for an error a user can fix; None for anything else."""
    if isinstance(e, OSError) and e.filename is not None:
        return f"{e.filename}: {e.strerror or e}", 1
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is None:
        return None
    if isinstance(e, botocore.PartialCredentialsError):
        return f"AWS credentials: incomplete ({e}); {CREDENTIALS_HELP}", 2
    if isinstance(e, botocore.ProfileNotFound):
        profile = os.environ.get("AWS_PROFILE", "")
        return (
            f"AWS_PROFILE={profile}: no such profile in ~/.aws/config or ~/.aws/credentials; "
            "'aws configure list-profiles' lists them, or unset AWS_PROFILE",
            2,
        )
    if isinstance(e, botocore.NoCredentialsError):
        return (
            "AWS credentials: none found; run 'aws configure', set AWS_PROFILE, "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            2,
        )
    if isinstance(e, botocore.BotoCoreError):
        return f"AWS: {e}", 1
    return None


def with_source(e: PitstopError, args: Any) -> str:
    """``e``'s message; for a bucket that does not exist (or may not be used), where the
    bucket's name came from: ``--bucket``, ``PITSTOP_BUCKET`` or the settings file."""
    if not isinstance(e, BucketUnavailable):
        return str(e)
    if getattr(args, "bucket", None):
        where = "--bucket"
    elif os.environ.get("PITSTOP_BUCKET"):
        where = "PITSTOP_BUCKET"
    else:
        where = "'bucket' in the settings file"
    return f"{e} (the bucket comes from {where})"
