"""The bundled reward-function library: ``library/*.py``, each a standalone simulator file.

Each file's module docstring explains its idea and weights; its first line is the summary
``pitstop reward list`` prints. This module reads them as text (it never imports them: they
are simulator code, not pitstop code).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pitstop.errors import InvalidInput, UsageError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class LibraryEntry:
    name: str
    path: Path
    summary: str

    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")


def _library_dir() -> Path:
    return Path(str(resources.files("pitstop.reward_funcs").joinpath("library")))


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def entries() -> list[LibraryEntry]:
    """Every bundled reward function, sorted by name."""
    out = []
    for p in sorted(_library_dir().glob("*.py")):
        if p.stem.startswith("_"):
            continue
        out.append(LibraryEntry(name=p.stem, path=p, summary=_summary(p)))
    return out


def names() -> list[str]:
    return [e.name for e in entries()]


def get(name: str) -> LibraryEntry:
    """One bundled function by name (``centerline``, ``racing_line``...)."""
    stem = name[:-3] if name.endswith(".py") else name
    for e in entries():
        if e.name == stem:
            return e
    raise InvalidInput(
        f"no reward function named {name!r} in the library; known: {', '.join(names())}"
    )


def new(name: str, base: str, directory: Path | None = None, *, force: bool = False) -> Path:
    """Copy library function ``base`` to ``NAME.py`` (in ``directory``, default the cwd).

    ``name`` may be a plain name or a path ending in ``.py``. Refuses to overwrite an
    existing file unless ``force``.
    """
    entry = get(base)
    target = Path(name)
    if target.suffix != ".py":
        if not _NAME.match(name):
            raise UsageError(
                f"invalid name {name!r}: use letters, digits and _ (or a path ending in .py)"
            )
        target = Path(f"{name}.py")
    if directory is not None and not target.is_absolute():
        target = directory / target
    if target.exists() and not force:
        raise UsageError(f"{target}: already exists (use --force to overwrite)")
    if not target.parent.is_dir():
        raise InvalidInput(f"{target.parent}: no such directory")
    header = f"# Made with `pitstop reward new` from the library's {entry.name}.py; edit freely.\n"
    target.write_text(header + entry.source(), encoding="utf-8")
    return target
