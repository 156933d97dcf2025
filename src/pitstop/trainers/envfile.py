"""What pitstop may write into DRfC's ``run.env`` / ``system.env``: one strict grammar per key.

DRfC's ``bin/activate.sh`` reads both files with ``for l in $(grep -v '^#' FILE)`` and
``eval "export $env_var=$env_val"`` (REFERENCE.md section 2): every value is word-split,
globbed and evaluated by a root shell. So every key pitstop manages has a grammar that admits
no shell syntax at all (letters, digits and a few of ``. _ - / :``), and a rendered file is
refused whole unless each line is blank, a comment, or ``KEY=VALUE`` with a known key and a
value in that key's grammar. A refusal is one line (``EnvValueRefused``) naming the file,
the key and the value; nothing is written.

This module owns the grammar only; rendering and merging stay in ``drfc.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pitstop.errors import EnvValueRefused


@dataclass(frozen=True)
class Rule:
    pattern: str  # full-match regular expression
    what: str  # shown in a refusal: what the value should be

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


_KEY_CHARS = r"[A-Za-z0-9][A-Za-z0-9._-]*"
# an S3 key or prefix as pitstop writes them: safe characters, no empty or dot-dot segments
_S3_PATH = rf"(?!.*(?:^|/)\.\.?(?:/|$)){_KEY_CHARS}(?:/{_KEY_CHARS}){{0,31}}"
S3_PREFIX = Rule(_S3_PATH, "an S3 key prefix (letters, digits, '.', '_', '-', '/'; no '..')")
S3_PREFIX_OR_EMPTY = Rule(f"(?:{_S3_PATH})?", S3_PREFIX.what + " or nothing")
S3_KEY = Rule(_S3_PATH, "an S3 key (letters, digits, '.', '_', '-', '/'; no '..')")
BOOLEAN = Rule("True|False", "True or False")
COUNT = Rule("[0-9]{1,6}", "a whole number")
NUMBER = Rule(r"[0-9]{1,6}(?:\.[0-9]{1,6})?", "a number")
WORKERS = Rule("[1-9][0-9]?", "a number of workers (1-99)")
BUCKET = Rule(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name")
REGION = Rule(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}", "an AWS region")
WORLD = Rule(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", "a simulator world name")
CHECKPOINT = Rule(r"(?:best|last|[0-9]+_Step-[0-9]+\.ckpt)?", "best, last or a checkpoint name")

GRAMMAR: dict[str, Rule] = {
    # run.env
    "DR_RUN_ID": Rule("[0-9]{1,3}", "a run id (digits)"),
    "DR_WORLD_NAME": WORLD,
    "DR_RACE_TYPE": Rule(
        "TIME_TRIAL|OBJECT_AVOIDANCE|HEAD_TO_BOT|HEAD_TO_HEAD", "a race type simapp accepts"
    ),
    "DR_LOCAL_S3_MODEL_PREFIX": S3_PREFIX,
    "DR_LOCAL_S3_PRETRAINED": BOOLEAN,
    "DR_LOCAL_S3_PRETRAINED_PREFIX": S3_PREFIX_OR_EMPTY,
    "DR_LOCAL_S3_PRETRAINED_CHECKPOINT": CHECKPOINT,
    "DR_LOCAL_S3_CUSTOM_FILES_PREFIX": S3_PREFIX,
    "DR_LOCAL_S3_REWARD_KEY": S3_KEY,
    "DR_LOCAL_S3_MODEL_METADATA_KEY": S3_KEY,
    "DR_LOCAL_S3_HYPERPARAMETERS_KEY": S3_KEY,
    "DR_LOCAL_S3_METRICS_PREFIX": S3_PREFIX,
    "DR_UPLOAD_S3_PREFIX": S3_PREFIX,
    # evaluation (run.env, DR_EVAL_*)
    "DR_EVAL_NUMBER_OF_TRIALS": COUNT,
    "DR_EVAL_IS_CONTINUOUS": BOOLEAN,
    "DR_EVAL_MAX_RESETS": COUNT,
    "DR_EVAL_OFF_TRACK_PENALTY": NUMBER,
    "DR_EVAL_COLLISION_PENALTY": NUMBER,
    "DR_EVAL_SAVE_MP4": BOOLEAN,
    "DR_EVAL_CHECKPOINT": Rule("best|last", "best or last"),
    "DR_EVAL_REVERSE_DIRECTION": BOOLEAN,
    # system.env
    "DR_CLOUD": Rule("aws|azure|local|remote", "aws, azure, local or remote"),
    "DR_AWS_APP_REGION": REGION,
    "DR_LOCAL_S3_BUCKET": BUCKET,
    "DR_UPLOAD_S3_BUCKET": BUCKET,
    "DR_WORKERS": WORKERS,
    "DR_DOCKER_STYLE": Rule("swarm|compose", "swarm or compose"),
}

_LINE = re.compile(r"([A-Z][A-Z0-9_]*)=(.*)", re.DOTALL)
_COMMENT = re.compile(r"#[^\x00-\x1f\x7f]*")


def s3_path_problem(value: str) -> str | None:
    """Why ``value`` is not an S3 key or prefix in the grammar (None when it is), in words."""
    if re.fullmatch(_S3_PATH, value):
        return None
    odd = sorted({c for c in value if not re.fullmatch(r"[A-Za-z0-9._/-]", c)})
    if odd:
        shown = " ".join(repr(c) for c in odd[:5])
        return f"{shown} not allowed (only letters, digits, '.', '_', '-', '/')"
    segments = value.split("/")
    if "" in segments:
        return "an empty segment ('//', or '/' at an end)"
    if any(s in (".", "..") for s in segments):
        return "a '.' or '..' segment"
    if any(not s[0].isalnum() for s in segments):
        return "a segment that starts with '.', '_' or '-'"
    if len(segments) > 32:
        return "more than 32 segments"
    return "not " + S3_PREFIX.what


def check_value(file: str, key: str, value: str) -> str:
    """Return ``value`` when it fits ``key``'s grammar, else raise ``EnvValueRefused``."""
    rule = GRAMMAR.get(key)
    if rule is None:
        raise EnvValueRefused(
            f"{file}: {key}: no grammar for this key, so pitstop will not write it "
            "(add one to pitstop.trainers.envfile.GRAMMAR)"
        )
    if not rule.matches(value):
        raise EnvValueRefused(
            f"{file}: {key}={value!r}: not {rule.what}; DRfC evaluates these files as shell, "
            "so pitstop refuses to write it"
        )
    return value


def check_env_file(file: str, text: str) -> None:
    """Check every line of a rendered env file; ``EnvValueRefused`` on the first bad one."""
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if _COMMENT.fullmatch(line):
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise EnvValueRefused(
                f"{file}: line {n}: {line[:80]!r} is neither a comment nor KEY=VALUE"
            )
        check_value(file, m.group(1), m.group(2))
