"""Plain-text tables: left-aligned columns fitted to a width, the widest columns cut with an
ellipsis, cells optionally coloured with ANSI codes; and the short form of a record's time.

Pure text layout: deciding where it goes (a terminal or a pipe, colour or not) and printing
it is ``pitstop.cli.output``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

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


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


def _fit(
    widths: list[int], headers: Sequence[str], width: int, keep: Collection[int] = ()
) -> list[int]:
    """Narrow the widest columns, one character at a time, until the row fits ``width``;
    the columns in ``keep`` are never cut."""
    floor = [
        w if i in keep else min(w, max(len(h), MIN_CUT_WIDTH))
        for i, (w, h) in enumerate(zip(widths, headers, strict=True))
    ]
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
    keep: Collection[int] = (),
    drop: Sequence[int] = (),
) -> str:
    """Left-aligned columns separated by two spaces; ``None`` prints as ``-``.

    ``width``: make each line fit: first leave out the columns of ``drop``, in that order,
    while the table is too wide, then cut the widest columns (with an ellipsis), never those
    in ``keep`` (ids to copy); None never cuts. ``styles``: column index -> a function
    giving the SGR code of a cell (with ``colour``).
    """
    text_rows = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    if width is not None:
        shown = list(range(len(headers)))
        for col in drop:
            if sum(widths[i] for i in shown) + 2 * (len(shown) - 1) <= width:
                break
            if col in shown:
                shown.remove(col)
        headers = [headers[i] for i in shown]
        text_rows = [[row[i] for i in shown] for row in text_rows]
        styles = {shown.index(i): f for i, f in (styles or {}).items() if i in shown}
        keep = {shown.index(i) for i in keep if i in shown}
        widths = _fit([widths[i] for i in shown], headers, width, keep)

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


def short_time(iso: object) -> str | None:
    """``2026-11-22T04:31:59.008Z`` -> ``2026-11-22 04:31:59`` (UTC, to the second)."""
    if not isinstance(iso, str) or not iso:
        return None
    return iso.replace("T", " ").split(".")[0].removesuffix("Z").removesuffix("+00:00")


def seconds(ms: object) -> str:
    """A lap time in milliseconds as seconds (``83456`` -> ``83.456``); ``-`` for none."""
    return f"{float(ms) / 1000:.3f}" if isinstance(ms, int | float) else "-"
