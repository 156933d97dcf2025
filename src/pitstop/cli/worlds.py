"""``pitstop worlds``: the world names a job may train on."""

from __future__ import annotations

from typing import Any

from pitstop.cli.common import Sub, command, opt
from pitstop.cli.output import Table, show


def register(sub: Sub) -> None:
    command(
        sub, "worlds", _worlds, 'list the simulator\'s worlds (what a job\'s "world" may name)',
        "List every world the DeepRacer simulation application knows, and whether pitstop "
        "bundles its waypoints (for 'reward check/preview --track' and 'action-space "
        "from-track'). A job's world is checked against this list at submit and at inbox intake.",
        [opt("pattern", nargs="?", metavar="TEXT", help="only names containing TEXT (any case)")],
        settings=False,
    )  # fmt: skip


def _worlds(args: Any) -> int:
    from pitstop import tracks
    from pitstop.tracks.worlds import known_worlds

    bundled = set(tracks.available())
    text = (args.pattern or "").lower()
    rows = [{"name": w, "waypoints": w in bundled} for w in known_worlds() if text in w.lower()]
    table = [[r["name"], "bundled" if r["waypoints"] else None] for r in rows]
    show(
        args, rows, Table(["WORLD", "WAYPOINTS"], table, f"no world name contains {args.pattern!r}")
    )
    return 0
