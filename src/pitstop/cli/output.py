"""Printing helpers shared by the command groups: JSON documents and plain tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO


def print_json(doc: Any) -> None:
    """Print one JSON document (``--json`` output): sorted keys, ISO dates as strings."""
    json.dump(doc, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces; ``None`` prints as ``-``."""
    text_rows = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in text_rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def progress(stream: TextIO | None = None) -> Callable[[str], None]:
    """A printer for progress lines on long work: writes to ``stream`` (stderr) only when
    it is a terminal, so a pipe or a log gets nothing but the command's output."""
    target = sys.stderr if stream is None else stream
    if not target.isatty():
        return lambda line: None

    def write(line: str) -> None:
        target.write(line + "\n")
        target.flush()

    return write


def add_json_flag(parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")
