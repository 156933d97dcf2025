"""Options and helpers shared by the command modules.

A command is declared with :func:`command` and a list of :func:`opt` rows (table-driven:
one row per option, in ``--help`` order); the settings flags (``--config``, ``--bucket``)
and ``--json`` are added after them unless the command says otherwise (``**AS_LISTED``:
the rows place :data:`SETTINGS` and :data:`JSON` themselves). Option tables and command
declarations keep one row per line (``# fmt: skip``), so a table reads as one.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from pitstop.config import Settings, load_settings
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store

Option = tuple[tuple[str, ...], dict[str, Any]]
T = TypeVar("T")
if TYPE_CHECKING:  # generic only to the type checker
    Sub: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Sub = argparse._SubParsersAction


def opt(*flags: str, **kwargs: Any) -> Option:
    """One row of a command's option table: ``add_argument``'s arguments."""
    return flags, kwargs


FLAG = {"action": "store_true"}  # opt("--x", **FLAG, help=...)


def command(
    sub: Sub,
    name: str,
    func: Callable[[Any], int] | None,
    help: str,
    description: str,
    options: Iterable[Option] = (),
    *,
    settings: bool = True,
    json: bool = True,
    **parser_kwargs: Any,
) -> argparse.ArgumentParser:
    """Add command ``name`` with its options (then the settings flags and ``--json``)."""
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description, **parser_kwargs
    )
    add_options(p, options)
    if settings:
        add_options(p, SETTINGS)
    if json:
        add_options(p, [JSON])
    if func is not None:
        p.set_defaults(func=func)
    return p


def one_of(*options: Option) -> Option:
    """Rows of which at most one may be given (argparse's mutually exclusive group)."""
    return (), {"one_of": options}


def add_options(p: Any, options: Iterable[Option]) -> None:
    from pitstop.cli.completers import attach

    for flags, kwargs in options:
        if flags:
            attach(p.add_argument(*flags, **kwargs), flags, kwargs)
        else:
            add_options(p.add_mutually_exclusive_group(), kwargs["one_of"])


def group(sub: Sub, name: str, help: str, description: str, dest: str) -> Sub:
    """A command group (``pitstop fleet ...``): a bare group prints its help (exit 2)."""
    p = sub.add_parser(name, help=help, description=description)
    p.set_defaults(group_parser=p)
    cmds: Sub = p.add_subparsers(dest=dest, metavar="COMMAND", parser_class=type(p))
    return cmds


def commands_of(sub: Sub, name: str) -> Sub:
    """The sub-command table of group ``name`` (for a module that adds commands to it)."""
    parser = sub.choices[name]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def positive(kind: type, what: str, minimum: float = 0, maximum: float | None = None) -> Any:
    """An argparse ``type`` for a number of ``kind`` that is at least ``minimum`` (and with
    ``maximum``, at most that: NaN and infinity refused)."""

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if maximum is not None and not minimum <= v <= maximum:  # False for NaN
            raise argparse.ArgumentTypeError(
                f"{what} must be between {minimum:g} and {maximum:g}, got {text}"
            )
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum}, got {text}")
        return v

    return parse


def numbers(shape: str, sep: str, count: int | None = None) -> Callable[[str], Any]:
    """An argparse ``type`` for numbers joined by ``sep``: ``count`` of them as a tuple
    (``15:2.5``), or any number as a list (``-30,0,30``); ``shape`` names them in errors."""

    def parse(text: str) -> Any:
        try:
            values = [float(x) for x in text.split(sep) if count or x.strip()]
            if count is not None and len(values) != count:
                raise ValueError
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {shape}, got {text!r}") from None
        return tuple(values) if count else values

    return parse


SETTINGS = [
    opt("--config", metavar="FILE", help="settings file (default: $PITSTOP_CONFIG, else /etc/pitstop/pitstop.toml if present); PITSTOP_* environment variables override it"),
    opt("--bucket", help="S3 bucket (overrides the settings file)"),
]  # fmt: skip
JSON = opt("--json", **FLAG, help="print one JSON document")
AS_LISTED: dict[str, Any] = {
    "settings": False,
    "json": False,
}  # command(..., **AS_LISTED): the rows say where


AWS_OPTIONS = [
    opt("--name", default="pitstop", help="fleet name: launch template, group and tags (default: pitstop)"),
    opt("--endpoint-url", metavar="URL", help="AWS endpoint for EC2/Auto Scaling/IAM/SSM (tests, LocalStack)"),
]  # fmt: skip


def fleet_from(args: Any, settings: Settings | None = None) -> Any:
    """The fleet named by ``--name``, through ``--endpoint-url`` when given."""
    from pitstop.fleet.options import open_fleet

    settings = settings_from(args) if settings is None else settings
    return open_fleet(settings.region, args.name, args.endpoint_url)


def read_input(path: str) -> tuple[str, str]:
    """(text, source name) of a user's file, or of standard input for '-'."""
    import sys

    from pitstop.action_space.io import read_text

    if path == "-":
        return sys.stdin.read(), "<stdin>"
    return read_text(path), path


def out_file(path: str, option: str = "--out") -> Path:
    """``path`` as a file this command can write, checked before any work is done: not a
    folder, in a folder that exists (a file in the way is named) and takes a new file.
    ``UsageError`` naming ``option`` otherwise, so nothing is half-written."""
    from pitstop.errors import UsageError

    out = Path(path)
    parent = out.parent
    if out.is_dir():
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    if not parent.is_dir():
        if parent.exists():
            raise UsageError(f"{option} {path}: {parent} is a file, not a directory")
        raise UsageError(f"{option} {path}: no such directory {parent}")
    _takes_files(parent, option, path)
    return out


def out_dir(path: str, option: str = "--out", *, empty: bool = False) -> Path:
    """``path`` as a folder this command can write into, checked before any work is done
    (a tune or a sweep runs for hours before it writes): a directory or a new one whose
    nearest existing parent is a directory that takes new files; with ``empty``, nothing in
    it yet. ``UsageError`` naming ``option`` otherwise; the folder itself is not created."""
    from pitstop.errors import UsageError

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {path}: is a file, not a directory")
    if empty and out.is_dir() and any(out.iterdir()):
        raise UsageError(f"{option} {path}: not empty; give a new directory")
    base = out if out.is_dir() else out.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise UsageError(f"{option} {path}: {base} is a file, not a directory")
    _takes_files(base, option, path)
    return out


def _takes_files(folder: Path, option: str, path: str) -> None:
    """A probe file made and removed in ``folder``; ``UsageError`` naming ``option`` when
    the folder refuses it (read-only, no permission)."""
    import tempfile

    from pitstop.errors import UsageError

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".pitstop.", suffix=".probe"):
            pass
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot write in {folder}: {e.strerror}") from None


def settings_from(args: Any, **overrides: Any) -> Settings:
    return load_settings(
        getattr(args, "config", None),
        flags=True,
        bucket=getattr(args, "bucket", None),
        **overrides,
    )


def job_store(settings: Settings) -> JobStore:
    return JobStore(S3Store.from_settings(settings), Layout(settings.prefix))


def jobs_from(args: Any) -> JobStore:
    """The job store of the settings the command was given."""
    return job_store(settings_from(args))


def from_args(cls: type[T], args: Any, **extra: Any) -> T:
    """``cls`` (a dataclass) from the parsed values named like its fields: the ones given
    (None: the field's default), lists as tuples; ``extra`` for the others."""
    given = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}
    return cls(**kwargs, **extra)


def values(args: Any, names: Sequence[str]) -> dict[str, Any]:
    """The parsed values of ``names`` (argparse dests), to pass on as keyword arguments."""
    return {n: getattr(args, n) for n in names}
