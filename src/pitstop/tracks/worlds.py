"""The simulator's world names: which ``world`` a job may name.

``data/worlds.txt`` lists every world the DeepRacer simulation application knows (its
``bundle/routes/``); the bundled waypoint arrays are a subset of them. A job naming any
other world would boot a GPU instance and crash-loop in the simulator, so submissions and
inbox drops are checked here first.

This module owns the list and the matching rule only (exact, else a unique case-insensitive
match, else an error naming the nearest names); callers decide where to check.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib import resources

from pitstop.errors import InvalidInput


@cache
def known_worlds() -> tuple[str, ...]:
    """Every world name the simulator knows, sorted."""
    text = (
        resources.files("pitstop.tracks").joinpath("data").joinpath("worlds.txt").read_text("utf-8")
    )
    names = {line.strip() for line in text.splitlines()}
    return tuple(sorted(n for n in names if n and not n.startswith("#")))


def suggestions(name: str, n: int = 3) -> list[str]:
    """The known worlds nearest to ``name`` (case-insensitive), best first."""
    by_lower = {w.lower(): w for w in known_worlds()}
    low = name.lower()
    starts = [w for lw, w in by_lower.items() if low and lw.startswith(low)]
    close = difflib.get_close_matches(low, list(by_lower), n=n, cutoff=0.6)
    out: list[str] = []
    for w in [*starts, *(by_lower[c] for c in close)]:
        if w not in out:
            out.append(w)
    return out[:n]


def resolve_world(name: str, what: str = "world") -> str:
    """The canonical spelling of world ``name``; ``InvalidInput`` (one line, with the
    nearest names) when the simulator has no such world.

    ``what`` names the input in the message (e.g. ``"job.json: world"``)."""
    worlds = known_worlds()
    if name in worlds:
        return name
    same = [w for w in worlds if w.lower() == name.lower()]
    if len(same) == 1:
        return same[0]
    near = same or suggestions(name)
    hint = f"did you mean {_either(near)}? " if near else ""
    raise InvalidInput(
        f"{what}: unknown world {name!r}; {hint}'pitstop worlds' lists the {len(worlds)} "
        "worlds the simulator knows"
    )


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


__all__ = ["known_worlds", "resolve_world", "suggestions"]
