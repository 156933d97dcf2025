# PYTHON_ARGCOMPLETE_OK
"""Entry point of the ``pitstop`` command.

Each command group lives in its own module under ``pitstop.cli`` and exposes
``register(subparsers)``, which adds its parsers and sets ``func`` (a handler taking the
parsed namespace and returning an exit code). A command module parses options, calls one
function of a package and prints through ``pitstop.cli.output``; handlers import heavy
libraries lazily so ``pitstop --help`` and shell completion stay fast.

The library is argparse (standard, no dependency, already what every test drives through
``main([...])``), with argcomplete for bash/zsh/fish completion (``pitstop completion``).

Errors are caught here and only here: a ``PitstopError`` becomes one line on stderr and
its exit code (2 bad usage or input, 1 a failed check or operation); so do the errors a
newcomer's setup causes before any adapter can wrap them (``cli.failures``: AWS credentials
or profile, a file that cannot be written); Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from pitstop import __version__
from pitstop.errors import PitstopError

# Command-group modules, in the order ``--help`` lists them.
GROUPS = ("jobs", "evaluate", "worlds", "logs", "status", "report", "serve", "supervise", "demo",
          "action_space", "hyperparameters", "reward", "image", "fleet",
          "ssh",  # adds ``fleet ssh | exec`` to the fleet group
          "simulate", "plan", "sweep", "doctor", "completion")  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in the same one-line shape as everything else."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Unknown arguments are refused by the (sub)command that was given them, so the
        error shows that command's usage (``pitstop demo: error: ...``), not the top level's."""
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every parser below it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _parsers(child)


def _required_options_first(parser: argparse.ArgumentParser) -> None:
    """``--help`` lists required options apart, as "required options", before the others."""
    required = [a for a in parser._actions if a.option_strings and a.required]
    if not required:
        return
    group = parser.add_argument_group("required options")
    for action in required:
        for g in parser._action_groups:
            if action in g._group_actions and g is not group:
                g._group_actions.remove(action)
        group._group_actions.append(action)
    parser._action_groups.remove(group)
    parser._action_groups.insert(1, group)  # after the positionals


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pitstop",
        description=(
            "Keep AWS DeepRacer training running on GPU spot instances. Stalls, crashes and "
            "spot interruptions become short pit stops: stop cleanly, resume from the last "
            "checkpoint, carry on."
        ),
        epilog="Run 'pitstop COMMAND --help' for the options of one command; "
        "'pitstop completion bash|zsh|fish' for shell completion.",
    )
    parser.add_argument("--version", action="version", version=f"pitstop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in GROUPS:
        module = importlib.import_module(f"pitstop.cli.{name}")
        module.register(sub)
    for p in _parsers(parser):
        _required_options_first(p)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; for a command that runs a remote command (``fleet ssh|exec``),
    everything after the first ``--`` is that command, options included."""
    from pitstop.cli.ssh import REMOTE_COMMANDS

    if "--" in argv and tuple(argv[:2]) in REMOTE_COMMANDS:
        cut = argv.index("--")
        args = parser.parse_args(argv[:cut])
        args.remote_command = argv[cut + 1 :]
        return args
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _complete(parser)
    args = _parse(parser, list(sys.argv[1:] if argv is None else argv))
    func = getattr(args, "func", None)
    if func is None:
        # a bare group (``pitstop reward``) prints that group's help and is bad usage, as a
        # bare ``pitstop`` is
        getattr(args, "group_parser", parser).print_help()
        return 2
    import logging

    from pitstop import logs
    from pitstop.cli import failures

    # commands print their results on stdout; log lines (warnings up) go to stderr, never into
    # a --json document. ``pitstop supervise`` configures its own logging.
    logs.configure("console", level=logging.WARNING)
    try:
        return int(func(args))
    except PitstopError as e:
        print(f"pitstop: error: {failures.with_source(e, args)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("pitstop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `pitstop jobs | head`
        return 0
    except Exception as e:
        known = failures.one_line(e)
        if known is None:
            raise
        print(f"pitstop: error: {known[0]}", file=sys.stderr)
        return known[1]


def _complete(parser: argparse.ArgumentParser) -> None:
    """Answer a shell's completion request (argcomplete sets ``_ARGCOMPLETE``) and exit."""
    import os

    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:  # pragma: no cover - a runtime dependency
        return
    argcomplete.autocomplete(parser)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
