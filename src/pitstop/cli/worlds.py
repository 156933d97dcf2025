"""``pitstop worlds``: the world names a job may train on."""

from __future__ import annotations

import argparse
from typing import Any

from pitstop.cli.output import add_json_flag, table_or_json


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "worlds",
        help="list the simulator's worlds (what a job's \"world\" may name)",
        description=(
            "List every world the DeepRacer simulation application knows, and whether "
            "pitstop bundles its waypoints (for 'reward check/preview --track' and "
            "'action-space from-track'). A job's world is checked against this list at "
            "submit and at inbox intake."
        ),
    )
    p.add_argument(
        "pattern", nargs="?", metavar="TEXT", help="only names containing TEXT (any case)"
    )
    add_json_flag(p)
    p.set_defaults(func=_worlds)


def _worlds(args: Any) -> int:
    from pitstop import tracks
    from pitstop.tracks.worlds import known_worlds

    bundled = set(tracks.available())
    text = (args.pattern or "").lower()
    rows = [{"name": w, "waypoints": w in bundled} for w in known_worlds() if text in w.lower()]
    table_or_json(
        args.json,
        rows,
        ["WORLD", "WAYPOINTS"],
        [[r["name"], "bundled" if r["waypoints"] else None] for r in rows],
        empty=f"no world name contains {args.pattern!r}",
    )
    return 0
