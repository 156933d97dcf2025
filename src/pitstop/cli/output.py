"""Printing for every command: one JSON document, or a table that fits the terminal.

- ``--json``: one document on stdout (:func:`print_json`), the same whatever the terminal.
- Tables (:func:`print_table`, or a :class:`Table` given to :func:`show`):
  on a terminal they fit its width (the widest columns are cut, ending in an ellipsis) and
  states are coloured; piped, they are plain and never cut, so scripts see stable text.
  ``NO_COLOR`` (any non-empty value) or ``TERM=dumb`` turns colour off (https://no-color.org).
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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

# the layout is pitstop.tables'; deciding where it goes and printing it are this module's
from pitstop.tables import Style, format_table
from pitstop.tables import short_time as short_time
from pitstop.tables import state_style as state_style


def print_json(doc: Any) -> None:
    """Print one JSON document (``--json`` output): sorted keys, ISO dates as strings."""
    json.dump(doc, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with a non-empty ``NO_COLOR`` or ``TERM=dumb``
    (an empty ``NO_COLOR=`` leaves colour on, as https://no-color.org says)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def terminal_width(stream: TextIO) -> int | None:
    """The width to fit tables to: the terminal's (``COLUMNS`` first), or None (never cut:
    a script reads whole rows) when not a terminal."""
    if not getattr(stream, "isatty", lambda: False)():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    styles: Mapping[int, Style] | None = None,
    stream: TextIO | None = None,
    keep: Collection[int] = (),
    drop: Sequence[int] = (),
) -> None:
    """Print a table fitted to the terminal (coloured there), or plain when piped; ``keep``
    and ``drop`` as in ``format_table`` (columns never cut, columns left out first)."""
    out = sys.stdout if stream is None else stream
    text = format_table(
        headers,
        rows,
        width=terminal_width(out),
        colour=use_colour(out),
        styles=styles,
        keep=keep,
        drop=drop,
    )
    out.write(text + "\n")


@dataclass
class Table:
    """A table to print in :func:`show` (``empty``: the line printed instead of no rows)."""

    headers: Sequence[str]
    rows: Iterable[Sequence[object]]
    empty: str | None = None
    styles: Mapping[int, Style] | None = None
    keep: Collection[int] = ()  # columns never cut (ids to copy)
    drop: Sequence[int] = ()  # columns left out first on a narrow terminal, in this order

    def print(self) -> None:
        rows = list(self.rows)
        if not rows and self.empty is not None:
            print(self.empty)
        else:
            print_table(self.headers, rows, styles=self.styles, keep=self.keep, drop=self.drop)


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
