"""`pitstop hyperparameters generate | check`: hyperparameters.json with DRfC's defaults,
checked against the console's ranges. A thin layer over ``pitstop.action_space``."""

from __future__ import annotations

import argparse
import json
import sys

from pitstop.cli.common import Sub, command, group, opt, out_file, read_input
from pitstop.cli.output import show


def _hp_generate(args: argparse.Namespace) -> int:
    from pitstop.action_space.hyperparameter_options import hyperparameters_with
    from pitstop.action_space.hyperparameter_specs import SPECS
    from pitstop.action_space.io import write_text

    doc = hyperparameters_with({s.key: getattr(args, s.key) for s in SPECS})
    text = json.dumps(doc, indent=4) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    write_text(str(out_file(args.out)), text)
    show(args, {"out": args.out, "hyperparameters": doc}, f"wrote {args.out}")
    return 0


def _hp_check(args: argparse.Namespace) -> int:
    from pitstop.action_space.hyperparameters import check_hyperparameters, hyperparameter_warnings
    from pitstop.action_space.io import loads_json

    text, source = read_input(args.file)
    doc = loads_json(text, source)
    problems, warnings = check_hyperparameters(doc), hyperparameter_warnings(doc)

    def human() -> None:
        for line in problems:
            print(f"{source}: {line}")
        for line in warnings:
            print(f"{source}: warning: {line}", file=sys.stderr)
        if not problems:
            print(f"{source}: valid")

    show(
        args,
        {"file": source, "valid": not problems, "problems": problems, "warnings": warnings},
        human,
    )
    return 1 if problems else 0


def register(sub: Sub) -> None:
    """Add the ``hyperparameters`` group to the top-level parser."""
    from pitstop.action_space.hyperparameter_options import allowed
    from pitstop.action_space.hyperparameter_specs import SPECS

    hs = group(
        sub, "hyperparameters", "generate and check hyperparameters.json",
        "hyperparameters.json with DRfC's defaults and the console's ranges.", dest="hp_command",
    )  # fmt: skip
    keys = [
        opt(f"--{s.key.replace('_', '-')}", dest=s.key, type=s.kind, metavar="V",
            help=f"{s.help} ({allowed(s)}; default {s.default!r})")
        for s in SPECS
    ]  # fmt: skip
    command(
        hs, "generate", _hp_generate,
        "print (or --out) hyperparameters.json: DRfC's defaults, overridden by options",
        "DRfC's default hyperparameters.json; each --KEY overrides one value, checked against "
        "the console's ranges.",
        [*keys, opt("--out", metavar="FILE", help="write here instead of printing JSON")], settings=False,
        epilog="example: pitstop hyperparameters generate --lr 0.0001 --batch-size 128 "
        "--out hyperparameters.json",
    )  # fmt: skip
    command(
        hs, "check", _hp_check, "check hyperparameters.json (exit 0 valid, 1 invalid)",
        "One line per problem, naming its key; unknown keys are warnings.",
        [opt("file", metavar="FILE", help="hyperparameters.json ('-' for standard input)")], settings=False,
    )  # fmt: skip
