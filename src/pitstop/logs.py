"""structlog set-up: JSON lines under systemd (or when asked), readable lines on a terminal."""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

import structlog


def configure(fmt: Literal["auto", "json", "console"] = "auto", level: int = logging.INFO) -> None:
    if fmt == "auto":
        under_systemd = bool(os.environ.get("INVOCATION_ID") or os.environ.get("JOURNAL_STREAM"))
        fmt = "json" if under_systemd or not sys.stderr.isatty() else "console"
    # JSON carries a traceback as structured data; the console renderer formats its own
    tail: list[structlog.types.Processor]
    if fmt == "json":
        tail = [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    else:
        tail = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *tail,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # sys.stderr looked up at each use, never kept: it may be replaced (tests capture it)
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # APScheduler logs through the standard library; keep it quiet unless something is wrong
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
