"""Options and helpers shared by the commands that talk to S3."""

from __future__ import annotations

import argparse
from typing import Any

from pitstop.config import Settings, load_settings
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store


def positive(kind: type, what: str, minimum: float = 0) -> Any:
    """An argparse ``type`` for a number of ``kind`` that is at least ``minimum``."""

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum}, got {text}")
        return v

    return parse


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $PITSTOP_CONFIG, else /etc/pitstop/pitstop.toml if present); "
        "PITSTOP_* environment variables override it",
    )
    p.add_argument("--bucket", help="S3 bucket (overrides the settings file)")


def read_input(path: str) -> tuple[str, str]:
    """(text, source name) of a user's file, or of standard input for '-'."""
    import sys

    from pitstop.action_space.io import read_text

    if path == "-":
        return sys.stdin.read(), "<stdin>"
    return read_text(path), path


def settings_from(args: Any, **overrides: Any) -> Settings:
    return load_settings(
        getattr(args, "config", None), bucket=getattr(args, "bucket", None), **overrides
    )


def job_store(settings: Settings) -> JobStore:
    return JobStore(S3Store.from_settings(settings), Layout(settings.prefix))
