"""Entry point of the ``pitstop`` command.

Each command group lives in its own module under ``pitstop.cli`` and exposes
``register(subparsers)``, which adds its parsers and sets ``func`` (a handler taking the
parsed namespace and returning an exit code). Handlers import heavy libraries lazily so
``pitstop --help`` stays fast.

Errors are caught here and only here: a ``PitstopError`` becomes one line on stderr and
its exit code (2 bad usage or input, 1 a failed check or operation); Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pitstop import __version__
from pitstop.errors import PitstopError

# Command-group modules, in the order ``--help`` lists them.
GROUPS = (
    "jobs",
    "supervise",
    "demo",
    "action_space",
    "reward",
    "image",
    "fleet",
    "simulate",
    "doctor",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in the same one-line shape as everything else."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pitstop",
        description=(
            "Keep AWS DeepRacer training running on GPU spot instances. Stalls, crashes and "
            "spot interruptions become short pit stops: stop cleanly, resume from the last "
            "checkpoint, carry on."
        ),
        epilog="Run 'pitstop COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"pitstop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in GROUPS:
        module = importlib.import_module(f"pitstop.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        # a bare group (``pitstop reward``) prints that group's help
        target = getattr(args, "group_parser", parser)
        target.print_help()
        return 2 if args.command is None else 0
    try:
        return int(func(args))
    except PitstopError as e:
        print(f"pitstop: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("pitstop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `pitstop jobs | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
