"""Printing for every command: one JSON document, or a table that fits the terminal.

- ``--json``: one document on stdout (:func:`print_json`), the same whatever the terminal.
- Tables (:func:`print_table`, or :func:`table_or_json` for a command that prints either):
  on a terminal they fit its width (the widest columns are cut, ending in an ellipsis) and
  states are coloured; piped, they are plain and never cut, so scripts see stable text.
  ``NO_COLOR`` (any value) or ``TERM=dumb`` turns colour off (https://no-color.org).
- Progress on long work goes to stderr, on a terminal only (:func:`progress`).

Every command prints its result through :func:`show`: the JSON document with ``--json``,
else its human rendering (lines, :class:`Table` s, or a function that prints); no command
tests ``--json`` itself (:func:`wants_json` for the few that print differently around it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

ELLIPSIS = "…"
MIN_CUT_WIDTH = 8  # a column is never cut narrower than this (or its header)

# ANSI SGR codes per job state (and a few words tables share)
STATE_COLOURS = {
    "succeeded": "32",  # green
    "running": "36",  # cyan
    "starting": "36",
    "pending": "0",
    "restarting": "33",  # yellow
    "preempted": "33",
    "stalled": "33",
    "crashed": "31",  # red
    "failed": "31",
    "rejected": "31",
    "invalid": "31",
    "cancelled": "2",  # dim
}

Style = Callable[[str], str | None]  # cell text -> an SGR code, or None for plain


def state_style(text: str) -> str | None:
    return STATE_COLOURS.get(text.strip())


def print_json(doc: Any) -> None:
    """Print one JSON document (``--json`` output): sorted keys, ISO dates as strings."""
    json.dump(doc, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` or ``TERM=dumb``."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def terminal_width(stream: TextIO) -> int | None:
    """The width to fit tables to: the terminal's, or None (never cut) when not a terminal."""
    if not getattr(stream, "isatty", lambda: False)():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


def _fit(widths: list[int], headers: Sequence[str], width: int) -> list[int]:
    """Narrow the widest columns, one character at a time, until the row fits ``width``."""
    floor = [min(w, max(len(h), MIN_CUT_WIDTH)) for w, h in zip(widths, headers, strict=True)]
    out = list(widths)
    while sum(out) + 2 * (len(out) - 1) > width:
        candidates = [i for i, w in enumerate(out) if w > floor[i]]
        if not candidates:
            break  # as narrow as it gets: the terminal wraps what is left
        widest = max(candidates, key=lambda i: out[i])
        out[widest] -= 1
    return out


def format_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    width: int | None = None,
    colour: bool = False,
    styles: Mapping[int, Style] | None = None,
) -> str:
    """Left-aligned columns separated by two spaces; ``None`` prints as ``-``.

    ``width``: cut the widest columns (with an ellipsis) so each line fits; None never cuts.
    ``styles``: column index -> a function giving the SGR code of a cell (with ``colour``).
    """
    text_rows = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    if width is not None:
        widths = _fit(widths, headers, width)

    def line(cells: Sequence[str], header: bool = False) -> str:
        parts = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            shown = _cut(cell, w)
            pad = " " * (w - len(shown))
            code = "1" if header else (styles[i](cell) if styles and i in styles else None)
            if colour and code and code != "0":
                shown = f"\033[{code}m{shown}\033[0m"
            parts.append(shown + pad)
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers, header=True), *(line(r) for r in text_rows)])


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    styles: Mapping[int, Style] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Print a table fitted to the terminal (coloured there), or plain when piped."""
    out = sys.stdout if stream is None else stream
    text = format_table(
        headers, rows, width=terminal_width(out), colour=use_colour(out), styles=styles
    )
    out.write(text + "\n")


@dataclass
class Table:
    """A table to print in :func:`show` (``empty``: the line printed instead of no rows)."""

    headers: Sequence[str]
    rows: Iterable[Sequence[object]]
    empty: str | None = None
    styles: Mapping[int, Style] | None = None

    def print(self) -> None:
        rows = list(self.rows)
        if not rows and self.empty is not None:
            print(self.empty)
        else:
            print_table(self.headers, rows, styles=self.styles)


Part = str | Table | Callable[[], object] | None


def wants_json(args: Any) -> bool:
    """Whether the command was asked for one JSON document: its ``--json`` (``args``: the
    parsed options, or that flag itself)."""
    return args if isinstance(args, bool) else bool(getattr(args, "json", False))


def show(args: Any, doc: Any, *human: Part) -> None:
    """The one way a command prints its result: ``doc`` as JSON with ``--json``, else each
    of ``human`` in turn: a line, a :class:`Table`, or a function that prints (None: skipped).
    """
    if wants_json(args):
        print_json(doc)
        return
    for part in human:
        if isinstance(part, Table):
            part.print()
        elif isinstance(part, str):
            print(part)
        elif part is not None:
            part()


def table_or_json(
    as_json: bool,
    doc: Any,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    empty: str | None = None,
    styles: Mapping[int, Style] | None = None,
) -> None:
    """``doc`` as JSON when ``as_json``, else the table (or ``empty`` when it has no rows)."""
    show(as_json, doc, Table(headers, rows, empty, styles))


def short_time(iso: object) -> str | None:
    """``2026-11-22T04:31:59.008Z`` -> ``2026-11-22 04:31:59`` (UTC, to the second)."""
    if not isinstance(iso, str) or not iso:
        return None
    return iso.replace("T", " ").split(".")[0].removesuffix("Z").removesuffix("+00:00")


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
