"""No import points up: each package imports only what DESIGN.md's table allows.

Top-level modules (``errors``, ``config``, ``files``, ``logs``, ``tracks``...) are shared
below every package unless listed in ``UPPER``; the CLI and the demo sit on top of all.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "pitstop"

# package -> the pitstop packages it may import (besides itself and the shared modules)
ALLOWED: dict[str, set[str]] = {
    "store": set(),
    "trainers": {"store", "templates", "evaluation", "action_space"},
    "supervisor": {"store", "trainers", "inbox", "evaluation"},
    "evaluation": {"store", "tracks", "action_space"},
    "action_space": set(),
    "reward_funcs": {"tracks"},
    "image_builder": {"templates"},
    "fleet": {"store"},
    "templates": set(),
    "simulate": {"supervisor", "store"},
    "tracks": set(),
}
UPPER = {"cli", "demo", "client", "sweep"}  # above everything: never imported by a package
# the intake services (CLI, inbox and demo turn user files into jobs) sit between
SERVICES = {
    "intake": {"store", "action_space", "reward_funcs", "tracks"},
    "inbox": {"store", "intake", "reward_funcs"},
    "queue": {"store", "supervisor"},  # the cancel rule is a lifecycle edge
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "pitstop" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_no_package_imports_upward() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((SRC / package).rglob("*.py")):
            for target in _imports(path) - {package}:
                if target in UPPER or (target in ALLOWED and target not in allowed):
                    wrong.append(f"{path.relative_to(SRC)} imports pitstop.{target}")
    for module, allowed in SERVICES.items():
        for target in _imports(SRC / f"{module}.py") - {module}:
            if target in UPPER or (target in ALLOWED and target not in allowed):
                wrong.append(f"{module}.py imports pitstop.{target}")
    assert wrong == []
